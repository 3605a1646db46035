"""What a run costs: the model calls and tokens each metric will need (the plan line, estimated before the run)
and what the backend was asked for (metered per call into ``calls.jsonl``; ``summary.json``'s ``usage``), with a
token budget that stops a run before it spends more (``--max-tokens-total``).

Tokens are counted as an API bills them: a call's prompt tokens are every prompt's tokens as sent (shared-prefix
scoring computes fewer, but a served API would bill each prompt), its completion tokens the tokens generated; a
choice read from next-token log-probabilities is one completion token on a served model and none on a local one.
Calls answered by the call cache cost nothing and are not counted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cotlens.cost import Need
from cotlens.types import CotlensError, JsonObject


@dataclass
class Usage:
    """Prompts sent to the backend, and their prompt and completion tokens."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def to_dict(self) -> JsonObject:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}


def usage_from_calls(lines: Iterable[Mapping[str, Any]]) -> dict[str, Usage]:
    """``calls.jsonl`` summed by what each call was for (``elicit`` or the metric's name), over every attempt;
    lines written before tokens were metered count their prompts only."""
    out: dict[str, Usage] = {}
    for d in lines:
        unit = str(d.get("unit", ""))
        what = "elicit" if unit.startswith("elicit:") else unit.split(":", 1)[0]
        out.setdefault(what, Usage()).add(Usage(int(d.get("prompts", 0)), int(d.get("prompt_tokens", 0)),
                                                int(d.get("completion_tokens", 0))))
    return out


def usage_dict(by: Mapping[str, Usage]) -> JsonObject:
    """``summary.json``'s ``usage``: per kind of work, and the total."""
    total = Usage()
    for u in by.values():
        total.add(u)
    return {**{k: u.to_dict() for k, u in by.items()}, "total": total.to_dict()}


class BudgetReached(CotlensError):
    """The next backend call would pass ``--max-tokens-total``: the run stops, its finished work kept."""


class Meter:
    """Counts the tokens a run's backend calls spend and refuses a call that could pass the budget.

    ``used`` starts at what earlier attempts of the run spent (``calls.jsonl``), so a budget bounds the run
    directory's spending, not one invocation's. A call reserves its bound (its prompt tokens, and
    ``max_new_tokens`` a prompt where it generates) before it goes to the backend and settles at what it spent;
    threads that call at once (``--concurrency``) cannot together pass the budget."""

    def __init__(self, limit: int = 0, used: int = 0, out: str = "") -> None:
        self.limit = limit
        self.used = used
        self.out = out
        self._reserved = 0
        self._lock = threading.Lock()

    def reserve(self, bound: int) -> None:
        with self._lock:
            if self.limit > 0 and self.used + self._reserved + bound > self.limit:
                raise BudgetReached(
                    f"token budget reached: {self.used:,} of --max-tokens-total {self.limit:,} tokens spent and the "
                    f"next call could need {bound:,} more; the finished work is kept in {self.out or 'the run'}: "
                    "run the same command again with a larger --max-tokens-total (or none) to go on")
            self._reserved += bound

    def settle(self, bound: int, spent: int) -> None:
        with self._lock:
            self._reserved -= bound
            self.used += spent


# -- the plan ------------------------------------------------------------------------------------------------
def plan_line(needs: Mapping[str, Need], n: Mapping[str, int], limit: int) -> str:
    """The plan: per metric (and eliciting), calls and tokens for its samples; the total, and the budget."""
    parts = []
    total = Need()
    for name, need in needs.items():
        t = need.times(n[name])
        total = total + t
        parts.append(f"{name} {round(t.calls):,} calls, {round(t.prompt_tokens):,}+{round(t.completion_tokens):,}")
    line = (f"plan (estimated; calls, prompt+completion tokens): {'; '.join(parts)}; total {round(total.calls):,} "
            f"calls, {round(total.prompt_tokens + total.completion_tokens):,} tokens")
    return line + (f" (budget {limit:,})" if limit > 0 else "")
