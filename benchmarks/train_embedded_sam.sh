#!/usr/bin/env bash
# The embedded small SAM (samrs_hf/models/sam-small-synthetic): random weights, then samrs train-sam on synthetic
# scenes with every weight trained, then the checkpoint and its card copied into the package. Run from the checkout:
#   nice bash benchmarks/train_embedded_sam.sh > .cache/embedded-sam.log 2>&1 &
# One torch thread: on a CPU shared with other jobs, more threads spin against each other.
set -euo pipefail
RUN=.cache/embedded-sam-run
export OMP_NUM_THREADS=1
rm -rf "$RUN"
.venv/bin/samrs tiny-sam "$RUN/init" --size small --seed 0
.venv/bin/samrs train-sam --model "$RUN/init" --train synthetic --synthetic-scenes 64 --train-encoder \
    --prompts hbox,hbox,rhbox,cp+hbox,cp,hbox_m,rbox_m --prompts-per-image 16 --batch-size 2 \
    --max-steps 3000 --learning-rate 1e-3 --warmup-steps 100 --eval-limit 4 --eval-steps 250 \
    --eval-prompts hbox,rhbox,cp+hbox --checkpointing-steps 500 --seed 0 --output-dir "$RUN/out"
MODEL=samrs_hf/models/sam-small-synthetic
rm -rf "$MODEL" && mkdir -p "$MODEL"
cp "$RUN"/out/{config.json,model.safetensors,processor_config.json,README.md} "$MODEL"/
