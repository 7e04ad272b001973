"""Push a built SAMRS folder (shards + card) to a Hugging Face Hub dataset repo."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

__all__ = ["push_dataset"]


def push_dataset(dataset_dir: Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload ``dataset_dir`` (shards + README) to the dataset repo ``repo_id``; returns its URL.

    On the Hub a dataset needs a namespace: load it with ``load_dataset("ORG/NAME", "fast")``.
    """
    dataset_dir = Path(dataset_dir)
    if not (dataset_dir / "README.md").is_file():
        raise FileNotFoundError(f"{dataset_dir}/README.md not found: build the dataset first (samrs build)")
    if "/" not in repo_id:
        raise ValueError(f"repo id {repo_id!r} needs a namespace, e.g. ORG/{repo_id}")
    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(dataset_dir),
        repo_id=repo_id,
        repo_type="dataset",
        ignore_patterns=["*.parquet.tmp", ".*", "*/.incomplete/*"],
        commit_message="Upload SAMRS dataset",
    )
    return str(url)
