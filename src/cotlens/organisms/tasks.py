"""The organisms' synthetic task: variable chains modulo 10, with a step-by-step CoT.

A problem is a start value and ``k`` operations, each defining a new variable from the previous one::

    question  A=3;B=A+4;C=B*2;D=C-5
    CoT       B=7. C=4. D=9.
    answer    9

The organism sequence is ``question + "|" + CoT + ">" + answer`` (the CoT empty for no CoT). Each CoT step is a
sentence that ``cotlens.elicit.split_steps`` splits, so the text-level metrics cut and edit it unchanged.
``k`` sets the difficulty: a long chain needs the CoT (one step per written value), a short one a small
model can compute from the question alone. The same problems are multiple-choice samples for any model
(choices 0-9), so every metric runs on them unchanged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cotlens.types import Sample

VARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OPS = ("+", "-", "*")
HARD, EASY = 5, 2
"""Chain lengths: the task whose CoT a small model needs, and one it can learn without a CoT."""


@dataclass(frozen=True)
class Chain:
    start: int
    ops: tuple[tuple[str, int], ...]
    """Each step: operator and operand (operand 1-9)."""

    @property
    def names(self) -> str:
        return VARS[: len(self.ops) + 1]

    def values(self, overrides: dict[int, int] | None = None) -> list[int]:
        """Value after each step (index 0 = start); ``overrides`` force step j's written value (a mistake),
        and later steps follow from it."""
        out = [self.start]
        for j, (op, x) in enumerate(self.ops, 1):
            v = out[-1]
            v = {"+": v + x, "-": v - x, "*": v * x}[op] % 10
            if overrides and j in overrides:
                v = overrides[j]
            out.append(v)
        return out

    @property
    def answer(self) -> int:
        return self.values()[-1]

    def question(self) -> str:
        n = self.names
        parts = [f"{n[0]}={self.start}"] + [f"{n[j]}={n[j - 1]}{op}{x}" for j, (op, x) in enumerate(self.ops, 1)]
        return ";".join(parts)

    def cot(self, values: list[int], upto: int | None = None) -> str:
        """The CoT writing ``values[1..upto]`` (all steps by default)."""
        n = self.names
        upto = len(self.ops) if upto is None else upto
        return " ".join(f"{n[j]}={values[j]}." for j in range(1, upto + 1))


def make_chain(rng: random.Random, k: int, ops: tuple[str, ...] = OPS) -> Chain:
    return Chain(rng.randint(0, 9), tuple((rng.choice(ops), rng.randint(1, 9)) for _ in range(k)))


def chains(n: int, seed: int, k: int) -> list[Chain]:
    rng = random.Random(f"chain:{seed}:{k}")
    return [make_chain(rng, k) for _ in range(n)]


def to_sample(chain: Chain, sid: str, **meta: object) -> Sample:
    """The chain as a multiple-choice sample (choices 0-9) for any model."""
    return Sample(
        id=sid,
        question=chain.question(),
        choices=tuple(str(d) for d in range(10)),
        answer=chain.answer,
        metadata={"task": f"chain{len(chain.ops)}", "start": chain.start,
                  "ops": [f"{op}{x}" for op, x in chain.ops], "values": chain.values(), **meta},
    )
