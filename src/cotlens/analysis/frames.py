"""A finished run as pandas data frames: ``cotlens.load(DIR)``.

``records``: one row per record (metric, sample): ``metric``, ``metric_version``, ``sample_id``, ``score``, each of
the record's values as ``value.NAME``, each metric argument as ``arg.NAME``, the model's identity as
``model.NAME``, the generation settings as ``generation.NAME``, ``seed``, ``model_calls`` and ``cached_calls``.
A record's ``details`` (per-sample evidence, nested and metric-specific) stay out of the frame: they are in
``records.jsonl`` and ``RunFrames.details(metric, sample_id)``. Lists (a metric argument such as ``hints``) are kept as
tuples, so every cell can be compared and grouped on.

``scores``: one row per sample, one column per metric (the per-sample score each metric's summary averages),
beside the sample's question, gold answer and the answer read after its CoT.

``summary``: one row per metric: its headline ``value``, ``ci_low``, ``ci_high``, ``n`` and what the headline is.

pandas is the ``frames`` extra (``pip install 'cotlens[frames]'``), imported only here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotlens.runs.finished import load_finished
from cotlens.types import CotlensError, JsonObject


def _cell(v: Any) -> Any:
    """A value a frame can hold and compare: lists as tuples, objects as sorted JSON text."""
    if isinstance(v, list):
        return tuple(_cell(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return v


def _flat(prefix: str, d: JsonObject | None) -> JsonObject:
    return {f"{prefix}.{k}": _cell(v) for k, v in (d or {}).items()}


@dataclass
class RunFrames:
    """A finished run's results as data frames (see the module docstring)."""

    dir: Path
    records: Any
    """pandas.DataFrame: one row per record."""
    scores: Any
    """pandas.DataFrame: one row per sample, a column per metric."""
    summary: Any
    """pandas.DataFrame: one row per metric."""
    _details: dict[tuple[str, str], JsonObject]

    def details(self, metric: str, sample_id: str) -> JsonObject:
        """One record's evidence (its ``details``), as ``records.jsonl`` holds it."""
        try:
            return self._details[(metric, sample_id)]
        except KeyError:
            raise CotlensError(f"{self.dir}: no record of metric {metric!r} for sample {sample_id!r}") from None


def load(run_dir: str | Path) -> RunFrames:
    """The run in ``run_dir`` (a ``cotlens run --out`` directory) as data frames; a directory that is not a
    finished run raises CotlensError naming what is missing."""
    try:
        import pandas as pd
    except ImportError:
        raise CotlensError("cotlens.load needs pandas: pip install 'cotlens[frames]'") from None
    run = load_finished(run_dir)
    rows, details = [], {}
    for r in run.records:
        rows.append({"metric": r.metric, "metric_version": r.metric_version, "sample_id": r.sample_id,
                     "score": r.score, **_flat("value", r.values), **_flat("arg", r.args),
                     **_flat("model", r.model.to_dict()), **_flat("generation", r.generation), "seed": r.seed,
                     "model_calls": r.model_calls, "cached_calls": r.cached_calls})
        details[(r.metric, r.sample_id)] = r.details
    records = pd.DataFrame(rows)
    traces = run.traces
    scores = pd.DataFrame([{"sample_id": sid, "question": s.question, "answer": s.answer,
                            "answer_after_cot": traces[sid].answer if sid in traces else None}
                           for sid, s in run.samples.items()]).set_index("sample_id")
    if len(records):
        wide = records.pivot(index="sample_id", columns="metric", values="score")
        scores = scores.join(wide[list(dict.fromkeys(records["metric"]))])  # metrics in the run's order
    metric_rows = []
    for name, m in run.summary.metrics.items():
        ci = m.ci or (None, None)
        metric_rows.append({"metric": name, "value": m.value, "ci_low": ci[0], "ci_high": ci[1], "n": m.n,
                            "primary": m.primary, "version": m.version})
    frame = pd.DataFrame(metric_rows, columns=["metric", "value", "ci_low", "ci_high", "n", "primary", "version"])
    return RunFrames(run.dir, records, scores, frame.set_index("metric"), details)


__all__ = ["RunFrames", "load"]
