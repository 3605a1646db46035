"""What every report page shares: its style sheet, number formats and figures as inline PNGs."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}
details{border:1px solid #ddd;border-radius:4px;margin:6px 0;padding:4px 8px}
.cot{white-space:pre-wrap;background:#fafafa;padding:6px;border-left:3px solid #88a}
.step{border-bottom:1px dotted #bbb}.muted{color:#777}.warn{color:#a33}
"""


def fmt(x: Any) -> str:
    """A value to three decimals; "-" for none."""
    return "-" if x is None else f"{x:.3f}"


def ci_text(ci: Any) -> str:
    """A confidence interval as [low, high]; "-" for none."""
    return "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def figure_img(fig: Any, alt: str) -> str:
    """A matplotlib figure as an inline PNG <img> (the figure is closed)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
