"""Segmentation pre-training (SEP) on SAMRS and fine-tuning: models, data, Accelerate loops.

modeling.py   :class:`SepModel` (backbone + decoder + one head per subset), a transformers model
backbones.py  backbone configs and ImageNet weights;  decoders.py  UperNet and the paper's UNet
sampling.py   proportional per-subset batches;  augment.py  the official augmentations
data.py       samples from SAMRS folders and fine-tuning scenes, per-step batches
loop.py       the Accelerate loop;  pretrain.py / finetune.py  the two recipes;  publish.py  cards
"""

from samrs_hf._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "modeling": ["SepConfig", "SepModel", "SepOutput", "build_sep_model", "segmentation_loss"],
        "sampling": ["proportional_batch_sizes"],
        "pretrain": ["SepArguments", "pretrain"],
        "finetune": ["FinetuneArguments", "finetune"],
    },
)
