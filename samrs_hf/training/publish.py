"""Model cards and Hub upload for trained SEP / fine-tuned models."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
from huggingface_hub import ModelCard, ModelCardData

from samrs_hf.training.modeling import SepModel


def _scores_table(scores: dict[str, float]) -> str:
    rows = "\n".join(f"| {name} | {value:.2f} |" for name, value in scores.items())
    return f"| metric | value |\n|---|---|\n{rows}" if scores else "No evaluation was run."


def model_card(
    model: SepModel, dataset: str, recipe: dict, scores: dict[str, float], repo_id: str = "PATH_OR_ID"
) -> ModelCard:
    """A card naming the architecture, heads, training recipe and evaluation scores, and the two ways to
    load the model (its own code with ``trust_remote_code=True``, or samrs-hf's classes)."""
    config = model.config
    hub_dataset = None if Path(dataset).exists() else [dataset]  # a local folder is no Hub id
    data = ModelCardData(
        library_name="transformers",
        pipeline_tag="image-segmentation",
        datasets=hub_dataset,
        tags=["remote-sensing", "semantic-segmentation", "samrs", config.decoder],
    )
    heads = "\n".join(f"- `{name}`: {len(names)} classes ({', '.join(names)})" for name, names in config.heads.items())
    settings = "\n".join(f"- {key}: `{value}`" for key, value in recipe.items())
    body = f"""
# {config.backbone_config.model_type} + {config.decoder} segmentation model (SAMRS)

A `{config.backbone_config.model_type}` backbone, the `{config.decoder}` decoder and one 1x1-conv head per
dataset, trained with samrs-hf following SAMRS (Wang et al., NeurIPS 2023 D&B), Sec. 4.

## Heads

{heads}

## Training

Data: `{dataset}`.

{settings}

## Evaluation

{_scores_table(scores)}

## Use

The model's code travels with it (`modeling.py`, `backbones.py`, `decoders.py`), so only `torch` and
`transformers` are needed:

```python
from transformers import AutoModel

model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)
logits = model(pixel_values, head="{next(iter(config.heads))}").logits  # ImageNet-normalised RGB input
```

With samrs-hf installed, its own classes load the model, no remote code run:

```python
import samrs_hf  # registers SepModel with AutoModel
from transformers import AutoModel

model = AutoModel.from_pretrained("{repo_id}")
```

Logits come back at the input size, one channel per class of the head.
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def push_folder(folder: str | Path, repo_id: str, commit_message: str = "Upload SAMRS segmentation model") -> str:
    """Create ``repo_id`` (if needed) and upload ``folder`` without its ``checkpoints/``; returns the commit URL."""
    huggingface_hub.create_repo(repo_id, exist_ok=True)
    info = huggingface_hub.upload_folder(
        repo_id=repo_id, folder_path=str(folder), commit_message=commit_message, ignore_patterns=["checkpoints/*"]
    )
    return str(info)
