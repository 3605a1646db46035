"""Batching for causal-LM calls, shared by every local backend: left padding, and packing prompts that share a
prefix into one sequence (shared-prefix scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def left_pad(seqs: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any, Any]:
    """Left-padded ids [B, T], key mask [B, T] (1 = real token) and position ids [B, T] starting at 0 on each
    row's first real token, so a sequence gets the same positions in a batch as alone."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.tensor([[pad] * (width - len(s)) + list(s) for s in seqs], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], dtype=torch.long)
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


@dataclass(frozen=True)
class Packed:
    ids: list[int]
    """The longest sequence, then every other sequence's tokens after its longest common prefix with it."""
    positions: list[int]
    """Each packed token's position in its own sequence."""
    allow: Any
    """[T, T] bool: True where a packed token may attend (its own sequence's earlier tokens)."""
    index: list[list[int]]
    """Per input sequence, the packed index of each of its tokens."""


def pack_shared_prefix(seqs: Sequence[Sequence[int]]) -> Packed:
    """Pack ``seqs`` for one forward pass in which each sequence sees exactly what it would see alone: the longest
    is the base; every other contributes its tokens after its longest common prefix with the base, attending to
    that prefix and causally to itself, with position ids continuing from the prefix."""
    import torch

    base = list(seqs[max(range(len(seqs)), key=lambda i: len(seqs[i]))])
    ids, pos = list(base), list(range(len(base)))
    spans: list[tuple[int, int, int]] = []  # (shared prefix length, first packed index, suffix length)
    index: list[list[int]] = []
    for x in seqs:
        c = 0
        while c < min(len(x), len(base)) and x[c] == base[c]:
            c += 1
        first = len(ids)
        ids += x[c:]
        pos += list(range(c, len(x)))
        spans.append((c, first, len(x) - c))
        index.append(list(range(c)) + list(range(first, first + len(x) - c)))
    allow = torch.zeros(len(ids), len(ids), dtype=torch.bool)
    allow[: len(base), : len(base)] = torch.ones(len(base), len(base), dtype=torch.bool).tril()
    for c, first, m in spans:
        if m:
            allow[first : first + m, :c] = True
            allow[first : first + m, first : first + m] = torch.ones(m, m, dtype=torch.bool).tril()
    return Packed(ids, pos, allow, index)
