"""The report of a series of checkpoints: each metric's headline along the steps (CI band), a table, and a link
to each step's own report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from cotlens.figures import CSS, est_cell, figure_img, plot_estimates
from cotlens.runs.series_result import SeriesResult, SeriesStep


def _plot(steps: Sequence[SeriesStep], name: str, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 2.8), dpi=100)
    plot_estimates(ax, [(s.step, s.accuracy_with_cot if name == "accuracy" else s.metrics[name].estimate)
                        for s in steps])
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    return figure_img(fig, title)


def write_report(out: Path, result: SeriesResult) -> Path:
    steps = result.steps
    names = list(steps[0].metrics) if steps else []
    plots = _plot(steps, "accuracy", "accuracy with CoT") + "".join(
        _plot(steps, n, f"{n} ({steps[0].metrics[n].primary})") for n in names)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td><a href='{escape(s.dir, quote=True)}/report.html'>{s.step}</a></td>"
        + est_cell(s.accuracy_with_cot) + "".join(est_cell(s.metrics[n].estimate) for n in names) + "</tr>"
        for s in steps)
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: series</title>
<style>{CSS}</style></head><body>
<h1>A series of checkpoints</h1><p><code>{escape(result.model)}</code>: {len(steps)} checkpoints. Each step
links to its own run's report.</p>
<div>{plots}</div>
<table><tr><th>step</th><th>accuracy</th>{head}</tr>{rows}</table>
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
