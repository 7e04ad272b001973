"""Segmentation pre-training (SEP) on SAMRS and fine-tuning: models, data, Accelerate loops."""

from samrs_hf.training.modeling import SepConfig, SepModel, SepOutput, build_sep_model, segmentation_loss
from samrs_hf.training.sampling import PAPER_SUBSET_SIZES, proportional_batch_sizes

__all__ = [
    "SepConfig",
    "SepModel",
    "SepOutput",
    "build_sep_model",
    "segmentation_loss",
    "PAPER_SUBSET_SIZES",
    "proportional_batch_sizes",
]
