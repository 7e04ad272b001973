"""Tuning SAM, SAM-HQ and SAM 2 on true masks (``samrs train-sam``).

sources.py     images with true instance masks: synthetic scenes, COCO instance files, HRSC2016,
               regions of segmentation labels (Potsdam, iSAID)
prepare.py     true masks on the decoder's grid; the embedding cache (memory, then disk)
prompts.py     the paper's prompt kinds from jittered boxes, as SAM was trained
losses.py      SAM's loss: focal + dice (20:1) and MSE on the predicted IoU
evaluation.py  mIoU_I / mIoU_P through the labeler, before, during and after training
trainer.py     the Accelerate loop (:func:`train_sam`), checkpoints with exact resume
card.py        the tuned model's card

The small SAM shipped in the package (``samrs_hf.models``, the offline default of ``samrs demo``) was trained
with it.
"""

from samrs_hf._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "sources": ["CocoMasks", "HrscMasks", "MaskSource", "MaskedImage", "SyntheticMasks", "open_mask_source"],
        "trainer": ["SamTuner", "TrainSamArguments", "train_sam"],
    },
)
