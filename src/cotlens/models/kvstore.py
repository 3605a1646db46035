"""Keys and values a local model has computed, kept for later reads that begin with the same tokens (automatic
prefix caching, as vLLM's and SGLang's RadixAttention do for a served model).

A run reads the same beginnings again and again, in calls that the batcher cannot merge because one depends on the
other: the answer after a CoT (elicitation), then the answer after each truncation of it (early answering), the
CoT's beginning continued after a mistake (adding mistakes), the question before filler tokens. The transformers
backend keeps each forward pass's keys and values here (``HFModel._read``) and a later read computes only the
tokens after the longest stored prefix of each of its rows, attending to the stored keys and values.

A stored position's keys and values depend only on the tokens up to it (a causal model; positions count from each
sequence's start), so a prefix read from the store gives what reading it again would, up to floating-point
reduction order: the numbers of a run can differ at rounding level with what the store held (a resumed run, whose
finished calls came from the call cache, reads some prompts whole). The store belongs to one set of weights: a
change of the model's parameters (a LoRA merge, training) empties it (``PrefixStore.check``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cotlens.batching import common_prefix

BLOCK = 16
"""Tokens per hashed block: a row's prefixes are found block by block, then token by token."""


@dataclass
class Hit:
    """A stored prefix of a row: its first ``n`` tokens' keys and values are ``layers``' batch row ``row`` at
    ``slots``."""

    layers: list[tuple[Any, Any]]
    row: int
    slots: list[int]

    @property
    def n(self) -> int:
        return len(self.slots)


@dataclass
class _Entry:
    layers: list[tuple[Any, Any]]
    """Per layer, keys and values [rows, heads, slots, head dim] of one forward pass."""
    rows: list[tuple[tuple[int, ...], int, list[int]]]
    """Each sequence read: its token ids, its batch row and the slot of each of its tokens."""
    nbytes: int
    keys: list[int] = field(default_factory=list)
    """The block hashes that point here."""


class PrefixStore:
    """The keys and values of sequences read, ``max_bytes`` at most (least recently used first out; 0: off)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._blocks: dict[int, tuple[int, int]] = {}
        self._next = 0
        self._bytes = 0
        self._version: Any = None
        self.hits = 0
        """Tokens read from the store rather than computed, since it was made."""

    def clear(self) -> None:
        self._entries.clear()
        self._blocks.clear()
        self._bytes = 0

    def check(self, version: Any) -> None:
        """Empty the store if the model's weights are not those it was filled with (``version``)."""
        if version != self._version:
            self.clear()
            self._version = version

    @staticmethod
    def _chain(ids: Sequence[int]) -> list[int]:
        """The hash of each whole block's prefix: ``ids[:BLOCK]``, ``ids[:2 * BLOCK]``, ..."""
        out: list[int] = []
        h = 0
        for k in range(len(ids) // BLOCK):
            h = hash((h, tuple(ids[k * BLOCK : (k + 1) * BLOCK])))
            out.append(h)
        return out

    def add(self, layers: list[tuple[Any, Any]], rows: Sequence[tuple[Sequence[int], int, list[int]]]) -> None:
        """Keep a forward pass's ``layers`` and the sequences it read: (token ids, batch row, slots)."""
        if self.max_bytes <= 0 or not rows:
            return
        nbytes = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
        if nbytes > self.max_bytes:
            return
        eid = self._next
        self._next += 1
        entry = _Entry(layers, [(tuple(ids), r, list(s)) for ids, r, s in rows], nbytes)
        for j, (ids, _, _) in enumerate(entry.rows):
            for h in self._chain(ids):
                self._blocks[h] = (eid, j)
                entry.keys.append(h)
        self._entries[eid] = entry
        self._bytes += nbytes
        while self._bytes > self.max_bytes:
            self._evict()

    def _evict(self) -> None:
        eid, entry = self._entries.popitem(last=False)
        self._bytes -= entry.nbytes
        for h in entry.keys:
            if self._blocks.get(h, (None, 0))[0] == eid:
                del self._blocks[h]

    def find(self, ids: Sequence[int], min_tokens: int) -> Hit | None:
        """The longest stored prefix of ``ids``, if it holds at least ``min_tokens`` tokens; never the whole of
        ``ids`` (the last token is read, for its next-token logits)."""
        if not self._entries:
            return None
        found: tuple[int, int] | None = None
        for h in self._chain(ids):
            at = self._blocks.get(h)
            if at is None:
                break
            found = at
        if found is None:
            return None
        entry = self._entries[found[0]]
        stored, row, slots = entry.rows[found[1]]
        n = min(common_prefix(ids, stored), len(ids) - 1)  # the tokens themselves, not only their hashes
        if n < min_tokens:
            return None
        self._entries.move_to_end(found[0])
        self.hits += n
        return Hit(entry.layers, row, slots[:n])
