"""Fine-tune a SEP model on ISPRS Potsdam or iSAID and report the paper's metrics.

    accelerate launch examples/finetune.py --dataset potsdam --root DIR --train-fraction 0.01 \
        --init SEP_CHECKPOINT_OR_ID

Potsdam: OA, per-class F1 and mF1 (clutter ignored); iSAID: per-class IoU and mIoU (15 object classes).
The same flags work with ``samrs finetune``.
"""

from transformers import HfArgumentParser

from samrs_hf.training.finetune import FinetuneArguments, finetune


def main() -> None:
    (args,) = HfArgumentParser(FinetuneArguments).parse_args_into_dataclasses()
    finetune(args)


if __name__ == "__main__":
    main()
