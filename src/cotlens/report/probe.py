"""The latent-probe section of a run report: held-out probe accuracy along the CoT, one line per layer with its
95% bootstrap band, chance as a dashed line, and the same numbers as a table."""

from __future__ import annotations

from html import escape
from typing import Any

from cotlens.report.figures import ci_text, figure_img, fmt


def plot_probe(probe: dict[str, Any], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=100)
    x = probe["fractions"]
    for layer in probe["layers"]:
        pts = probe["by_layer"][str(layer)]["along_cot"]
        ys = [p["value"] for p in pts]
        mark = " (commitment)" if layer == probe["commit_layer"] else ""
        ax.plot(x, ys, marker="o", ms=3, label=f"layer {layer}{mark}")
        ax.fill_between(x, [(p["ci"] or [p["value"]] * 2)[0] for p in pts],
                        [(p["ci"] or [p["value"]] * 2)[1] for p in pts], alpha=0.12)
    ax.axhline(probe["chance"], ls="--", color="#777", lw=1, label="chance (most common answer)")
    ax.set_xlabel("fraction of the CoT read")
    ax.set_ylabel("held-out probe accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    return figure_img(fig, title)


def render_probe(entry: dict[str, Any]) -> str:
    probe = entry.get("probe") or {}
    if "by_layer" not in probe:
        return f"<h2>Latent probe</h2><p class='muted'>{escape(str(probe.get('why', 'no probe')))}</p>"
    out = ["<h2>Latent probe</h2>",
           f"<p>A linear probe for the final answer, fitted on held-out samples ({probe['folds']}-fold "
           f"cross-fitting, n={probe['n']}, {probe['n_classes']} answers seen, chance {fmt(probe['chance'])}). "
           f"Latent commitment uses layer {probe['commit_layer']}; "
           f"{fmt(probe['unread_at_end'])} of samples are not read even at the CoT's end.</p>",
           plot_probe(probe, "latent probe accuracy along the CoT")]
    head = "".join(f"<th>{fmt(f)}</th>" for f in probe["fractions"])
    out.append(f"<table><tr><th>layer</th>{head}<th>at the answer</th></tr>")
    for layer in probe["layers"]:
        e = probe["by_layer"][str(layer)]
        cells = "".join(f"<td class='num'>{fmt(p['value'])}<br><span class='muted'>{ci_text(p['ci'])}</span></td>"
                        for p in e["along_cot"])
        out.append(f"<tr><td>{escape(str(layer))}</td>{cells}<td class='num'>{fmt(e['at_answer']['value'])}</td>"
                   "</tr>")
    out.append("</table>")
    return "\n".join(out)
