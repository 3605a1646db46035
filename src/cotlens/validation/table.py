"""The validation table people read: per metric (and variant scored apart), each comparison with its positive and
negative side, AUROC with CI, the verdict and, for a blind, reversed or unscored cell, why. ``cotlens validate``
prints it and writes it as ``validation.md``; the report opens with it."""

from __future__ import annotations

from dataclasses import dataclass

from cotlens.validation.result import Validation
from cotlens.validation.scoring import SIDES, side_name


@dataclass(frozen=True)
class CaseRow:
    metric: str
    comparison: str
    positive: str
    negative: str
    value: str
    verdict: str
    why: str
    role: str | None


def case_rows(result: Validation) -> list[CaseRow]:
    """A metric's own cases first, then those reported apart."""
    out: list[CaseRow] = []
    for label, comps in result.rows():
        for comp, c in sorted(comps.items(), key=lambda kv: kv[1].role != "case"):
            (a, ta), (b, tb) = SIDES[comp]
            value = "-" if c.auroc is None else f"{c.auroc:.2f}" + (
                f" [{c.ci[0]:.2f}, {c.ci[1]:.2f}]" if c.ci is not None else "")
            verdict = c.verdict or "-"
            if c.role == "case" and c.meets_target is not None:
                verdict += " (target met)" if c.meets_target else " (below 0.95)"
            elif c.role == "apart":
                verdict += " (apart)"
            out.append(CaseRow(label, comp, side_name(a, ta), side_name(b, tb), value, verdict, c.reason or "",
                               c.role))
    return out


def validation_table(result: Validation) -> str:
    """The table as Markdown (``validation.md``, and what ``cotlens validate`` prints)."""
    lines = ["| metric | comparison | positive (1) | negative (0) | AUROC [95% CI] | verdict | why |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.metric} | {r.comparison} | {r.positive} | {r.negative} | {r.value} | {r.verdict} | "
              f"{_cell(r.why)} |" for r in case_rows(result)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()
