"""The summary: per metric a value with a bootstrap CI and n, plus every per-sample quantity and mean curves.

``summary.json`` is enough to read a run's results: nothing in it needs the records to be parsed again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from cotlens.elicit import correct, trace_key
from cotlens.metrics import get_metric
from cotlens.metrics.curves import interpolate
from cotlens.runs.config import RunConfig
from cotlens.stats import mean_estimate
from cotlens.types import CurveSummary, MetricSummary, Record, Sample, Summary, Trace

GRID = [i / 20 for i in range(21)]


def leaves(d: Any, path: str = "") -> dict[str, Any]:
    """A summary's (or any JSON value's) values by their path: ``filler_tokens.stats.filler_gain.ci[0]`` -> value;
    two summaries compared value by value."""
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in leaves(val, f"{path}.{key}" if path else key).items()}
    if isinstance(d, list):
        return {k: v for i, val in enumerate(d) for k, v in leaves(val, f"{path}[{i}]").items()}
    return {path: d}


def metric_summary(name: str, recs: Sequence[Record], seed: int, args: Any) -> MetricSummary:
    """One metric's entry of the summary from its records (the Inspect tasks' metrics report the same)."""
    metric = get_metric(name)
    stats = metric.summarize(recs, seed=seed)
    head = stats.pop("value")
    # records refused before any work (a summary's CoT: Metric.needs_raw_cot) count in n and the coverage line only
    kept = [r for r in recs if "refused" not in r.details]
    extra = {} if metric.extra_summary is None else metric.extra_summary(kept, seed, args)
    entry = MetricSummary(head.value, head.ci, head.n, metric.primary, metric.description, metric.version,
                          recs[0].args, len(recs), sum(1 for r in recs if r.score is None), stats)
    coverage = coverage_note(name, head.n, recs)
    if coverage is not None:
        extra = {**extra, "notes": [coverage, *extra.get("notes", ())]}
    # a metric's own sections may replace the headline (value, ci, n, primary): read them back as one entry
    return MetricSummary.from_dict({**entry.to_dict(), **extra})


def coverage_note(name: str, scored: int, recs: Sequence[Record]) -> str | None:
    """One line when a metric scored under half its samples, with the commonest reason the records give."""
    if not recs or 2 * scored >= len(recs):
        return None
    reasons = Counter(str(r.details.get("skipped") or "no per-sample value") for r in recs if r.score is None)
    why = "; ".join(f"{reason} ({k})" for reason, k in reasons.most_common(2))
    return f"{name} scored {scored} of {len(recs)} samples: {why}"


def summarize(config: RunConfig, samples: Sequence[Sample], traces: dict[str, Trace],
              records: Sequence[Record]) -> Summary:
    by_metric: dict[str, list[Record]] = {}
    for r in records:
        by_metric.setdefault(r.metric, []).append(r)
    metrics: dict[str, MetricSummary] = {}
    curves: dict[str, CurveSummary] = {}
    for name, recs in by_metric.items():
        metric = get_metric(name)
        metrics[name] = metric_summary(name, recs, config.seed, config.args_for(metric))
        if metric.curve is not None:
            per = [c for c in (metric.curve(r) for r in recs if "refused" not in r.details) if c]
            if per:
                ys = [interpolate(c, GRID) for c in per]
                curves[name] = CurveSummary(
                    label=metric.curve_label, x=GRID,
                    mean=[sum(col) / len(col) for col in zip(*ys, strict=True)],
                    ci=[list(mean_estimate(list(col), config.seed).ci or (None, None))
                        for col in zip(*ys, strict=True)],
                    n=len(per), y_label=metric.curve_y_label,
                )
    mine = [traces[s.id] for s in samples if s.id in traces]
    stated = [t for t in mine if t.stated_answer is not None]
    return Summary(
        config=config.flat(),
        model=next(iter(traces.values())).model if traces else None,
        n_samples=len(samples),
        accuracy_with_cot=mean_estimate([float(correct(s, trace_key(traces[s.id]))) for s in samples if s.id in traces],
                                        config.seed),
        states_answer=mean_estimate([float(t.stated_answer is not None) for t in mine], config.seed),
        answer_matches_stated=mean_estimate([float(t.answer == t.stated_answer) for t in stated], config.seed),
        metrics=metrics,
        curves=curves,
        model_calls=sum(r.model_calls for r in records),
        cached_calls=sum(r.cached_calls for r in records),
    )
