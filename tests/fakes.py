"""A scripted backend for unit tests of control flow (never the only test of a feature)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from cotlens.models.base import COUNT_TOKENS, GENERATE, SCORE_CHOICES, names
from cotlens.types import GenerationSettings, ModelIdentity, Prompt


class ScriptedModel:
    """Answers with the letter ``answer_fn(prompt)`` returns; generates ``generate_fn(prompt)``."""

    def __init__(self, answer_fn: Callable[[Prompt], str], generate_fn: Callable[[Prompt], str] | None = None,
                 name: str = "scripted") -> None:
        self.answer_fn = answer_fn
        self.generate_fn = generate_fn or (lambda p: " The answer is (A).")
        self.calls: list[tuple[str, int]] = []
        self.name = name

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(self.name, "test", "none")

    @property
    def capabilities(self) -> frozenset[str]:
        return names(GENERATE, SCORE_CHOICES, COUNT_TOKENS)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        self.calls.append(("generate", len(prompts)))
        return [self.generate_fn(p) for p in prompts]

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        self.calls.append(("score_choices", len(prompts)))
        out = []
        for p, ls in zip(prompts, letters, strict=True):
            a = self.answer_fn(p)
            out.append([math.log(0.7) if le == a else math.log(0.3 / (len(ls) - 1)) for le in ls])
        return out
