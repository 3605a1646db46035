"""The summary as a plain-text table (what ``cotlens run`` and ``cotlens report`` print)."""

from __future__ import annotations

from collections.abc import Sequence

from cotlens.metrics import METRICS, get_metric
from cotlens.types import Summary


def format_table(summary: Summary) -> str:
    """The summary as a plain-text table (what ``cotlens report`` prints)."""
    rows = [("metric", "value", "95% CI", "n", "what")]
    for name, m in summary.metrics.items():
        rows.append((
            name,
            "-" if m.value is None else f"{m.value:.3f}",
            "-" if not m.ci else f"[{m.ci[0]:.3f}, {m.ci[1]:.3f}]",
            str(m.n),
            m.primary,
        ))
        for key in get_metric(name).also_print if name in METRICS else ():
            e = m.stats.get(key)
            if e is not None:
                rows.append((f"  {key}", "-" if e.value is None else f"{e.value:.3f}",
                             "-" if not e.ci else f"[{e.ci[0]:.3f}, {e.ci[1]:.3f}]", str(e.n), "per sample"))
    for label, e, what in (("(accuracy with CoT)", summary.accuracy_with_cot, "accuracy"),
                           ("(answer = CoT's stated answer)", summary.answer_matches_stated, "agreement")):
        if e.value is not None:
            ci = e.ci or (e.value, e.value)
            rows.append((label, f"{e.value:.3f}", f"[{ci[0]:.3f}, {ci[1]:.3f}]", str(e.n), what))
    model = summary.model.spec if summary.model else "?"
    dtype = summary.model.dtype if summary.model else "?"
    cfg = summary.config
    head = (f"model {model}  dtype {dtype}  task {cfg.get('task')}  n {summary.n_samples}  seed "
            f"{cfg.get('seed')}")
    notes = [f"note: {n}" for m in summary.metrics.values() for n in m.notes]
    return "\n".join([head, text_table(rows, rule=True), *notes])


def text_table(rows: Sequence[Sequence[str]], rule: bool = False) -> str:
    """Rows as aligned plain-text columns, the first row the header (underlined when ``rule``)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
