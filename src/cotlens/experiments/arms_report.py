"""What the training experiments' reports share (``cotlens.experiments.arms``): one panel per measure, a line per arm
(the mean over seeds, a band for its t interval), and a table of the final checkpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from cotlens.experiments.arms import ArmsResult
from cotlens.figures import est_cell, figure_img, plot_estimates
from cotlens.types import Estimate


def panel(result: ArmsResult, key: str, title: str, colors: dict[str, str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 2.8), dpi=100)
    for arm, a in result.arms.items():
        plot_estimates(ax, [(c.step, c.get(key)) for c in a.checkpoints], label=arm, color=colors.get(arm))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("training step", fontsize=8)
    ax.tick_params(labelsize=7)
    if ax.get_legend_handles_labels()[0]:  # a measure with no value anywhere draws no line
        ax.legend(fontsize=6)
    return figure_img(fig, title)


def final_table(result: ArmsResult, keys: Sequence[str], heads: dict[str, str],
                extra: Sequence[tuple[str, str, Mapping[str, Estimate]]] = ()) -> str:
    """The final checkpoint of each arm, then the start (step 0), then ``extra`` rows (label, tooltip, values)."""
    head = "".join(f"<th>{escape(heads.get(k, k))}</th>" for k in keys)
    rows = []
    for arm, a in result.arms.items():
        last = a.checkpoints[-1]
        rows.append(f"<tr><td title='{escape(a.description, quote=True)}'>{escape(arm)}</td>"
                    + "".join(est_cell(last.get(k)) for k in keys) + "</tr>")
    start = {k: v.estimate for k, v in result.start.measures.items()}
    for label, tip, values in (("start", "step 0 of every arm", start), *extra):
        rows.append(f"<tr><td title='{escape(tip, quote=True)}'>{escape(label)}</td>"
                    + "".join(est_cell(values.get(k)) for k in keys) + "</tr>")
    return f"<table><tr><th>arm</th>{head}</tr>{''.join(rows)}</table>"
