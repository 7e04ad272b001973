"""Experiments on top of the pipeline: the paper's prompt ablation (Table 1), the synthetic demo
scene with known masks, and small random SAM-family checkpoints for offline runs.

ablation.py + table1.py  Table 1: rows, runs, the paper's figures;  demo.py + synthetic.py  the offline demo
tiny_sam.py              random checkpoints of each family's tiny config, and the embedded model's start
"""
