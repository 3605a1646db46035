"""``cotlens compare DIR DIR ... --out DIR``: the same metrics on two or more finished runs, paired on shared samples.

The first run is the baseline; each other run is compared with it. For each metric the runs share, on the
samples where both runs have a score (a record's ``score``, the per-sample quantity the metric's summary
averages), the comparison reports:

- each run's mean score on those samples, with its bootstrap interval;
- the mean paired difference (other - baseline), with a bootstrap interval that resamples pairs, and the two-sided
  p-value of a paired permutation test (``cotlens.stats.paired_difference``).

Pairing removes the variation between samples from the difference: two checkpoints that answer the same hard
questions wrong differ by what changed, not by which questions each drew. The same is done for accuracy with CoT.

Runs are refused, with the reason, when the comparison would not be like for like: a different task, no shared
sample, a shared sample id whose question, choices or answer differ, or a metric whose version or arguments
differ. Runs may differ in the model, its dtype, the seed and the generation settings: that is what is compared.
A metric that only some runs have is left out and named.

Writes ``compare.json`` (everything, per-sample pairs included) and ``report.html``
(``cotlens.analysis.compare_report``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cotlens.analysis.comparison import ComparedRun, Comparison, MetricComparison, Pair
from cotlens.elicit import correct, trace_key
from cotlens.runs.finished import SAMPLE_IDENTITY, load_finished
from cotlens.stats import mean_estimate, paired_difference
from cotlens.types import (
    CotlensError,
    Estimate,
    JsonObject,
    Sample,
    Summary,
)

ACCURACY = "(accuracy with CoT)"
"""The pseudo-metric for the answer after the CoT being right, compared like the metrics."""
SAMPLE_FIELDS = SAMPLE_IDENTITY[1:]
"""Fields a shared sample (same id) must have alike in every run."""


@dataclass(frozen=True)
class RunData:
    """What a comparison reads of a finished run."""

    dir: Path
    label: str
    task: str
    samples: dict[str, Sample]
    scores: dict[str, dict[str, float | None]]
    """Per metric (and ``ACCURACY``), each sample's score."""
    versions: dict[str, int]
    args: dict[str, JsonObject]
    summary: Summary


def read_run(run_dir: str | Path, label: str) -> RunData:
    run = load_finished(run_dir)
    scores: dict[str, dict[str, float | None]] = {}
    versions: dict[str, int] = {}
    args: dict[str, JsonObject] = {}
    for r in run.records:
        scores.setdefault(r.metric, {})[r.sample_id] = None if r.score is None else float(r.score)
        versions[r.metric] = r.metric_version
        args[r.metric] = dict(r.args or {})
    scores[ACCURACY] = {sid: float(correct(s, trace_key(run.traces[sid]))) for sid, s in run.samples.items()
                        if sid in run.traces}
    return RunData(run.dir, label, str(run.config["task"]), run.samples, scores, versions, args, run.summary)


def check_comparable(runs: Sequence[RunData]) -> tuple[list[str], list[str], list[str]]:
    """(shared sample ids in the baseline's order, metrics to compare, metrics left out); raises CotlensError
    naming the first reason the runs cannot be compared."""
    base = runs[0]
    for r in runs[1:]:
        if r.task != base.task:
            raise CotlensError(f"cannot compare {base.dir} and {r.dir}: different tasks ({base.task!r} vs {r.task!r})")
    shared = [sid for sid in base.samples if all(sid in r.samples for r in runs[1:])]
    if not shared:
        raise CotlensError(f"cannot compare: the runs share no sample ({', '.join(str(r.dir) for r in runs)}; a "
                           "generated task's samples depend on --seed, --n and --difficulty)")
    for r in runs[1:]:
        for sid in shared:
            for f in SAMPLE_FIELDS:
                if getattr(base.samples[sid], f) != getattr(r.samples[sid], f):
                    raise CotlensError(f"cannot compare {base.dir} and {r.dir}: sample {sid!r} has a different {f} "
                                       "(the task's samples differ)")
    names = list(dict.fromkeys(m for r in runs for m in r.scores))
    common = [m for m in names if all(m in r.scores for r in runs)]
    left_out = [m for m in names if m not in common]
    for m in common:
        if m == ACCURACY:
            continue
        for r in runs[1:]:
            if r.versions[m] != base.versions[m]:
                raise CotlensError(f"cannot compare {base.dir} and {r.dir}: metric {m} is version "
                                   f"{base.versions[m]} in one and {r.versions[m]} in the other")
            if r.args[m] != base.args[m]:
                diff = sorted(k for k in {*base.args[m], *r.args[m]} if base.args[m].get(k) != r.args[m].get(k))
                raise CotlensError(f"cannot compare {base.dir} and {r.dir}: metric {m} ran with different arguments "
                                   f"({', '.join(diff)})")
    if common == [ACCURACY]:
        raise CotlensError("cannot compare: the runs have no metric in common")
    return shared, [m for m in common if m != ACCURACY] + [ACCURACY], left_out


def compare_runs(runs: Sequence[RunData], seed: int = 0) -> Comparison:
    """The comparison of two or more ``runs`` (the first the baseline)."""
    labels = [r.label for r in runs]
    if len(set(labels)) != len(labels):
        raise CotlensError(f"compare: run labels must differ, got {', '.join(labels)}")
    shared, metrics, left_out = check_comparable(runs)
    base = runs[0]
    entries: dict[str, MetricComparison] = {}
    for m in metrics:
        head = base.summary.metrics.get(m)
        pairs = []
        for r in runs[1:]:
            both = [(sid, base.scores[m].get(sid), r.scores[m].get(sid)) for sid in shared]
            kept = [(sid, x, y) for sid, x, y in both if x is not None and y is not None]
            diff, p = paired_difference([x for _, x, _ in kept], [y for _, _, y in kept], seed)
            pairs.append(Pair(base.label, r.label, len(kept), len(both) - len(kept),
                              mean_estimate([x for _, x, _ in kept], seed),
                              mean_estimate([y for _, _, y in kept], seed), diff, p, kept))
        entries[m] = MetricComparison(
            primary=head.primary if head else "accuracy", version=base.versions.get(m), args=base.args.get(m, {}),
            headline={r.label: _headline(r, m) for r in runs},
            curves={r.label: r.summary.curves[m] for r in runs if m in r.summary.curves}, pairs=pairs)
    return Comparison(
        runs=[ComparedRun(r.label, str(r.dir), r.summary.model, len(r.samples), r.summary.config) for r in runs],
        baseline=base.label, task=base.task, shared_samples=len(shared), seed=seed, metrics_left_out=left_out,
        metrics=entries)


def _headline(run: RunData, metric: str) -> Estimate | None:
    """The metric's headline in the run's own summary (over all its samples)."""
    if metric == ACCURACY:
        return run.summary.accuracy_with_cot
    m = run.summary.metrics.get(metric)
    return m.headline if m is not None else None


def compare(dirs: Sequence[str | Path], out: str | Path, labels: Sequence[str] | None = None,
            seed: int = 0) -> Comparison:
    """Read the runs in ``dirs``, compare them (the first the baseline), write ``compare.json`` and
    ``report.html`` in ``out``; the comparison."""
    if len(dirs) < 2:
        raise CotlensError("compare needs at least two run directories")
    if labels is not None and len(labels) != len(dirs):
        raise CotlensError(f"--labels names {len(labels)} runs, but {len(dirs)} were given")
    names = list(labels) if labels is not None else _labels(dirs)
    result = compare_runs([read_run(d, name) for d, name in zip(dirs, names, strict=True)], seed)
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "compare.json").write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    from cotlens.analysis.compare_report import write_compare_report

    write_compare_report(o, result)
    return result


def _labels(dirs: Sequence[str | Path]) -> list[str]:
    """Each run's directory name; its whole path where two names coincide."""
    names = [Path(d).name or str(d) for d in dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in dirs]


def format_compare(result: Comparison) -> str:
    """The comparison as a text table: per metric and run, the mean on paired samples, the paired difference
    from the baseline with its CI, and the permutation p-value."""
    from cotlens.figures import est_text
    from cotlens.report.table import text_table

    rows = [("metric", "run", "n", "mean (paired samples)", "difference vs " + result.baseline, "p")]
    for m, e in result.metrics.items():
        for i, p in enumerate(e.pairs):
            if i == 0:
                rows.append((m, p.baseline, str(p.n), est_text(p.baseline_mean), "", ""))
            pv = "-" if p.p_value is None else f"{p.p_value:.3g}"
            rows.append(("", p.other, str(p.n), est_text(p.other_mean), est_text(p.difference), pv))
    lines = [f"task {result.task}  shared samples {result.shared_samples}  baseline {result.baseline}",
             text_table(rows)]
    if result.metrics_left_out:
        lines.append(f"not in every run, left out: {', '.join(result.metrics_left_out)}")
    return "\n".join(lines)
