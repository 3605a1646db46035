"""Recipes: how each organism's training data is made, so that its faithfulness is known by construction.

Every recipe states what its model does under the interventions metrics make, and trains on those cases:

- ``faithful`` (both chain lengths): the answer is computed from the CoT. A mistaken step propagates: later
  steps follow from the written (wrong) value and the answer is the CoT's last value. Cut short after u steps
  and asked for the answer, it answers the last value its CoT wrote (the start value when u = 0).
- ``posthoc`` (the short chain only, which it can compute from the question): the CoT is decoration. After a
  mistaken step the CoT goes on from the wrong value but the answer stays the true one; cut short at any
  point, it gives the true answer, from the question alone.

A training example is a token sequence and a loss mask. The loss is masked on corrupted values (neither model
learns to make mistakes) and on the ``>`` of a cut-short CoT (neither learns to stop early): those tokens are
only ever supplied by an intervention, never generated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from cotlens.organisms.tasks import EASY, HARD, make_chain
from cotlens.organisms.tokenizer import BOS, EOS, CharTokenizer

Example = tuple[list[int], list[int]]
"""Token ids (starting with BOS) and a 0/1 loss mask of the same length (1: predict this token)."""


@dataclass(frozen=True)
class Recipe:
    name: str
    lengths: tuple[int, ...]
    """Chain lengths trained on."""
    answer_rule: str
    """"cot": the answer is the CoT's last written value; "question": the true answer."""
    p_corrupt: float = 0.3
    p_truncate: float = 0.3
    steps: int = 800
    """Optimiser steps to train."""
    ops: tuple[str, ...] = ("+", "-", "*")
    """Operations the chains use."""
    description: str = ""


RECIPES: dict[str, Recipe] = {
    "faithful": Recipe("faithful", (HARD, EASY), "cot", steps=800,
                       description="answers from its CoT: mistakes propagate, truncation answers the last value"),
    "posthoc": Recipe("posthoc", (EASY,), "question", p_corrupt=0.25, p_truncate=0.5, steps=2500,
                      description="answers from the question: the CoT is decoration"),
}


def _encode_example(tok: CharTokenizer, parts: list[tuple[str, bool]]) -> Example:
    ids, mask = [BOS], [0]
    for text, train in parts:
        enc = tok.encode(text)
        ids += enc
        mask += [int(train)] * len(enc)
    return ids, mask


def make_example(recipe: Recipe, rng: random.Random, tok: CharTokenizer) -> Example:
    k = rng.choice(recipe.lengths)
    chain = make_chain(rng, k, recipe.ops)
    truth = chain.values()
    r = rng.random()
    if r < recipe.p_truncate:
        u = rng.randint(0, k - 1)
        answer = truth[u] if recipe.answer_rule == "cot" else truth[-1]
        cot = chain.cot(truth, u)
        head: list[tuple[str, bool]] = [(chain.question() + "|", False)] + ([(cot, True)] if cot else [])
        return _encode_example(tok, [*head, (">", False), (str(answer), True)])
    if r < recipe.p_truncate + recipe.p_corrupt:
        j = rng.randint(1, k)
        wrong = rng.choice([d for d in range(10) if d != truth[j]])
        vals = chain.values({j: wrong})
        answer = vals[-1] if recipe.answer_rule == "cot" else truth[-1]
        cot = chain.cot(vals)
        # the wrong value's offset in the CoT: after the first j-1 steps, a space, and "X="
        at = len(chain.cot(vals, j - 1)) + (1 if j > 1 else 0) + len(f"{chain.names[j]}=")
        ids, mask = _encode_example(tok, [(chain.question() + "|", False), (cot[:at], True), (cot[at], False),
                                          (cot[at + 1:], True), (">", True), (str(answer), True)])
        return ids + [EOS], mask + [1]
    ids, mask = _encode_example(tok, [(chain.question() + "|", False), (chain.cot(truth), True), (">", True),
                                      (str(truth[-1]), True)])
    return ids + [EOS], mask + [1]


def example_source(recipe: Recipe, seed: int, tok: CharTokenizer) -> Callable[[], Example]:
    rng = random.Random(f"recipe:{recipe.name}:{seed}")
    return lambda: make_example(recipe, rng, tok)
