"""samrs-hf: remote-sensing segmentation datasets from detection boxes with SAM (SAMRS),
packaged as Hugging Face datasets, and segmentation pre-training on them.

Importing it registers the SEP model with transformers' ``AutoConfig`` / ``AutoModel`` (as soon as
transformers is imported), so ``AutoModel.from_pretrained`` loads saved SEP models with this
package's code, without ``trust_remote_code``.
"""

from samrs_hf._auto_classes import register_sep_model, when_imported

__version__ = "0.1.0"

when_imported("transformers", register_sep_model)
