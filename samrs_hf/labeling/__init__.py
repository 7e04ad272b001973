"""Labelling stage: tile scenes, turn objects into SAM prompts, label them with SAM, paint label maps.

tiling.py       scenes -> tiles with their objects clipped (:func:`tile_scene`)
sam_frame.py    the model's input frame: resize, pad, points, boxes, mask prompts, masks brought back
mask_window.py  a mask kept as its window of the image, and its COCO RLE (:class:`MaskWindow`)
prompts.py      the paper's prompt kinds -> model inputs (:func:`build_prompts`)
backends.py     SAM, SAM-HQ and SAM 2 behind one interface: preprocess, encode, decode (:data:`BACKENDS`)
labeler.py      :class:`SamLabeler`: one encoding per image, chunked decoding, :class:`LabeledObject`
maps.py         labelled objects -> semantic map + instance records (:class:`LabelMapBuilder`)
"""

from samrs_hf._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "tiling": ["Tile", "TilingSpec", "tile_scene"],
        "sam_frame": ["SamFrame"],
        "mask_window": ["MaskWindow"],
        "backends": ["BACKENDS", "load_backend"],
        "prompts": ["KINDS", "PromptSpec", "SamPrompts", "build_prompts", "mask_prompt"],
        "labeler": ["Decoding", "ImageEncoding", "LabeledObject", "ModelNotAvailableError", "SamLabeler", "parse_row"],
        "maps": ["InstanceRecord", "LabelMapBuilder"],
    },
)
