"""Segmentation pre-training (SEP) on SAMRS: one backbone + decoder, one head per subset.

    accelerate launch examples/pretrain_sep.py --dataset samrs --configs sota sior fast \
        --backbone resnet-50 --decoder upernet --batch-size 96 --max-steps 80000

``--batch-size`` is the global batch per optimisation step (split over processes and
``--gradient-accumulation-steps``); each subset gets ``int(B * L_i / sum L)`` of it (at least 1).
The same flags work with ``samrs pretrain``.
"""

from transformers import HfArgumentParser

from samrs_hf.training.pretrain import SepArguments, pretrain


def main() -> None:
    (args,) = HfArgumentParser(SepArguments).parse_args_into_dataclasses()
    pretrain(args)


if __name__ == "__main__":
    main()
