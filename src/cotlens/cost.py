"""What a metric's work costs, estimated before a run (``Metric.need``): calls, prompt tokens and completion tokens
per sample, from the run's shape. The run's plan line sums them (``cotlens.runs.cost``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """What a cost estimate knows of a run before it runs: per sample, the answer prompt's tokens without a CoT,
    the CoT's tokens and steps (the elicited CoTs' means where they exist, else the generation budget and
    ``TOKENS_PER_STEP``), and the generation budget."""

    question_tokens: float
    cot_tokens: float
    steps: float
    max_new_tokens: int
    served: bool
    """A served model: a choice read costs a completion token."""


TOKENS_PER_STEP = 20
"""A CoT step's tokens where no CoT is elicited yet (SmolLM2's demo CoTs: 107 tokens in 5.6 steps)."""


@dataclass(frozen=True)
class Need:
    """A metric's estimated cost for one sample."""

    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0

    def __add__(self, other: Need) -> Need:
        return Need(self.calls + other.calls, self.prompt_tokens + other.prompt_tokens,
                    self.completion_tokens + other.completion_tokens)

    def times(self, k: float) -> Need:
        return Need(self.calls * k, self.prompt_tokens * k, self.completion_tokens * k)


def reads(shape: Shape, k: float, cot_share: float) -> Need:
    """``k`` answer readings after ``cot_share`` of the CoT on average."""
    return Need(k, k * (shape.question_tokens + cot_share * shape.cot_tokens), k if shape.served else 0.0)


def writes(shape: Shape, k: float, prompt: float, tokens: float) -> Need:
    """``k`` generations of ``prompt`` tokens each, writing ``tokens`` each."""
    return Need(k, k * prompt, k * tokens)
