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


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    c = 0
    while c < min(len(a), len(b)) and a[c] == b[c]:
        c += 1
    return c


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
        c = common_prefix(x, base)
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


def pack_tree(seqs: Sequence[Sequence[int]]) -> Packed:
    """Pack ``seqs`` as a prefix tree for one forward pass: every shared prefix once. In lexicographic order each
    sequence shares its longest common prefix with the one before it (the longest it shares with any earlier one)
    and adds the tokens after it, which attend to that prefix and causally to themselves, at the positions they
    have alone. ``Packed.ids`` starts with the first sequence in that order (not the longest, as in
    ``pack_shared_prefix``); ``index`` is in the input's order."""
    import torch

    order = sorted(range(len(seqs)), key=lambda i: list(seqs[i]))
    ids: list[int] = []
    pos: list[int] = []
    index: list[list[int]] = [[] for _ in seqs]
    prev: list[int] = []
    prev_index: list[int] = []
    for i in order:
        x = list(seqs[i])
        c = common_prefix(x, prev)
        first = len(ids)
        ids += x[c:]
        pos += list(range(c, len(x)))
        index[i] = prev_index[:c] + list(range(first, first + len(x) - c))
        prev, prev_index = x, index[i]
    allow = torch.zeros(len(ids), len(ids), dtype=torch.bool)
    done = [False] * len(ids)
    for ix in index:
        new = [j for j, p in enumerate(ix) if not done[p]]  # this sequence's own tokens (a suffix of it)
        if not new:
            continue
        at = torch.tensor(ix)
        allow[at[new[0]:, None], at[None, :]] = torch.ones(len(ix), len(ix), dtype=torch.bool).tril()[new[0]:]
        for j in new:
            done[ix[j]] = True
    return Packed(ids, pos, allow, index)


def packs_of(seqs: Sequence[Sequence[int]], tokens: int, min_share: int = 0) -> list[list[int]]:
    """Indices of ``seqs`` in lexicographic order (neighbours share the most), cut into packs for ``pack_tree``
    of at most ``tokens`` packed tokens (a longer sequence alone); a sequence that shares fewer than ``min_share``
    tokens with the one before it starts a pack."""
    packs: list[list[int]] = []
    size = 0
    prev: list[int] = []
    for i in sorted(range(len(seqs)), key=lambda i: list(seqs[i])):
        x = list(seqs[i])
        c = common_prefix(x, prev)
        if packs and size + len(x) - c <= tokens and c >= min_share:
            packs[-1].append(i)
            size += len(x) - c
        else:
            packs.append([i])
            size = len(x)
        prev = x
    return packs


def nucleus(probs: Any, top_p: float) -> Any:
    """``probs`` [B, V] with each row cut to its top-p nucleus and renormalised (as transformers'
    ``TopPLogitsWarper``: the most likely tokens until their mass reaches ``top_p``, the one that crosses it
    included, always at least one)."""
    import torch

    if top_p >= 1.0:
        return probs
    sorted_p, order = torch.sort(probs, dim=-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p  # mass of the more likely tokens
    keep_sorted = before < top_p
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    out = probs * keep
    return out / out.sum(-1, keepdim=True)


def seeded_generator(seed: int, key: str) -> Any:
    """A torch generator seeded from (``seed``, ``key``): a sequence's sample then depends on its own prompt
    and seed, never on which other sequences share its batch."""
    import hashlib

    import torch

    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little"))


def draw(logits: Any, temperature: float, top_p: float, generators: Sequence[Any]) -> tuple[list[int], list[float]]:
    """One next token per row of ``logits`` [B, V]: greedy at temperature 0, else a seeded draw from the
    temperature-scaled nucleus by inverse CDF (one uniform from the row's generator, tokens in id order).

    Also each row's margin, how far the choice was from going another way: greedy, the gap between the two
    largest logits; sampled, the distance of the uniform from the nearest edge of the chosen token's CDF
    interval. Two computations of the same row that differ only in floating-point rounding choose the same
    token unless this margin is about as small as the rounding (a near-tie)."""
    import torch

    logits = logits.float()
    if temperature <= 0:
        top2 = torch.topk(logits, 2, dim=-1).values
        return logits.argmax(-1).tolist(), (top2[:, 0] - top2[:, 1]).tolist()
    probs = nucleus(torch.softmax(logits / temperature, dim=-1), top_p)
    cdf = probs.double().cumsum(-1)
    tokens: list[int] = []
    margins: list[float] = []
    for row, g in enumerate(generators):
        c = cdf[row]
        u = float(torch.rand((), generator=g, dtype=torch.float64)) * float(c[-1])
        t = min(int(torch.searchsorted(c, torch.tensor([u], dtype=torch.float64), right=True)[0]), len(c) - 1)
        lo = float(c[t - 1]) if t > 0 else 0.0
        tokens.append(t)
        margins.append(min(u - lo, float(c[t]) - u))
    return tokens, margins
