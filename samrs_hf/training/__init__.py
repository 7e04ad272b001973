"""Segmentation pre-training (SEP) on SAMRS and fine-tuning: models, data, Accelerate loops.

modeling.py   :class:`SepModel` (backbone + decoder + one head per subset), a transformers model
image_processing.py  :class:`SepImageProcessor`, saved with each model (normalisation, post-processing)
backbones.py  backbone configs, the ViT pyramid and ImageNet weights;  decoders.py  UperNet and the paper's UNet
sampling.py   proportional per-subset batches;  augment.py  the official augmentations
data.py       samples from SAMRS folders and fine-tuning scenes, per-step batches
streaming.py  ``--streaming``: SAMRS configs as streams, split per process and worker, exact resume
cache.py      the decoded training cache: memory-mapped uint8 arrays, checked when opened and per tile
cache_writer.py  ``samrs prepare-training``: writes the cache (replaces only caches, free space first)
arguments.py  the flags both loops share;  loop.py  the Accelerate loop;  pretrain.py / finetune.py  the two recipes
publish.py    model cards, saving and pushing
finetune_datasets.py  ISPRS Potsdam and iSAID scenes and labels, in their released formats
checks.py     up-front checks of the training options (``samrs_hf.cli.training_runner`` prints their one line)

Importing this package registers ``SepConfig`` / ``SepModel`` / ``SepImageProcessor`` with transformers' Auto
classes (their public ``register``), so ``AutoModel.from_pretrained`` and ``AutoImageProcessor.from_pretrained``
then load SEP models with this package's code (no ``trust_remote_code``).
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForSemanticSegmentation

from samrs_hf._lazy import lazy_exports
from samrs_hf.training.image_processing import SepImageProcessor
from samrs_hf.training.modeling import SepConfig, SepModel

AutoConfig.register(SepConfig.model_type, SepConfig, exist_ok=True)
AutoModel.register(SepConfig, SepModel, exist_ok=True)
AutoModelForSemanticSegmentation.register(SepConfig, SepModel, exist_ok=True)
AutoImageProcessor.register(SepConfig, image_processor_classes={"pil": SepImageProcessor}, exist_ok=True)

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "modeling": ["SepConfig", "SepModel", "SepOutput", "build_sep_model", "segmentation_loss"],
        "sampling": ["proportional_batch_sizes"],
        "pretrain": ["SepArguments", "pretrain"],
        "finetune": ["FinetuneArguments", "finetune"],
    },
)
