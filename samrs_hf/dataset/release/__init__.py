"""The authors' SAMRS release on disk: read it (safely) into SAMRS rows, and write SAMRS rows back in its layout.

Layout of one subset of the release (ViTAE-Transformer/SAMRS, ``Generate Dataset/main_sam_{hbox,rhbox}_semantic.py``
and ``main_pretrain.py``)::

    ROOT/images/NAME.png                     image (SOTA, FAST); SIOR: ROOT/JPEGImages-trainval/NAME.jpg
    ROOT/{hbox|rhbox}_segs*/gray/NAME.png    mode-L PNG, class index in release order, 255 = no mask
    ROOT/{hbox|rhbox}_segs*/color/NAME.png   the same map in RGB (:data:`RELEASE_PALETTE`, 255 white)
    ROOT/{hbox|rhbox}_segs*/ins/NAME.pkl     pickled list of instance dicts, in painting order
    ROOT/train.txt, ROOT/valid.txt           one NAME per line: the ``train`` / ``validation`` splits

An instance dict: ``mask`` = COCO RLE ``{'size': [h, w], 'counts': str}``; ``category`` = class name
(early pkls: the index, and no ``label``); ``label`` = release index (int); ``size`` = mask area
(numpy int); SOTA/SIOR ``bbox`` = the H-Box prompt, numpy float ``[x1, y1, x2, y2]`` (float64 for
SOTA, float32 for SIOR, as the official readers build them); FAST ``rhbox`` = the prompt (numpy float64
``[x1, y1, x2, y2]``) and ``rbox`` = the R-Box as its four corners, numpy float64 ``(4, 2)`` (the
``x1 y1 ... x4 y4`` of the rotated-box text files). The semantic map is painted in list order, so
a later instance overwrites an earlier one where they overlap.

Import (:func:`import_release`) writes rows of the ``samrs build`` schema through
:class:`~samrs_hf.dataset.writer.SubsetWriter`, so loading, stats, viz, COCO export and SEP work unchanged:

* ``image``: the file's bytes when it is an RGB PNG or JPEG, else re-encoded as PNG; ``semantic_map``:
  the ``gray/`` PNG byte for byte (never repainted); ``source``: the image path relative to ROOT;
  ``tile``: ``[0, 0]`` (each release image is a tile; its name carries the origin where there is one);
  both from ``ROOT/samrs_tiles.json`` instead when an export wrote one.
* ``objects``: ``segmentation`` = the release RLE as is (``counts`` as str); ``prompt_box`` = ``bbox`` /
  ``rhbox``; ``bbox`` = the prompt box in COCO order, or the ``box_xywh`` an export adds (the
  object's own box, which the release does not keep); ``rbox`` (FAST) =
  :func:`~samrs_hf.geometry.polygon_to_rbox` of the corners, ``[cx, cy, w, h, angle_rad]``;
  ``area`` = ``size``, checked against the RLE; ``score`` = NaN: the release records no SAM score.
* Tiles listed without a pkl get no instances (counted); pickles are read by :class:`SafeUnpickler`,
  records checked within bounds (:mod:`~samrs_hf.dataset.release.instances`); every file is checked
  before it is opened: inside ``--root`` (or a folder given by an option), a regular file, not oversized.

Export (:func:`export_release`) writes a SAMRS folder's split(s) back in this layout, with the
release's keys and types (pickle protocol 4, as the official code's Python 3.8 wrote; under numpy 2
the pickles name ``numpy._core``, which numpy >= 1.26 reads) and the official ``color/`` palette.
Each instance also gets ``box_xywh``, the row's ``bbox`` (clipped at a tile edge, an object's box is
not its prompt's), and ``samrs_tiles.json`` keeps each tile's ``source`` and ``tile``.
``import_release(export_release(x))`` gives ``x`` back row by row: image bytes, semantic map, source,
tile, RLEs, boxes, prompt boxes, categories and areas; FAST's ``rbox`` as the same rectangle (its
``(w, h, angle)`` may come back as ``(h, w, angle +- pi/2)``); ``score`` becomes NaN and SOTA/SIOR rows
lose any ``rbox`` (their release keeps none).

    format.py     the layout and file formats, the palette, the bounds, ``find_layout``
    files.py      reading untrusted files (regular, bounded, non-blocking), ``ReleaseFileError``
    pickles.py    :class:`SafeUnpickler`, ``load_pickle``; pickle_globals.py  the globals it admits (stand-ins)
    instances.py  instance dicts <-> SAMRS objects
    importer.py   :func:`import_release`;  exporter.py  :func:`export_release`
"""

from samrs_hf._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "format": [
            "RELEASE_PALETTE",
            "RELEASE_SOURCE",
            "ReleaseLayout",
            "find_layout",
        ],
        "files": ["ReleaseFileError", "read_regular_file"],
        "pickles": ["SafeUnpickler", "UnsafePickleError", "load_pickle"],
        "instances": ["release_instances", "release_objects"],
        "importer": ["ImportOptions", "ImportSummary", "import_release"],
        "exporter": ["ExportSummary", "export_release"],
    },
)
