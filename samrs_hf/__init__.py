"""samrs-hf: remote-sensing segmentation datasets from detection boxes with SAM (SAMRS),
packaged as Hugging Face datasets, and segmentation pre-training on them."""

__version__ = "0.1.0"
