"""Left padding for batched causal-LM calls, shared by every local backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def left_pad(seqs: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any, Any]:
    """Left-padded ids [B, T], key mask [B, T] (1 = real token) and position ids [B, T] starting at 0 on each
    row's first real token, so a sequence gets the same positions in a batch as alone."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.tensor([[pad] * (width - len(s)) + list(s) for s in seqs], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], dtype=torch.long)
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)
