"""Model cards and Hub upload for trained SEP / fine-tuned models."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
from huggingface_hub import ModelCard, ModelCardData

from samrs_hf.checkpoints import on_hub, public_name, upload_failure_line
from samrs_hf.training.image_processing import SepImageProcessor
from samrs_hf.training.modeling import SepModel


def _scores_table(scores: dict[str, float]) -> str:
    rows = "\n".join(f"| {name} | {value:.2f} |" for name, value in scores.items())
    return f"| metric | value |\n|---|---|\n{rows}" if scores else "No evaluation was run."


def save_model(model: SepModel, folder: str | Path, crop_size: int) -> None:
    """``save_pretrained`` of ``model`` and of its image processor (``preprocessor_config.json``: the
    normalisation, and ``crop_size``, the training crop, as the size used when resizing is asked for)."""
    model.save_pretrained(folder)
    SepImageProcessor(size={"height": crop_size, "width": crop_size}).save_pretrained(folder)


def model_card(
    model: SepModel,
    dataset: str,
    recipe: dict,
    scores: dict[str, float],
    repo_id: str = "PATH_OR_ID",
    base_model: str | None = None,
) -> ModelCard:
    """A card naming the architecture, heads, training recipe (and ``base_model``, the model fine-tuning
    started from), evaluation scores, and how to load and run the model. Local paths appear by their
    folder names only."""
    config = model.config
    processor = SepImageProcessor()
    data = ModelCardData(
        library_name="transformers",
        pipeline_tag="image-segmentation",
        datasets=[dataset] if on_hub(dataset) else None,
        base_model=base_model if base_model and on_hub(base_model) else None,
        tags=["remote-sensing", "semantic-segmentation", "samrs", config.decoder],
    )
    heads = "\n".join(f"- `{name}`: {len(names)} classes ({', '.join(names)})" for name, names in config.heads.items())
    settings = "\n".join(f"- {key}: `{value}`" for key, value in recipe.items())
    start = f"Fine-tuned from {public_name(base_model)}.\n\n" if base_model else ""
    head = config.default_head
    body = f"""
# {config.backbone_config.model_type} + {config.decoder} segmentation model (SAMRS)

A `{config.backbone_config.model_type}` backbone, the `{config.decoder}` decoder and one 1x1-conv head per
dataset, trained with samrs-hf following SAMRS (Wang et al., NeurIPS 2023 D&B), Sec. 4.

## Heads

{heads}

The default head is `{head}` (`config.id2label` holds its classes).

## Training

{start}Data: {public_name(dataset)}.

{settings}

## Evaluation

{_scores_table(scores)}

## Use

The model's code travels with it (`modeling.py`, `backbones.py`, `decoders.py`, `image_processing.py`),
so only `torch` and `transformers` are needed:

```python
from transformers import pipeline

segmenter = pipeline("image-segmentation", model="{repo_id}", trust_remote_code=True,
                     model_kwargs={{"default_head": "{head}"}})  # the head to use: {", ".join(config.heads)}
for segment in segmenter("tile.png"):
    print(segment["label"], segment["mask"])  # a class name and its pixels (a PIL mask)
```

transformers logs that the model "is not supported for image-segmentation" (it checks its own list of
models); the pipeline works all the same. Input pixels are RGB at their own resolution, scaled to [0, 1]
and normalised with mean {tuple(processor.image_mean)} and std {tuple(processor.image_std)}
(`preprocessor_config.json`, loaded by `AutoImageProcessor.from_pretrained("{repo_id}", trust_remote_code=True)`).
Logits come back at the input size, one channel per class of the head:

```python
from transformers import AutoImageProcessor, AutoModel

processor = AutoImageProcessor.from_pretrained("{repo_id}", trust_remote_code=True)
model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True)
outputs = model(**processor(images, return_tensors="pt"), head="{head}")  # images of one size
maps = processor.post_process_semantic_segmentation(outputs)  # per image: (height, width) class indices
```

With samrs-hf installed, its own classes load the model, no remote code run:

```python
import samrs_hf.training  # registers SepModel with AutoModel
from transformers import AutoModel

model = AutoModel.from_pretrained("{repo_id}")
```
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def push_folder(folder: str | Path, repo_id: str, commit_message: str = "Upload SAMRS segmentation model") -> str:
    """Create ``repo_id`` (if needed) and upload the files at the top of ``folder`` (the model, its code,
    processor and card; not ``checkpoints/`` or tracker logs, which hold local paths); returns the commit URL."""
    files = sorted(path.name for path in Path(folder).iterdir() if path.is_file())
    retry = f"upload it later with `hf upload {repo_id} {folder} --exclude '*/*'`"
    with upload_failure_line(folder, repo_id, retry):
        huggingface_hub.create_repo(repo_id, exist_ok=True)
        info = huggingface_hub.upload_folder(
            repo_id=repo_id, folder_path=str(folder), commit_message=commit_message, allow_patterns=files
        )
    return str(info)
