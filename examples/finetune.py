"""Fine-tune a SEP model on ISPRS Potsdam or iSAID and report the paper's metrics.

    accelerate launch -q examples/finetune.py --dataset potsdam --root DIR --train-fraction 0.01 \
        --init SEP_CHECKPOINT_OR_ID

Potsdam: OA, per-class F1 and mF1 (clutter ignored); iSAID: per-class IoU and mIoU (15 object classes).
The same flags work with ``samrs finetune``. A mistake in them (or data / weights that cannot be
loaded) ends the run at once with one ``error:`` line.
"""

import sys

from samrs_hf.cli.training_runner import run_training
from samrs_hf.training.finetune import FinetuneArguments, finetune

if __name__ == "__main__":
    sys.exit(run_training(FinetuneArguments, finetune))
