"""Push a built SAMRS folder (shards + card) to a Hugging Face Hub dataset repo.

Exactly the card and the files its ``configs:`` name are uploaded: not the hidden ``.build.json``
(it records local paths, for resuming), nor a running build's ``.incomplete/`` shards, nor anything
else in the folder.
"""

from __future__ import annotations

import glob
from pathlib import Path

from huggingface_hub import DatasetCard, HfApi

from samrs_hf.checkpoints import check_hub_upload, upload_failure_line
from samrs_hf.dataset.folder import is_samrs_card

__all__ = ["files_to_push", "push_dataset"]


def files_to_push(dataset_dir: Path) -> list[str]:
    """The paths (relative, POSIX) that make ``dataset_dir`` on the Hub: ``README.md`` and every file its
    configs' ``data_files`` patterns match, hidden ones left out; ``ValueError`` for any other folder."""
    dataset_dir = Path(dataset_dir)
    card = dataset_dir / "README.md"
    configs = DatasetCard.load(card).data.to_dict().get("configs") if is_samrs_card(card) else None
    if not isinstance(configs, list) or not configs:
        raise ValueError(
            f"{dataset_dir} is not a SAMRS dataset folder (it has no dataset card with configs written by "
            "samrs-hf); push a folder written by `samrs build` or `samrs import-release`"
        )
    patterns = [path for config in configs if isinstance(config, dict) for path in _data_paths(config)]
    files = {p.relative_to(dataset_dir).as_posix() for pattern in patterns for p in dataset_dir.glob(pattern)}
    data = sorted(f for f in files if not any(part.startswith(".") for part in f.split("/")))
    if not data:
        raise ValueError(f"{dataset_dir} holds no finished subset to push; build one first (samrs build)")
    return ["README.md", *data]


def _data_paths(config: dict) -> list[str]:
    """The path patterns of a card config's ``data_files`` (a string, a list, or split -> path entries)."""
    entries = config.get("data_files") or []
    entries = [entries] if isinstance(entries, str) else entries
    paths = [entry.get("path") if isinstance(entry, dict) else entry for entry in entries]
    return [p for path in paths for p in ([path] if isinstance(path, str) else path or []) if isinstance(p, str)]


def push_dataset(dataset_dir: Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload :func:`files_to_push` of ``dataset_dir`` to the dataset repo ``repo_id``; returns its URL.

    The folder, the Hub's answer and the token's right to write are checked before anything is sent.
    On the Hub a dataset needs a namespace: load it with ``load_dataset("ORG/NAME", "fast")``.
    """
    dataset_dir = Path(dataset_dir)
    files = files_to_push(dataset_dir)
    check_hub_upload(repo_id, "--repo-id", token)
    api = HfApi(token=token)
    with upload_failure_line(dataset_dir, repo_id, "rerun the same command to try again"):
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(dataset_dir),
            repo_id=repo_id,
            repo_type="dataset",
            allow_patterns=[glob.escape(name) for name in files],
            commit_message="Upload SAMRS dataset",
        )
    return str(url)
