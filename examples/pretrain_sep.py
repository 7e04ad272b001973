"""Segmentation pre-training (SEP) on SAMRS: one backbone + decoder, one head per subset.

    accelerate launch -q examples/pretrain_sep.py --dataset samrs --configs sota sior fast \
        --backbone resnet-50 --decoder upernet --batch-size 96 --max-steps 80000

``--batch-size`` is the global batch per optimisation step (split over processes and
``--gradient-accumulation-steps``); each subset gets ``int(B * L_i / sum L)`` of it (at least 1).
``--streaming`` reads ``--dataset`` (a Hub id or a folder) as a stream: no local copy, each process its own
shards, exact resume; ``--shuffle-buffer`` rows per subset and DataLoader worker are shuffled together.
The same flags work with ``samrs pretrain``. A mistake in them (or data / weights that cannot be
loaded) ends the run at once with one ``error:`` line.
"""

import sys

from samrs_hf.cli.training_runner import run_training
from samrs_hf.training.pretrain import SepArguments, pretrain

if __name__ == "__main__":
    sys.exit(run_training(SepArguments, pretrain))
