"""Experiments on top of the pipeline: the paper's prompt ablation (Table 1), the synthetic demo
scene with known masks, and tiny random SAM checkpoints for offline runs."""
