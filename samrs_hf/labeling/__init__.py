"""Labelling stage: tile scenes, turn objects into SAM prompts, label them with SAM, paint label maps.

tiling.py      scenes -> tiles with their objects clipped (:func:`tile_scene`)
transforms.py  SAM's input frame: resize, pad, points, boxes, mask prompts, mask upscaling
prompts.py     the paper's prompt kinds -> model inputs (:func:`build_prompts`)
labeler.py     :class:`SamLabeler`: one encoding per image, chunked decoding, :class:`LabeledObject`
maps.py        labelled objects -> semantic map + instance records (:class:`LabelMapBuilder`)
"""

from samrs_hf._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "tiling": ["Tile", "TilingSpec", "tile_scene"],
        "transforms": ["MaskWindow", "SamFrame"],
        "backends": ["load_backend"],
        "prompts": ["KINDS", "PromptSpec", "SamPrompts", "build_prompts", "mask_prompt"],
        "labeler": ["Decoding", "ImageEncoding", "LabeledObject", "ModelNotAvailableError", "SamLabeler", "parse_row"],
        "maps": ["InstanceRecord", "LabelMapBuilder", "encode_rle"],
    },
)
