"""The ``cotlens compare`` report: a table of paired differences and, per metric, the runs side by side."""

from __future__ import annotations

from html import escape
from pathlib import Path

from cotlens.analysis.comparison import Comparison, MetricComparison
from cotlens.figures import CSS, est_cell, figure_img


def plot_metric(name: str, entry: MetricComparison) -> str:
    """Three panels: each run's mean on the paired samples (with CI); each other run's per-sample differences from
    the baseline (jittered dots) with the mean difference and its CI; the runs' mean curves, where the metric
    has one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    curves = entry.curves
    fig, axes = plt.subplots(1, 3 if curves else 2, figsize=(12 if curves else 8.5, 3.3), dpi=100)
    pairs = entry.pairs
    runs = [pairs[0].baseline] + [p.other for p in pairs]
    means = [pairs[0].baseline_mean] + [p.other_mean for p in pairs]
    ax = axes[0]
    for i, e in enumerate(means):
        if e.value is None:
            continue
        ci = e.ci or (e.value, e.value)
        ax.errorbar([i], [e.value], yerr=[[e.value - ci[0]], [ci[1] - e.value]], fmt="o", capsize=4,
                    color=f"C{i}")
    ax.set_xticks(range(len(runs)), [r[:18] for r in runs], fontsize=8)
    ax.set_xlim(-0.5, len(runs) - 0.5)
    ax.set_ylabel(f"mean {entry.primary}")
    ax.set_title(f"{name}: each run (paired samples)", fontsize=9)
    ax = axes[1]
    rng = np.random.default_rng(0)
    for i, p in enumerate(pairs):
        d = [y - x for _, x, y in p.per_sample]
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=10, alpha=0.5, color=f"C{i + 1}")
        e = p.difference
        if e.value is not None:
            ci = e.ci or (e.value, e.value)
            ax.errorbar([i + 0.3], [e.value], yerr=[[e.value - ci[0]], [ci[1] - e.value]], fmt="D",
                        capsize=4, color="k")
    ax.axhline(0, color="#999", lw=1, ls=":")
    ax.set_xticks(range(len(pairs)), [f"{p.other[:14]} - {p.baseline[:14]}" for p in pairs], fontsize=8)
    ax.set_xlim(-0.5, len(pairs) - 0.2)
    ax.set_ylabel("per-sample difference")
    ax.set_title("paired differences (black: mean, 95% CI)", fontsize=9)
    if curves:
        ax = axes[2]
        for i, r in enumerate(runs):
            c = curves.get(r)
            if not c:
                continue
            ax.plot(c.x, c.mean, marker="o", ms=2, color=f"C{i}", label=f"{r[:18]} (n={c.n})")
            lo = [b[0] if b[0] is not None else m for b, m in zip(c.ci, c.mean, strict=True)]
            hi = [b[1] if b[1] is not None else m for b, m in zip(c.ci, c.mean, strict=True)]
            ax.fill_between(c.x, lo, hi, alpha=0.15, color=f"C{i}")
            ax.set_xlabel(c.label)
            ax.set_ylabel(c.y_label)
        ax.set_title("curves (each run's own samples)", fontsize=9)
        ax.legend(fontsize=7)
    return figure_img(fig, f"{name}: runs compared")


def _table(result: Comparison) -> str:
    rows = []
    for m, e in result.metrics.items():
        for i, p in enumerate(e.pairs):
            first = (f"<td rowspan='{len(e.pairs)}'>{escape(m)}<br><span class='muted'>{escape(e.primary)}"
                     f"</span></td>{est_cell(p.baseline_mean)}") if i == 0 else ""
            pv = "-" if p.p_value is None else f"{p.p_value:.3g}"
            skipped = f" <span class='muted'>({p.not_scored} not scored)</span>" if p.not_scored else ""
            rows.append(f"<tr>{first}<td>{escape(p.other)}</td><td class='num'>{p.n}{skipped}</td>"
                        f"{est_cell(p.other_mean)}{est_cell(p.difference)}<td class='num'>{pv}</td></tr>")
    return ("<table><tr><th>metric</th><th>baseline " + escape(result.baseline) + "</th><th>run</th><th>pairs</th>"
            "<th>run's mean</th><th>difference (run - baseline)</th><th>permutation p</th></tr>"
            + "".join(rows) + "</table>")


def _runs(result: Comparison) -> str:
    rows = []
    for r in result.runs:
        cfg = r.config
        rows.append(f"<tr><td>{escape(r.label)}</td><td><code>{escape(r.dir)}</code></td>"
                    f"<td>{escape(r.model.spec if r.model else '?')}</td>"
                    f"<td>{escape(r.model.dtype if r.model else '?')}</td>"
                    f"<td class='num'>{escape(str(cfg.get('seed', '?')))}</td>"
                    f"<td class='num'>{escape(str(cfg.get('temperature', '?')))}</td>"
                    f"<td class='num'>{r.n_samples}</td></tr>")
    return ("<table><tr><th>run</th><th>directory</th><th>model</th><th>dtype</th><th>seed</th><th>temperature</th>"
            "<th>samples</th></tr>" + "".join(rows) + "</table>")


def render_compare(result: Comparison) -> str:
    left = result.metrics_left_out
    note = (f"<p class='muted'>Not in every run, left out: {escape(', '.join(left))}.</p>" if left else "")
    plots = "".join(f"<h3>{escape(m)}</h3>{plot_metric(m, e)}" for m, e in result.metrics.items()
                    if e.pairs and e.pairs[0].n)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>cotlens compare</title><style>{CSS}</style>"
        "</head><body><h1>cotlens compare</h1>"
        f"<p>Task <code>{escape(result.task)}</code>; {result.shared_samples} samples shared by every run. "
        "Each run is paired with the baseline on the samples both scored: the difference is the mean of "
        "per-sample differences, its 95% CI a bootstrap over pairs, its p-value a paired permutation test (sign "
        "flips; exact when there are at most 10,000 flips).</p>"
        f"{_runs(result)}{_table(result)}{note}<h2>Side by side</h2>{plots}</body></html>")


def write_compare_report(out: Path, result: Comparison) -> Path:
    path = out / "report.html"
    path.write_text(render_compare(result), encoding="utf-8")
    return path
