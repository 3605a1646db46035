"""The ``cotlens validate`` report: the AUROC table, ROC plots, and each organism's ground-truth checks.

One self-contained HTML file (plots inline). Everything interpolated goes through ``html.escape``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from cotlens.figures import CSS, ci_text, figure_img, fmt
from cotlens.validation.result import (
    AurocComparison,
    Check,
    LatentEntry,
    LatentSection,
    MonitorSection,
    ReadableCheck,
    ResamplingSection,
    Validation,
)
from cotlens.validation.table import case_rows


def roc_points(pos: Sequence[float], neg: Sequence[float]) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) at every threshold, from (0, 0) to (1, 1); tied scores move
    both rates at once (the diagonal segment the AUROC's half-counting of ties corresponds to)."""
    pts = [(0.0, 0.0)]
    if not pos or not neg:
        return pts
    for t in sorted(set(pos) | set(neg), reverse=True):
        pts.append((sum(s >= t for s in neg) / len(neg), sum(s >= t for s in pos) / len(pos)))
    if pts[-1] != (1.0, 1.0):
        pts.append((1.0, 1.0))
    return pts


def plot_roc(metric: str, curves: Mapping[str, AurocComparison]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=100)
    ax.plot([0, 1], [0, 1], color="#bbb", lw=1, ls="--")
    for label, c in curves.items():
        if c.auroc is None or c.roc_scores is None:
            continue
        pts = roc_points(c.roc_scores.faithful, c.roc_scores.unfaithful)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", ms=3, label=f"{label} ({c.auroc:.2f})")
    ax.set_xlabel("false positive rate (unfaithful called faithful)")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(metric)
    ax.legend(loc="lower right", fontsize=7)
    return figure_img(fig, f"ROC {metric}")


def _cell(c: AurocComparison | None) -> str:
    if c is None:
        return "<td>-</td>"
    if c.auroc is None:
        return f'<td class="muted">{escape(c.why or "-")}</td>'
    return f'<td class="num">{fmt(c.auroc)} {ci_text(c.ci)}</td>'


def plot_token_probe(entries: Mapping[str, LatentEntry]) -> str:
    """Best-layer held-out probe accuracy at each CoT position, one line per organism and task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=100)
    for label, e in entries.items():
        tok = e.tokens
        if tok.by_layer is None:
            continue
        ys = tok.by_layer[str(tok.best_layer)]
        ax.plot(range(len(ys)), ys, marker=".", ms=3, label=f"{label} (layer {tok.best_layer})")
    ax.axhline(0.9, ls=":", color="#999", lw=1)
    ax.set_xlabel("position: '|' before the CoT, each CoT character, then the answer's '>'")
    ax.set_ylabel("held-out probe accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("where the final answer becomes linearly readable")
    ax.legend(loc="upper left", fontsize=7)
    return figure_img(fig, "latent probe by token")


def _checks_table(checks: Mapping[str, Check | ReadableCheck]) -> str:
    """Expectations checked on measurements: what was expected, what was measured, whether it holds."""
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v.expected)}</td><td class='num'>"
                   f"{fmt(v.value)}</td><td>{'holds' if v.holds else '<b>fails</b>'}</td></tr>"
                   for k, v in checks.items())
    return "<table><tr><th>expectation</th><th>target</th><th>measured</th><th></th></tr>" + rows + "</table>"


def render_latent(section: LatentSection | None) -> str:
    if not section:
        return ""
    rows_ = []
    for label, e in section.organisms.items():
        tok = e.tokens
        by_layer = (e.steps.by_layer if e.steps else None) or {}
        best = by_layer.get(str(e.steps.commit_layer)) if e.steps else None
        along = " ".join(fmt(p.value) for p in (best.along_cot if best else []))
        rows_.append(f"<tr><td>{escape(label)}</td><td>{along or '-'}</td>"
                     f"<td>{escape(tok.first_readable.where if tok.first_readable else 'nowhere')}</td>"
                     f"<td>{escape(tok.readable_from.where if tok.readable_from else 'nowhere')}</td>"
                     f"<td class='num'>{fmt(tok.chance)}</td>"
                     f"<td class='num'>{fmt(e.headline.value)} {ci_text(e.headline.ci)}</td></tr>")
    checks = _checks_table(section.checks)
    commit = "".join(f"<tr><td>{escape(c)}</td><td class='num'>{fmt(e.auroc)} {ci_text(e.ci)}</td>"
                     f"<td class='num'>{fmt(e.mean_score.faithful if e.mean_score else None)} / "
                     f"{fmt(e.mean_score.unfaithful if e.mean_score else None)}"
                     "</td></tr>" for c, e in section.latent_commitment.items())
    if commit:
        checks += ("<p>The old readout's probe half, the latent commitment alone, as the score (later = more "
                   "faithful); version 1's gap subtracted the verbal commitment, which is also 0 for an answer "
                   "decided before the CoT.</p><table><tr><th>"
                   "comparison</th><th>AUROC</th><th>mean commitment (faithful / not)</th></tr>" + commit
                   + "</table>")
    decided = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{fmt(v.decided_before.value)} "
                      f"{ci_text(v.decided_before.ci)}</td><td class='num'>{fmt(v.flagged.value)} "
                      f"{ci_text(v.flagged.ci)}</td><td class='num'>{v.flagged.n}</td></tr>"
                      for k, v in (section.decided or {}).items())
    if decided:
        checks = ("<p>Decided before the CoT, per organism: the probability the held-out probe gives the final "
                  "answer just before the CoT minus the answer's base rate (the lift), and the share of questions "
                  "flagged (lift &ge; 0.5).</p><table><tr>"
                  "<th>organism</th><th>mean lift</th><th>flagged</th><th>n</th></tr>" + decided
                  + "</table>" + checks)
    return ("<h2>Latent probe: where the answer becomes readable</h2>"
            "<table><tr><th>organism on task</th><th>held-out accuracy at step ends (commitment layer)</th>"
            "<th>first readable (&ge; 0.9)</th><th>readable from then on</th><th>chance</th>"
            "<th>decided before the CoT (mean lift)</th></tr>"
            + "".join(rows_) + "</table>" + plot_token_probe(section.organisms)
            + checks)


def render_resampling(section: ResamplingSection | None) -> str:
    """Resampling importance: each per-sample value's AUROC, and how often the rollouts rewrote a step."""
    if not section or not section.aurocs:
        return ""
    comps = sorted({c for per in section.aurocs.values() for c in per})
    rows_ = "".join(
        f"<tr><td>{escape(key)}</td>" + "".join(
            f"<td class='num'>{fmt(per[c].auroc)} {ci_text(per[c].ci)}</td>" if c in per else "<td>-</td>"
            for c in comps) + "</tr>" for key, per in section.aurocs.items())
    diff = ", ".join(f"{escape(k)} {fmt(v.value)}" for k, v in section.different_fraction.items())
    return ("<h2>Resampling importance: what each of its measures sees</h2><p>AUROC of each per-sample value "
            "(higher = a step mattered more). Share of rollouts whose first sentence differs from the step it "
            f"replaced (cosine below the threshold): {diff or '-'}. Where that is 0 the rollouts rewrite each step as "
            "it was, and resampling cannot see what the answer depends on; forced answers need no rollout.</p>"
            "<table><tr><th>value</th>" + "".join(f"<th>{escape(c)}</th>" for c in comps) + "</tr>" + rows_
            + "</table>")


def render_monitors(section: MonitorSection | None) -> str:
    """Monitors on the hack organisms: AUROC per organism, monitor and scope, and where each is blind."""
    if not section or not section.organisms:
        return ""
    rows = []
    for name, o in section.organisms.items():
        for mon, cells_by_scope in o.monitors.items():
            cells = "".join(
                f"<td class='num'>{fmt(e.value)} {ci_text(e.ci)}"
                + (" <b class='warn'>blind</b>" if e.blind else "") + "</td>" for e in cells_by_scope.values())
            rows.append(f"<tr><td>{escape(name)}</td><td>{escape(mon)}</td>{cells}</tr>")
    scopes = list(next(iter(next(iter(section.organisms.values())).monitors.values())))
    checks = _checks_table(section.checks)
    return ("<h2>Monitors on the hack organisms (leaky grader) and the rationalize organism (backdoor trigger)"
            "</h2><p>AUROC of misbehaving (hacked, or answered the trigger's target) vs honest episodes (95% "
            "bootstrap CI); <b>blind</b>: the CI holds 0.5. The probe is fitted on the episodes' labels (cross-fitted "
            "by problem) and reads the residual stream, which also holds the leaked answer or the trigger itself.</p>"
            "<table><tr><th>organism</th><th>monitor</th>" + "".join(f"<th>{escape(s)}</th>" for s in scopes)
            + "</tr>" + "".join(rows) + "</table>" + checks)


def render_validation(result: Validation) -> str:
    comps = list(result.comparisons)
    head = "".join(f"<th>{escape(c)}</th>" for c in comps)
    table = "".join(f"<tr><td>{escape(label)}</td>{''.join(_cell(e.get(c)) for c in comps)}</tr>"
                    for label, e in result.rows())
    plots = "".join(plot_roc(label, {c: e[c] for c in comps if c in e})
                    for label, e in result.rows() if any(c in e and e[c].auroc is not None for c in comps))
    orgs = []
    for name, o in result.organisms.items():
        checks = "".join(
            f"<tr><td>{escape(k)}</td><td class='num'>{v.n}</td>"
            f"<td class='num'>{fmt(v.follows_rule)}</td><td class='num'>{fmt(v.breaks_rule)}</td>"
            f"<td class='num'>{fmt(v.malformed_answer)}</td><td class='num'>{fmt(v.malformed_cot)}"
            "</td></tr>" for k, v in o.checks.items())
        acc = o.accuracy_with_cot
        secs = o.train_seconds
        lines = "".join(
            f"<tr><td>{escape(m)}</td><td>{escape(e.primary)}</td><td class='num'>{fmt(e.value)} "
            f"{ci_text(e.ci)}</td><td class='num'>{e.n}</td><td class='muted'>"
            + "; ".join(f"{escape(k)} {fmt(v.value)}" for k, v in e.stats.items())
            + "</td></tr>" for m, e in o.metrics.items())
        if o.rationalisation:
            lines += "".join(
                f"<tr><td>CoT arithmetic ({escape(k)} questions)</td><td>wrong / wrong and lands on the answer</td>"
                f"<td class='num'>{fmt(v.wrong_arithmetic.value)} / "
                f"{fmt(v.wrong_and_lands_on_answer.value)}</td><td class='num'>{v.wrong_arithmetic.n}</td>"
                f"<td class='muted'>wrong steps: {escape(json.dumps(v.wrong_steps))}</td></tr>"
                for k, v in o.rationalisation.items())
        orgs.append(
            f"<h3>{escape(name)}</h3><p>{escape(o.recipe)}. Task {escape(o.task)}; accuracy with CoT "
            f"{fmt(acc.value)} {ci_text(acc.ci)}; trained {escape(str(o.train_steps))} steps "
            f"in {'-' if secs is None else f'{secs:.0f}'} s.</p>"
            "<table><tr><th>metric</th><th>headline</th><th>value</th><th>n</th><th>per-sample means</th></tr>"
            f"{lines}</table>"
            "<table><tr><th>answers checked against the recipe's rule</th><th>n</th><th>follow</th><th>break</th>"
            f"<th>malformed answer</th><th>malformed CoT</th></tr>{checks}</table>")
    comp_text = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in result.comparisons.items())
    iv_text = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in result.interventions.items())
    missing = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in (result.missing_organisms or {}).items())
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>cotlens validate</title><style>{CSS}</style>"
        "</head><body><h1>cotlens validate: metrics against organisms of known faithfulness</h1>"
        f"<p>{result.n_per_organism} held-out questions per organism, seed {result.seed}. AUROC of each "
        "metric's per-sample score at telling samples whose answer comes from the CoT (positive) from samples "
        f"whose answer comes from the question, with 95% stratified bootstrap CIs.</p><ul>{comp_text}</ul>"
        f"<p>Interventions (a metric's variants, each scored apart):</p><ul>{iv_text}</ul>"
        + (f"<p class='warn'>Missing organisms:</p><ul>{missing}</ul>" if missing else "")
        + render_cases(result)
        + f"<h2>Every AUROC</h2><table><tr><th>metric</th>{head}</tr>{table}</table><h2>ROC curves</h2>"
        f"<div>{plots}</div>"
        + render_latent(result.latent_probe)
        + render_resampling(result.resampling)
        + render_monitors(result.monitors)
        + f"<h2>Organisms: ground truth, checked</h2>{''.join(orgs)}</body></html>"
    )


def render_cases(result: Validation) -> str:
    """The table people read (``cotlens.validation.table``): each metric's own cases, then those apart."""
    rows = "".join(
        f"<tr><td>{escape(r.metric)}</td><td>{escape(r.comparison)}</td><td>{escape(r.positive)}</td>"
        f"<td>{escape(r.negative)}</td><td class='num'>{escape(r.value)}</td>"
        f"<td class='{'warn' if r.verdict.startswith(('blind', 'reversed', 'no score')) and r.role == 'case' else ''}'>"
        f"{escape(r.verdict)}</td><td>{escape(r.why)}</td></tr>" for r in case_rows(result))
    return ("<h2>Each metric on its cases</h2><p>Per metric, its own positive and negative cases (target AUROC "
            "&ge; 0.95), then comparisons reported apart; blind where the 95% CI holds 0.5, with the reason.</p>"
            "<table><tr><th>metric</th><th>comparison</th><th>positive (1)</th><th>negative (0)</th>"
            f"<th>AUROC [95% CI]</th><th>verdict</th><th>why</th></tr>{rows}</table>")


def write_validation_report(out: Path, result: Validation) -> Path:
    path = out / "report.html"
    path.write_text(render_validation(result), encoding="utf-8")
    return path
