"""What every report page shares: its style sheet, number formats, figures as inline PNGs and answer badges."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from cotlens.types import LETTERS, Estimate

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
details{border:1px solid #ddd;border-radius:4px;margin:6px 0;padding:4px 8px}
.cot{white-space:pre-wrap;background:#fafafa;padding:6px;border-left:3px solid #88a}
.step{border-bottom:1px dotted #bbb}.muted{color:#777}.warn{color:#a33}
.chip{display:inline-block;min-width:1.3em;text-align:center;border-radius:3px;padding:0 3px;margin:0 2px;
font:600 0.9em monospace;background:#e6e6e6}.same{background:#cdeccd}.moved{background:#f4c7c7}
.odd{outline:2px dashed #c80;outline-offset:-2px}mark{background:#ffe07a;padding:0 1px}
.ev{margin:4px 0 10px 0}.ev table{margin:4px 0}.ev td{vertical-align:top}.ev .cot{margin:2px 0}
.legend{font-size:0.85em;color:#666}
"""


def fmt(x: Any) -> str:
    """A value to three decimals; "-" for none."""
    return "-" if x is None else f"{x:.3f}"


def ci_text(ci: Any) -> str:
    """A confidence interval as [low, high]; "-" for none."""
    return "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def est_text(e: Estimate | None) -> str:
    """An estimate as plain text: "0.500 [0.40, 0.60]"; "-" for none."""
    if e is None or e.value is None:
        return "-"
    ci = e.ci
    return f"{e.value:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def est_cell(e: Estimate | None) -> str:
    """An estimate as a table cell: the value, its CI muted below it; "-" for none."""
    if e is None or e.value is None:
        return "<td class='muted'>-</td>"
    ci = e.ci
    below = f"<br><span class='muted'>[{ci[0]:.2f}, {ci[1]:.2f}]</span>" if ci else ""
    return f"<td class='num'>{fmt(e.value)}{below}</td>"


def plot_estimates(ax: Any, points: Sequence[tuple[float, Estimate | None]], **line: Any) -> None:
    """Estimates along x on a matplotlib axis: a line through the values, a band for the CIs; points without a
    value are left out. ``line``: matplotlib line options (label, color)."""
    pts = [(x, e.value, e.ci) for x, e in points if e is not None and e.value is not None]
    if not pts:
        return
    drawn = ax.plot([x for x, _, _ in pts], [v for _, v, _ in pts], marker="o", ms=3, **line)[0]
    band = [(x, ci) for x, _, ci in pts if ci]
    if band:
        ax.fill_between([b[0] for b in band], [b[1][0] for b in band], [b[1][1] for b in band],
                        color=drawn.get_color(), alpha=0.15, lw=0)


def figure_img(fig: Any, alt: str) -> str:
    """A matplotlib figure as an inline PNG <img> (the figure is closed)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def chip(answer: int | str | None, reference: int | str | None = None, malformed: bool = False,
         title: str = "") -> str:
    """An answer letter as a small badge: green where it equals ``reference``, red where it differs, grey with
    none; dashed where the answer is malformed (the choices hold under half the probability)."""
    if answer is None:
        return "<span class='chip'>-</span>"
    kind = "" if reference is None else (" same" if answer == reference else " moved")
    odd = " odd" if malformed else ""
    tip = f" title='{escape(title, quote=True)}'" if title else ""
    shown = answer if isinstance(answer, str) else LETTERS[answer]  # a free-form answer: its extracted text
    return f"<span class='chip{kind}{odd}'{tip}>{escape(shown[:16])}</span>"


def marked(text: str, needle: str) -> str:
    """``text`` escaped, with each case-insensitive occurrence of ``needle`` in a <mark>."""
    if not needle:
        return escape(text)
    parts = re.split(f"({re.escape(needle)})", text, flags=re.IGNORECASE)
    return "".join(f"<mark>{escape(p)}</mark>" if i % 2 else escape(p) for i, p in enumerate(parts))


def sample_anchor(ident: str, kind: str = "sample") -> str:
    """The id of an item's section in a report (``#sample-...`` for a run's sample, ``#episode-...`` for a monitor's
    episode): its characters outside [A-Za-z0-9_-] written as ``.XX`` hex, so any id makes a valid, distinct
    anchor."""
    return f"{kind}-" + "".join(c if c.isascii() and (c.isalnum() or c in "_-") else f".{ord(c):x}." for c in ident)


def linked(items: Sequence[tuple[str, str]], most: int = 12) -> str:
    """Links to report sections, given as (anchor, label HTML), the first ``most`` shown and the rest counted."""
    shown = ", ".join(f"<a href='#{a}'>{label}</a>" for a, label in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


OPEN_ANCHOR_JS = ("<script>function openAnchor(){var e=document.getElementById(decodeURIComponent("
                  "location.hash.slice(1)));if(e&&e.tagName==='DETAILS'){e.open=true;e.scrollIntoView();}}"
                  "window.addEventListener('hashchange',openAnchor);window.addEventListener('load',openAnchor);"
                  "</script>")
"""Opens the ``<details>`` a link points at (a sample's evidence, folded by default)."""
