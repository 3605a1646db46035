"""The metrics, by name. Each module defines one ``METRIC``; this table is the only registry."""

from __future__ import annotations

from cotlens.metrics import adding_mistakes, early_answering, filler_tokens, no_cot
from cotlens.metrics.base import Metric, MetricContext
from cotlens.types import CotlensError

METRICS: dict[str, Metric] = {
    m.name: m for m in (early_answering.METRIC, adding_mistakes.METRIC, filler_tokens.METRIC, no_cot.METRIC)
}


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise CotlensError(f"unknown metric {name!r}; available: {', '.join(METRICS)}")
    return METRICS[name]


__all__ = ["METRICS", "Metric", "MetricContext", "get_metric"]
