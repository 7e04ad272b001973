"""samrs-hf: remote-sensing segmentation datasets from detection boxes with SAM (SAMRS),
packaged as Hugging Face datasets, and segmentation pre-training on them.

``import samrs_hf.training`` registers the SEP model with transformers' Auto classes, so
``AutoModel.from_pretrained`` then loads saved SEP models with this package's code, without
``trust_remote_code``.
"""

__version__ = "0.1.0"
