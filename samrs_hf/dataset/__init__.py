"""Dataset stage: SAMRS subsets as Hugging Face datasets (Parquet shards + card), and what reads them.

subsets.py   the paper's recipe per subset: source, splits, tiling, prompt, release classes and format, card text
schema.py    the ``datasets`` features and the assembly of one row per labelled tile
shards.py    Parquet shards committed atomically with page checksums, and what a resumed build needs from them
card.py      the dataset card: YAML ``configs:`` / ``dataset_info`` and the prose
folder.py    what counts as a SAMRS folder (``--out`` never writes over someone else's files), and
             :func:`load_subset`, the one way to open one for reading (damage is one error naming the file)
atomic.py    :func:`write_atomic`: a file replaced whole or not at all
writer.py    :class:`SubsetWriter`: settings, resume, a writer thread, staged shards, publish + card
job.py       :class:`SubsetJob`: the resumable job build and import share (lock, plan, resume, processes)
lock.py      one run at a time per subset folder (``flock``, released when its process dies)
build.py     :func:`build_subset`: options checked, reader -> tiles -> SAM -> rows -> shards -> card
release/     the authors' SAMRS release in and out (:func:`import_release`, :func:`export_release`)
compare.py   agreement of two SAMRS folders of one subset (:func:`compare_folders`)
hub.py       :func:`push_dataset` to the Hub
coco.py      COCO instances export;  stats.py  the paper's Figs. 5-6;  viz.py  overlays (Fig. 4)
"""

from samrs_hf._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "subsets": ["SUBSETS", "ReleaseFormat", "SubsetRecipe", "get_subset"],
        "schema": ["samrs_features"],
        "card": ["write_card"],
        "writer": ["SubsetWriter"],
        "build": ["BuildOptions", "BuildSummary", "build_subset"],
        "release": ["ImportOptions", "export_release", "import_release"],
        "compare": ["compare_folders"],
        "hub": ["push_dataset"],
        "coco": ["to_coco", "write_coco"],
        "stats": ["compute_stats", "save_stats"],
        "viz": ["OverlayPanel", "save_overlay_grid"],
    },
)
