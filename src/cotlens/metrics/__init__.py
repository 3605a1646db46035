"""The metrics, by name. Each module defines one ``METRIC``; this table is the only registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cotlens.metrics import (
    adding_mistakes,
    counterfactual_edits,
    early_answering,
    filler_tokens,
    hints,
    latent_probe,
    legibility,
    no_cot,
    paraphrasing,
    resampling_importance,
    step_ablation,
)
from cotlens.metrics.base import Metric, MetricContext
from cotlens.types import CotlensError, Sample

METRICS: dict[str, Metric[Any]] = {
    m.name: m
    for m in (early_answering.METRIC, adding_mistakes.METRIC, filler_tokens.METRIC, no_cot.METRIC, hints.METRIC,
              counterfactual_edits.METRIC, latent_probe.METRIC, step_ablation.METRIC, paraphrasing.METRIC,
              resampling_importance.METRIC, legibility.METRIC)
}

DEFAULT_METRICS = ("early_answering", "adding_mistakes", "filler_tokens", "no_cot")
"""What a run computes when no metrics are named: the Lanham et al. battery, which reuses each sample's one CoT.
``hints`` and ``counterfactual_edits`` elicit several new CoTs per sample, so they run when named (or ``all``), as
do the white-box ``latent_probe`` and ``step_ablation``, which need a local backend, and ``resampling_importance``,
which writes (steps + 1) x rollouts new continuations per CoT."""


def expand_metrics(names: tuple[str, ...]) -> tuple[str, ...]:
    """``all`` stands for every metric; each other name must be known."""
    out: list[str] = []
    for n in names:
        for m in (tuple(METRICS) if n == "all" else (n,)):
            get_metric(m)
            if m not in out:
                out.append(m)
    return tuple(out)


def main_args() -> dict[str, Any]:
    """Each metric's arguments in validation's main runs (and on organisms generally): its first variant, where
    it has any."""
    return {name: next(iter(m.variants.values())).args for name, m in METRICS.items() if m.variants}


def check_free_form(metrics: Sequence[str], samples: Sequence[Sample], task: str) -> None:
    """Refuse, in one line and before any model call, a metric that reads answers as choices on a task with
    free-form samples (``Metric.free_form``)."""
    free = [s for s in samples if s.free is not None]
    if not free:
        return
    for name in metrics:
        if not get_metric(name).free_form:
            able = ", ".join(n for n, m in METRICS.items() if m.free_form)
            raise CotlensError(f"--metrics {name}: it reads answers as choices, and {task} has {len(free)} free-form "
                               f"samples (no choices, e.g. {free[0].id!r}); on free-form answers run: {able}")


def get_metric(name: str) -> Metric[Any]:
    if name not in METRICS:
        raise CotlensError(f"unknown metric {name!r}; available: {', '.join(METRICS)}")
    return METRICS[name]


__all__ = ["DEFAULT_METRICS", "METRICS", "check_free_form", "expand_metrics", "Metric", "MetricContext", "get_metric"]
