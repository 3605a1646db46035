"""``compare.json`` as types: what ``cotlens compare`` writes, what its report and its table read."""

from __future__ import annotations

from dataclasses import dataclass

from cotlens.types import SCHEMA_VERSION, CurveSummary, Estimate, JsonObject, JsonResult, ModelIdentity


@dataclass(frozen=True)
class ComparedRun(JsonResult):
    """One run of a comparison, as ``compare.json`` names it."""

    label: str
    dir: str
    model: ModelIdentity | None
    n_samples: int
    config: JsonObject
    """The run's options (``summary.json``'s ``config``)."""


@dataclass(frozen=True)
class Pair(JsonResult):
    """One run against the baseline on one metric, on the samples both scored."""

    baseline: str
    other: str
    n: int
    not_scored: int
    """Shared samples one of the two runs has no score for."""
    baseline_mean: Estimate
    other_mean: Estimate
    difference: Estimate
    """Mean of (other - baseline), CI from a bootstrap over pairs."""
    p_value: float | None
    """Two-sided paired permutation test."""
    per_sample: list[tuple[str, float, float]]
    """(sample id, baseline's score, other's score)."""


@dataclass(frozen=True)
class MetricComparison(JsonResult):
    primary: str
    version: int | None
    args: JsonObject
    headline: dict[str, Estimate | None]
    """Per run label, the metric's headline in the run's own summary (over all its samples)."""
    curves: dict[str, CurveSummary]
    pairs: list[Pair]


@dataclass(frozen=True)
class Comparison(JsonResult):
    """``compare.json``: written by ``compare``, drawn by ``compare_report`` and ``format_compare``. Schema 2
    added the ``schema`` field; nothing else changed."""

    runs: list[ComparedRun]
    baseline: str
    task: str
    shared_samples: int
    seed: int
    metrics_left_out: list[str]
    metrics: dict[str, MetricComparison]
    schema: int = SCHEMA_VERSION
