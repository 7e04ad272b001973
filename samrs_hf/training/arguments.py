"""The flags that pre-training and fine-tuning share, as a dataclass (``HfArgumentParser`` turns it into flags)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["LoopArguments"]


@dataclass
class LoopArguments:
    """Options shared by pre-training and fine-tuning (``HfArgumentParser`` turns them into flags)."""

    output_dir: str = field(default="sep-output", metadata={"help": "final model, card and checkpoints/"})
    batch_size: int = field(
        default=96,
        metadata={
            "help": "global batch per optimisation step, split over processes x accumulation steps "
            "(UperNet's pyramid pooling needs at least 2 samples per micro-batch)"
        },
    )
    max_steps: int = field(default=80_000, metadata={"help": "optimisation steps"})
    crop_size: int = field(default=224, metadata={"help": "random (train) / centre (eval) crop size"})
    learning_rate: float | None = field(
        default=None, metadata={"help": "peak learning rate (default: 1e-3 x batch_size / 96)"}
    )
    min_learning_rate: float = field(default=5e-6, metadata={"help": "end of the cosine schedule"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW's weight decay"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "micro-batches per optimisation step"})
    mixed_precision: str | None = field(default=None, metadata={"help": "no, fp16 or bf16 (default: accelerate's)"})
    seed: int = field(default=42, metadata={"help": "seed of the initialisation, data order and augmentations"})
    checkpointing_steps: int = field(default=5000, metadata={"help": "save_state every N steps (0: never)"})
    resume_from_checkpoint: str | None = field(default=None, metadata={"help": "a checkpoint folder or 'latest'"})
    eval_steps: int = field(default=5000, metadata={"help": "evaluate every N steps and at the end (0: never)"})
    eval_batch_size: int = field(default=16, metadata={"help": "samples per evaluation batch"})
    eval_limit: int | None = field(default=None, metadata={"help": "evaluate on at most N samples per dataset"})
    logging_steps: int = field(default=50, metadata={"help": "log to the trackers every N steps"})
    report_to: list[str] = field(default_factory=list, metadata={"help": "accelerate trackers (tensorboard, wandb)"})
    push_to_hub: str | None = field(default=None, metadata={"help": "ORG/NAME to upload the final model to"})
    num_workers: int = field(default=2, metadata={"help": "DataLoader worker processes"})
    training_cache: str | None = field(
        default=None,
        metadata={
            "help": "decoded training cache written by `samrs prepare-training --out` "
            "(default: its default folder, used when present)"
        },
    )

    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else 1e-3 * self.batch_size / 96

    @classmethod
    def with_default(cls, name: str, default: object):
        """The field ``name`` with another ``default`` and the same help (for a subclass's own defaults)."""
        (option,) = [option for option in fields(cls) if option.name == name]
        return field(default=default, metadata=option.metadata)

    def base_model(self) -> str | None:
        """The model training starts from, recorded on the card (none: trained from scratch)."""
        return None
