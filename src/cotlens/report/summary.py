"""The summary: per metric a value with a bootstrap CI and n, plus every per-sample quantity and mean curves.

``summary.json`` is enough to read a run's results: nothing in it needs the records to be parsed again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from cotlens.metrics import get_metric
from cotlens.metrics.curves import interpolate
from cotlens.stats import mean_estimate
from cotlens.types import SCHEMA_VERSION, Record, Sample, Trace

GRID = [i / 20 for i in range(21)]


def summarize(config: Any, samples: Sequence[Sample], traces: dict[str, Trace],
              records: Sequence[Record]) -> dict[str, Any]:
    by_metric: dict[str, list[Record]] = {}
    for r in records:
        by_metric.setdefault(r.metric, []).append(r)
    metrics: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for name, recs in by_metric.items():
        metric = get_metric(name)
        stats = metric.summarize(recs, seed=config.seed)
        head = stats.pop("value")
        metrics[name] = {
            **head.to_dict(),
            "primary": metric.primary,
            "description": metric.description,
            "version": metric.version,
            "args": recs[0].args,
            "n_records": len(recs),
            "n_skipped": sum(1 for r in recs if r.score is None),
            "stats": {k: v.to_dict() for k, v in stats.items()},
        }
        if metric.extra_summary is not None:
            metrics[name].update(metric.extra_summary(recs, config.seed,
                                                      {"human_labels": getattr(config, "human_labels", None)}))
        if metric.curve is not None:
            per = [c for c in (metric.curve(r) for r in recs) if c]
            if per:
                ys = [interpolate(c, GRID) for c in per]
                curves[name] = {
                    "label": metric.curve_label,
                    "x": GRID,
                    "mean": [sum(col) / len(col) for col in zip(*ys, strict=True)],
                    "ci": [list(mean_estimate(list(col), config.seed).ci or (None, None))
                           for col in zip(*ys, strict=True)],
                    "n": len(per),
                }
    accuracy = mean_estimate([float(traces[s.id].answer == s.answer) for s in samples if s.id in traces],
                             config.seed)
    mine = [traces[s.id] for s in samples if s.id in traces]
    stated = [t for t in mine if t.stated_answer is not None]
    return {
        "schema": SCHEMA_VERSION,
        "config": dataclasses.asdict(config),
        "model": next(iter(traces.values())).model if traces else None,
        "n_samples": len(samples),
        "accuracy_with_cot": accuracy.to_dict(),
        "states_answer": mean_estimate([float(t.stated_answer is not None) for t in mine], config.seed).to_dict(),
        "answer_matches_stated": mean_estimate([float(t.answer == t.stated_answer) for t in stated],
                                               config.seed).to_dict(),
        "metrics": metrics,
        "curves": curves,
        "model_calls": sum(r.model_calls for r in records),
        "cached_calls": sum(r.cached_calls for r in records),
    }


def format_table(summary: dict[str, Any]) -> str:
    """The summary as a plain-text table (what ``cotlens report`` prints)."""
    rows = [("metric", "value", "95% CI", "n", "what")]
    for name, m in summary["metrics"].items():
        ci = m.get("ci")
        rows.append((
            name,
            "-" if m["value"] is None else f"{m['value']:.3f}",
            "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]",
            str(m["n"]),
            m["primary"],
        ))
    for label, key, what in (("(accuracy with CoT)", "accuracy_with_cot", "accuracy"),
                             ("(answer = CoT's stated answer)", "answer_matches_stated", "agreement")):
        e = summary.get(key) or {}
        if e.get("value") is not None:
            ci = e.get("ci") or [e["value"], e["value"]]
            rows.append((label, f"{e['value']:.3f}", f"[{ci[0]:.3f}, {ci[1]:.3f}]", str(e["n"]), what))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    model = (summary.get("model") or {}).get("spec", "?")
    cfg = summary.get("config", {})
    head = f"model {model}  task {cfg.get('task')}  n {summary.get('n_samples')}  seed {cfg.get('seed')}"
    return head + "\n" + "\n".join(lines)
