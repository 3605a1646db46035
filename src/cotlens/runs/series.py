"""A series of checkpoints run as one: ``cotlens run --model organism:DIR`` where DIR holds ``step-N``
checkpoints (``cotlens experiment pressure`` writes them) runs the battery on each, one run directory per step
(``OUT/step-N``, each an ordinary run: cached, resumable, with its own report), then writes ``OUT/series.json``
(each metric's headline with its CI at every step) and ``OUT/report.html`` (the headlines along the steps).
One checkpoint of a series is ``organism:DIR@N``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from cotlens.organisms.model import series
from cotlens.runs.config import RunConfig
from cotlens.runs.runner import run
from cotlens.runs.series_result import Headline, SeriesResult, SeriesStep


def series_specs(spec: str) -> list[tuple[int, str]]:
    """(step, spec) of each checkpoint when ``spec`` names a series; [] otherwise."""
    kind, _, rest = spec.partition(":")
    if kind != "organism":
        return []
    return [(step, f"organism:{rest}@{step}") for step, _ in series(rest)]


def run_series(config: RunConfig, progress: bool = True) -> SeriesResult:
    out = Path(config.out)
    steps: list[SeriesStep] = []
    for step, spec in series_specs(config.model):
        if progress:
            print(f"cotlens: step {step}: {spec}")
        summary = run(dataclasses.replace(config, model=spec, out=str(out / f"step-{step}")), progress)
        steps.append(SeriesStep(step, spec, f"step-{step}", summary.accuracy_with_cot,
                                {name: Headline(m.value, m.ci, m.n, m.primary) for name, m in summary.metrics.items()}))
    result = SeriesResult(config.model, steps)
    (out / "series.json").write_text(json.dumps(result.to_dict(), indent=1))
    from cotlens.runs.series_report import write_report

    write_report(out, result)
    return result


def format_series(result: SeriesResult) -> str:
    """Per step, accuracy and each metric's headline with its CI."""
    from cotlens.figures import est_text as cell
    from cotlens.report.table import text_table

    names = list(result.steps[0].metrics) if result.steps else []
    rows: list[tuple[str, ...]] = [("step", "accuracy", *names)]
    for s in result.steps:
        rows.append((str(s.step), cell(s.accuracy_with_cot), *(cell(s.metrics[n].estimate) for n in names)))
    return text_table(rows)
