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


def events_table(result: ArmsResult) -> str:
    """Per arm, each event's count over seeds and its rate with the exact (Clopper-Pearson) 95% interval; the
    rules below the table."""
    names = list(dict.fromkeys(n for a in result.arms.values() for n in a.events))
    if not names:
        return ""
    rows = []
    for arm, a in result.arms.items():
        cells = []
        for n in names:
            r = a.events.get(n)
            if r is None or r.value is None:
                cells.append("<td class='muted'>-</td>")
                continue
            lo, hi = r.ci or (0.0, 1.0)
            cells.append(f"<td class='num'>{r.k} of {r.n}<br><span class='muted'>{r.value:.2f} [{lo:.2f}, "
                         f"{hi:.2f}]</span></td>")
        rows.append(f"<tr><td>{escape(arm)}</td>{''.join(cells)}</tr>")
    rules = next(iter(result.arms.values())).events
    legend = "".join(f"<li><b>{escape(n)}</b>: {escape(rules[n].rule)}</li>" for n in names if n in rules)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    return (f"<table><tr><th>arm</th>{head}</tr>{''.join(rows)}</table><ul class='legend'>{legend}</ul>")


def over_seeds(result: ArmsResult) -> str:
    """The report's "Over seeds" section: the counts of ``events_table`` with what a count means."""
    return ("<h2>Over seeds</h2>\n<p>Each seed is an independent run; a count is how many seeds showed it at the "
            "final checkpoint, with the exact\nbinomial (Clopper-Pearson) 95% interval of its rate.</p>\n"
            + events_table(result))


def seed_table(result: ArmsResult, keys: Sequence[str], heads: dict[str, str]) -> str:
    """Every seed's final checkpoint: its value of each of ``keys`` (bootstrap CI over problems) and which events
    it showed."""
    names = list(dict.fromkeys(n for a in result.arms.values() for n in a.events))
    head = "".join(f"<th>{escape(heads.get(k, k))}</th>" for k in keys) + "<th>events</th>"
    rows = []
    for arm, a in result.arms.items():
        last = a.checkpoints[-1]
        seeds = max((len(m.seeds) for m in last.measures.values()), default=0)
        for i in range(seeds):
            cells = "".join(est_cell(last.measures[k].seeds[i] if k in last.measures else None) for k in keys)
            shown = [n for n in names if n in a.events and a.events[n].seeds[i]]
            rows.append(f"<tr><td>{escape(arm)}</td><td class='num'>{i}</td>{cells}"
                        f"<td>{escape(', '.join(shown)) or '<span class=muted>none</span>'}</td></tr>")
    return f"<table><tr><th>arm</th><th>seed</th>{head}</tr>{''.join(rows)}</table>"


def seed_curves(result: ArmsResult, keys: Sequence[tuple[str, str]], colors: dict[str, str],
                skip: Sequence[str] = ()) -> str:
    """The training curves of every seed (thin lines, one colour per arm), one panel per logged quantity in
    ``keys`` (key, title); arms in ``skip`` log other quantities and are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(3.5 * len(keys), 2.8), dpi=100, squeeze=False)
    for ax, (key, title) in zip(axes[0], keys, strict=True):
        for arm, a in result.arms.items():
            if arm in skip:
                continue
            for i, log in enumerate(a.training.values()):
                ys = [c[key] for c in log.get("curve", []) if key in c]
                if ys:
                    ax.plot(range(1, len(ys) + 1), ys, lw=0.6, alpha=0.6, color=colors.get(arm),
                            label=arm if i == 0 else None)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    return figure_img(fig, "training curves, every seed")
