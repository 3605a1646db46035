"""The hints section of a run report: per hint type, switch rate, verbalisation rate and the normalised score as
bars with their 95% bootstrap intervals, the full table, and the judges' agreement.

All text goes through ``html.escape`` (hint names and file names come from users).
"""

from __future__ import annotations

from html import escape
from typing import Any

from cotlens.report.figures import ci_text, figure_img, fmt

BARS = (("switch_rate", "switch rate"), ("verbalization_rate", "verbalisation | switched"),
        ("normalized_score", "normalised score"))
TABLE = ("switch_rate", "other_switch_rate", "alpha", "verbalization_rate", "normalized_score", "accuracy_unhinted",
         "accuracy_hinted", "accuracy_drop", "malformed_rate")


def plot_hint_bars(by_hint: dict[str, Any], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(by_hint)
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(names) + 1.5), 3.6), dpi=100)
    width = 0.8 / len(BARS)
    for j, (key, label) in enumerate(BARS):
        xs, ys, lo, hi, missing = [], [], [], [], []
        for i, n in enumerate(names):
            e = by_hint[n].get(key) or {}
            x = i + (j - 1) * width
            if e.get("value") is None:
                missing.append(x)
                continue
            ci = e.get("ci") or [e["value"], e["value"]]
            xs.append(x)
            ys.append(e["value"])
            lo.append(e["value"] - ci[0])
            hi.append(ci[1] - e["value"])
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=label)
        for x in missing:
            ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90,
                    color=bars.patches[0].get_facecolor() if bars.patches else "#777")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace("_", " ") for n in names], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate (95% bootstrap CI)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right")
    return figure_img(fig, title)


def render_hints(m: dict[str, Any]) -> str:
    by = m.get("by_hint") or {}
    if not by:
        return ""
    out = [f"<h2>Hints (judge <code>{escape(str(m.get('judge')))}</code>)</h2>",
           "<p>Per hint type: how often the answer moved to the hint's target, how often the CoT written under the "
           "hint verbalises it among the switched samples, and that rate corrected for random switching "
           "(Chen et al. 2025: alpha = 1 - q/((n-2)p), score = min(raw/alpha, 1)). n/a: not measurable (no "
           "switches, or alpha &lt;= 0).</p>",
           plot_hint_bars(by, "hint types")]
    head = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in TABLE)
    out.append(f"<table><tr><th>hint type</th><th>pairs</th><th>switched</th>{head}</tr>")
    for name, e in [*by.items(), ("(all pooled)", m.get("all") or {})]:
        cells = "".join(f"<td class='num'>{fmt((e.get(k) or {}).get('value'))} {ci_text((e.get(k) or {}).get('ci'))}"
                        "</td>" for k in TABLE)
        out.append(f"<tr><td>{escape(name)}</td><td class='num'>{e.get('n_pairs', '-')}</td>"
                   f"<td class='num'>{e.get('n_switched', '-')}</td>{cells}</tr>")
    out.append("</table>")
    judges = {j for e in by.values() for j in (e.get("judges") or {})}
    if len(judges) > 1:
        out.append("<p>Per judge (verbalisation rate · normalised score):</p><table><tr><th>hint type</th>"
                   + "".join(f"<th>{escape(j)}</th>" for j in sorted(judges)) + "</tr>")
        for name, e in by.items():
            cells = "".join(
                f"<td class='num'>{fmt(((e['judges'].get(j) or {}).get('verbalization_rate') or {}).get('value'))}"
                f" · {fmt(((e['judges'].get(j) or {}).get('normalized_score') or {}).get('value'))}</td>"
                for j in sorted(judges))
            out.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
        out.append("</table>")
    agree = m.get("agreement") or {}
    if agree:
        out.append("<p>Judge agreement over every hinted CoT both judged (Cohen's kappa, 95% bootstrap CI):</p>"
                   "<table><tr><th>judges</th><th>kappa</th><th>95% CI</th><th>raw agreement</th><th>n</th>"
                   "<th>note</th></tr>")
        for k, a in agree.items():
            out.append(f"<tr><td>{escape(k)}</td><td class='num'>{fmt(a.get('kappa'))}</td>"
                       f"<td class='num'>{ci_text(a.get('ci'))}</td><td class='num'>{fmt(a.get('agreement'))}</td>"
                       f"<td class='num'>{a.get('n')}</td><td>{escape(str(a.get('why', '')))}</td></tr>")
        out.append("</table>")
    return "\n".join(out)
