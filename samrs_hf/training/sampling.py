"""Proportional multi-subset sampling (SEP): which samples of which subset make each global batch.

Each subset is read as an endless sequence of seeded permutations (one per epoch), so the
samples of step ``s`` depend only on the seed and ``s``: resuming at step ``s`` needs no sampler
state beyond the step counter, and the global batch is the same for any number of processes.
"""

from __future__ import annotations

import numpy as np


def proportional_batch_sizes(batch_size: int, sizes: dict[str, int]) -> dict[str, int]:
    """Per-subset mini-batch ``B_i = int(B * L_i / sum L)`` for subset sizes ``L_i``, at least 1 each
    (the official recipe, ``main_pretrain.py``)."""
    if batch_size < 1 or not sizes or min(sizes.values()) < 1:
        raise ValueError(f"need a positive batch size and non-empty subsets, got B={batch_size}, sizes={sizes}")
    total = sum(sizes.values())
    return {name: max(1, int(batch_size * size / total)) for name, size in sizes.items()}


def sequence_indices(size: int, seed: int, start: int, count: int) -> np.ndarray:
    """Positions ``start .. start+count-1`` of the endless sequence of seeded permutations of ``range(size)``."""
    positions = np.arange(start, start + count)
    out = np.empty(count, dtype=np.int64)
    for epoch in np.unique(positions // size):
        in_epoch = positions // size == epoch
        permutation = np.random.default_rng([seed, int(epoch)]).permutation(size)
        out[in_epoch] = permutation[positions[in_epoch] % size]
    return out


def global_batch(
    step: int, sizes: dict[str, int], batch_sizes: dict[str, int], seed: int
) -> list[tuple[str, int, int]]:
    """The samples of optimisation step ``step``: ``(subset, dataset index, position in the batch)``."""
    items = []
    for subset_no, (name, b) in enumerate(batch_sizes.items()):
        indices = sequence_indices(sizes[name], seed + subset_no, step * b, b)
        items.extend((name, int(index), position) for position, index in enumerate(indices))
    return items


def batch_positions(batch_sizes: dict[str, int]) -> list[tuple[str, int]]:
    """``(subset, position in the batch)`` of every sample of a global batch, in :func:`global_batch`'s order
    (what a stream, which has no indices, needs to make the same per-subset shares)."""
    return [(name, position) for name, b in batch_sizes.items() for position in range(b)]


def micro_batch_shard(
    micro_step: int, process_index: int, num_processes: int, accumulation_steps: int
) -> tuple[int, int, int]:
    """``(step, shard index, shards)``: micro-step ``m`` of a process is share ``(m % accumulation) *
    num_processes + process_index`` (:func:`shard`) of step ``m // accumulation``'s global batch."""
    step, micro = divmod(micro_step, accumulation_steps)
    return step, micro * num_processes + process_index, num_processes * accumulation_steps


def shard(items: list, shard_index: int, num_shards: int) -> list:
    """Round-robin share ``shard_index`` of ``num_shards`` (processes x accumulation steps)."""
    if len(items) < num_shards:
        raise ValueError(
            f"a global batch of {len(items)} samples cannot feed {num_shards} shards "
            "(processes x gradient accumulation steps): raise --batch-size"
        )
    return items[shard_index::num_shards]
