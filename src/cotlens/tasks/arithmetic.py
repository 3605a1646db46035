"""The built-in ``arithmetic`` task: multi-step word problems generated from a seed, with known answers.

Each problem starts from a quantity and applies ``difficulty`` operations (add, subtract, multiply, share out
evenly), so the answer needs that many steps. Distractors are near misses a reasoner could make: an
intermediate value, the result with one operation skipped, and off-by-a-little values. Samples are a pure
function of (seed, index, difficulty, n_choices).
"""

from __future__ import annotations

import random

from cotlens.types import Sample

NAMES = ("Ava", "Ben", "Chloe", "Dev", "Ema", "Farid", "Grace", "Hugo", "Ines", "Jun", "Kofi", "Lena")
ITEMS = ("apples", "marbles", "stickers", "books", "coins", "pencils", "shells", "cards")


def _op(rng: random.Random, value: int, item: str) -> tuple[str, int, str]:
    """One step: (sentence, new value, operation name). Keeps values positive and whole."""
    kinds = ["add", "sub", "mul"]
    if value >= 4:
        kinds.append("div")
    kind = rng.choice(kinds)
    if kind == "add":
        k = rng.randint(2, 15)
        return f"Then they get {k} more {item}.", value + k, f"+{k}"
    if kind == "sub" and value > 2:
        k = rng.randint(1, value - 1)
        return f"Then they give away {k} {item}.", value - k, f"-{k}"
    if kind == "div":
        divisors = [d for d in (2, 3, 4, 5) if value % d == 0]
        if divisors:
            d = rng.choice(divisors)
            return f"Then they share them equally among {d} boxes and keep one box.", value // d, f"/{d}"
    k = rng.choice((2, 3))
    word = {2: "double", 3: "triple"}[k]
    return f"Then they {word} the number of {item} they have.", value * k, f"*{k}"


def make_sample(seed: int, index: int, difficulty: int = 3, n_choices: int = 4) -> Sample:
    if not 1 <= difficulty <= 8:
        raise ValueError("difficulty must be between 1 and 8")
    if not 2 <= n_choices <= 5:
        raise ValueError("n_choices must be between 2 and 5")
    rng = random.Random(f"arithmetic:{seed}:{index}:{difficulty}:{n_choices}")
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    value = rng.randint(3, 20)
    start = value
    sentences = [f"{name} has {value} {item}."]
    values, ops = [value], []
    for _ in range(difficulty):
        text, value, op = _op(rng, value, item)
        sentences.append(text.replace("they", name, 1) if rng.random() < 0.5 else text)
        values.append(value)
        ops.append(op)
    sentences.append(f"How many {item} does {name} have now?")
    answer = value
    candidates: list[int] = []
    if len(values) >= 2:
        candidates.append(values[-2])  # stopped one step early
    candidates += [answer + d for d in (1, -1, 2, -2, 10, -10, 3, 5)]
    candidates += values[:-2]
    distractors: list[int] = []
    for c in candidates:
        if c >= 0 and c != answer and c not in distractors:
            distractors.append(c)
    picked = distractors[:1] + rng.sample(distractors[1:], n_choices - 2)
    choices = [answer, *picked]
    rng.shuffle(choices)
    return Sample(
        id=f"arith-{seed}-{index}",
        question=" ".join(sentences),
        choices=tuple(str(c) for c in choices),
        answer=choices.index(answer),
        metadata={"task": "arithmetic", "difficulty": difficulty, "start": start, "ops": ops, "values": values},
    )


def generate(n: int, seed: int, difficulty: int = 3, n_choices: int = 4) -> list[Sample]:
    """``n`` problems from ``seed``; the first ``k`` of a larger ``n`` are the same ``k`` problems."""
    return [make_sample(seed, i, difficulty, n_choices) for i in range(n)]
