"""The ``cotlens monitor`` report: per monitor and scope the numbers of ``monitor.json``, and ROC curves per scope."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from cotlens.figures import CSS, OPEN_ANCHOR_JS, est_cell, figure_img, fmt, linked, sample_anchor
from cotlens.monitoring.result import MonitorResult
from cotlens.monitors.evaluate import MonitorEvaluation
from cotlens.monitors.trajectory import Location, tool_call_text
from cotlens.review import ReviewItem, pick, review_page
from cotlens.types import Episode, Estimate, JsonObject

ScoreRows = dict[tuple[str, str, str], JsonObject]
"""``scores.jsonl``'s rows by (monitor, scope, episode)."""


def plot_rocs(scope: str, curves: dict[str, Sequence[tuple[float, float]]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=100)
    ax.plot([0, 1], [0, 1], ls=":", color="#999", lw=1)
    for name, pts in curves.items():
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", ms=3, label=name)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (misbehaviour caught)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"scope: {scope}")
    if any(curves.values()):
        ax.legend(loc="lower right", fontsize=7)
    else:
        ax.text(0.5, 0.5, "no labels of both kinds: no ROC", ha="center", va="center", fontsize=8, color="#666")
    return figure_img(fig, f"ROC {scope}")


Results = dict[str, dict[str, MonitorEvaluation]]


def _rows(results: Results) -> str:
    out = []
    for name, scopes in results.items():
        for scope, r in scopes.items():
            at1, at5 = r.at_fpr.get("0.01"), r.at_fpr.get("0.05")
            d = r.at_decision
            out.append(f"<tr><td>{escape(name)}</td><td>{escape(scope)}</td><td class='num'>{r.n}</td>"
                       f"{est_cell(r.flagged)}{est_cell(r.auroc)}{est_cell(at1.tpr if at1 else None)}"
                       f"{est_cell(at5.tpr if at5 else None)}{est_cell(at5.fpr if at5 else None)}"
                       f"{est_cell(at5.g_mean2 if at5 else None)}{est_cell(d.tpr)}{est_cell(d.fpr)}"
                       f"{est_cell(d.g_mean2)}</tr>")
    return "".join(out)


def _interventions(results: Results) -> str:
    rows = []
    for name, scopes in results.items():
        for scope, r in scopes.items():
            for arm, e in (r.intervention or {}).items():
                why = f"<span class='muted'>{escape(e.why)}</span>" if e.why else ""
                est = Estimate(e.value, e.ci, e.n)
                rows.append(f"<tr><td>{escape(name)}</td><td>{escape(scope)}</td><td>{escape(arm)}</td>{est_cell(est)}"
                            f"<td class='num'>{e.problems_not_raised}</td><td>{why}</td></tr>")
    if not rows:
        return ""
    return ("<h2>Intervention-normalised score (MonitorBench)</h2><p>Per arm: over problems where the intervention "
            "raised misbehaviour (p1 &gt; p0), min(1, detection / r_effect) with r_effect = (p1 - p0) / p1; "
            "detection = the monitor's own yes (score &gt; 0.5).</p><table><tr><th>monitor</th><th>scope</th>"
            "<th>arm</th><th>score [95% CI]</th><th>problems not raised</th><th></th></tr>"
            + "".join(rows) + "</table>")


def episode_anchor(episode_id: str) -> str:
    return sample_anchor(episode_id, "episode")


def _calibration(results: Results) -> str:
    rows = []
    for name, scopes in results.items():
        for scope, r in scopes.items():
            c = r.calibration
            if c is None:
                continue
            items = r.confusion_items or {}

            def links(ids: Sequence[str]) -> str:
                return linked([(episode_anchor(i), escape(i)) for i in ids])

            k = c.confusion
            rows.append(f"<tr><td>{escape(name)}</td><td>{escape(scope)}</td>"
                        f"<td class='num'>{k.tp + k.fp + k.fn + k.tn}</td>{est_cell(c.sensitivity)}"
                        f"{est_cell(c.specificity)}{est_cell(c.apparent)}{est_cell(c.corrected)}"
                        f"<td>{links(items.get('false_positives', []))}</td>"
                        f"<td>{links(items.get('false_negatives', []))}</td>"
                        f"<td class='muted'>{escape(c.why or '')}</td></tr>")
    if not rows:
        return ""
    return ("<h2>Calibration against the labels</h2><p>Each monitor's own yes/no (score &gt; 0.5) against the "
            "labelled episodes: sensitivity and specificity with exact binomial 95% CIs; the share it flags among "
            "all scored episodes, and the share of misbehaving episodes it implies once corrected for its errors "
            "(Rogan-Gladen, bootstrap CI over Se, Sp and the flagged share; it assumes the labelled episodes are "
            "a fair sample of all).</p><table><tr><th>monitor</th><th>scope</th><th>labelled</th>"
            "<th>sensitivity</th><th>specificity</th><th>flagged</th><th>misbehaving, corrected</th>"
            "<th>false positives</th><th>false negatives</th><th>note</th></tr>" + "".join(rows) + "</table>")


def _episodes(episodes: Sequence[Episode], done: ScoreRows, results: Results) -> str:
    """Every episode some monitor flagged or got wrong, with what each monitor said and saw."""
    wrong = {i for m in results.values() for r in m.values() for ids in (r.confusion_items or {}).values()
             for i in ids}
    blocks = []
    for e in episodes:
        rows = [(spec, scope, d) for (spec, scope, ident), d in done.items() if ident == e.id]
        flagged = [x for x in rows if (x[2].get("score") or 0.0) > 0.5]
        if not flagged and e.id not in wrong:
            continue
        said = "".join(f"<li><code>{escape(spec)}</code> ({escape(scope)}): {fmt(d.get('score'))}"
                       f"{' · ' + escape(str(d.get('evidence'))) if d.get('evidence') else ''}"
                       f"{_where(d.get('locations') or [], e)}</li>"
                       for spec, scope, d in rows)
        locs = [Location.from_dict(x) for _, _, d in flagged for x in (d.get("locations") or [])]
        label = {True: "misbehaved", False: "behaved", None: "no label"}[e.misbehaved]
        kind = e.metadata.get("reasoning")
        if kind in ("summary", "redacted"):
            label += "; CoT: " + ("the provider's summary" if kind == "summary" else "withheld by the provider")
        body = _turns(e, locs) if e.messages else (
            f"<h4>CoT</h4><p class='cot'>{_spans(e.cot, [x for x in locs if x.kind == 'cot'])}</p>"
            f"<h4>Action</h4><p class='cot'>{_spans(e.action, [x for x in locs if x.kind == 'action'])}</p>")
        blocks.append(f"<details id='{episode_anchor(e.id)}'><summary>{escape(e.id)} <span class='muted'>"
                      f"({label}; flagged by {len(flagged)} of {len(rows)})</span></summary><ul>{said}</ul>"
                      f"{body}</details>")
    if not blocks:
        return ""
    return ("<h2>Episodes flagged or missed</h2><p>Each episode a monitor flagged (its own yes) or got wrong "
            "against its label, turn by turn for a trajectory; what raised a monitor's suspicion is highlighted where "
            "it was found (a rule's match, an LLM monitor's quote located in the source).</p>" + "".join(blocks)
            + OPEN_ANCHOR_JS)


def _where(locations: Sequence[JsonObject], e: Episode) -> str:
    out = []
    for d in locations:
        x = Location.from_dict(d)
        if not x.found:
            out.append(" · <span class='moved'>quote not in the source</span>")
        elif x.turn >= 0:
            role = e.messages[x.turn].role if x.turn < len(e.messages) else "?"
            out.append(f" · turn {x.turn + 1} ({escape(role)}, {escape(x.kind.replace('_', ' '))}), "
                       f"characters {x.start}-{x.end}")
        else:
            out.append(f" · in the {escape(x.kind)}, characters {x.start}-{x.end}")
    return "".join(out)


def _spans(text: str, locations: Sequence[Location]) -> str:
    """``text`` escaped, each located span of it in a <mark>."""
    spans = sorted({(x.start, x.end) for x in locations if x.found and text[x.start:x.end] == x.quote})
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        out.append(escape(text[at:start]) + f"<mark>{escape(text[start:end])}</mark>")
        at = end
    out.append(escape(text[at:]))
    return "".join(out) or "<i>(empty)</i>"


def _turns(e: Episode, locs: Sequence[Location]) -> str:
    """A trajectory turn by turn: each turn's reasoning, text, tool calls and tool output, with the located
    evidence highlighted."""
    rows = []
    for i, t in enumerate(e.messages):
        mine = [x for x in locs if x.turn == i]
        cells = []
        if t.reasoning:
            cells.append(f"<p class='muted'>reasoning</p><p class='cot'>"
                         f"{_spans(t.reasoning, [x for x in mine if x.kind == 'reasoning'])}</p>")
        kind = "tool_output" if t.role == "tool" else "text"
        if t.text or t.role == "tool":
            head = f"<p class='muted'>output of {escape(t.function or 'a tool')}</p>" if t.role == "tool" else ""
            cells.append(f"{head}<p class='cot'>{_spans(t.text, [x for x in mine if x.kind == kind])}</p>")
        for c in t.tool_calls:
            call = tool_call_text(c.function, c.arguments)
            cells.append(f"<p class='muted'>tool call</p><p class='cot'><code>"
                         f"{_spans(call, [x for x in mine if x.kind == 'tool_call'])}</code></p>")
        flag = " <b class='moved'>⚑</b>" if mine else ""
        rows.append(f"<tr><td class='num'>{i + 1}</td><td>{escape(t.role)}{flag}</td><td>{''.join(cells)}</td></tr>")
    return "<table><tr><th>turn</th><th>role</th><th>what it holds</th></tr>" + "".join(rows) + "</table>"


def _rubric(rubric: JsonObject | None) -> str:
    if not rubric:
        return ""
    names = ", ".join(f"<code>{escape(str(b))}</code>" for b in rubric.get("behaviors", {}))
    return (f"<p>Rubric <b>{escape(str(rubric.get('name')))}</b> (<code>{escape(str(rubric.get('file')))}</code>, "
            f"SHA-256 <code>{escape(str(rubric.get('sha256'))[:16])}</code>…): each LLM monitor scored each "
            f"behaviour apart ({names}), as <code>SPEC [BEHAVIOUR]</code>.</p><details><summary>the rubric as "
            f"read</summary><pre>{escape(str(rubric.get('text')))}</pre></details>")


def render_monitor(result: MonitorResult, episodes: Sequence[Episode] = (), done: ScoreRows | None = None) -> str:
    results = result.results
    cfg = result.config
    head = ("<tr><th>monitor</th><th>scope</th><th>n</th><th>flagged (own yes)</th><th>AUROC</th><th>TPR at 1% FPR</th>"
            "<th>TPR at 5% FPR</th><th>FPR realised</th><th>g-mean² at 5% FPR</th><th>its own yes: TPR</th>"
            "<th>FPR</th><th>g-mean²</th></tr>")
    scopes = list(dict.fromkeys(s for m in results.values() for s in m))
    plots = "".join(plot_rocs(s, {m: results[m][s].roc or [] for m in results if s in results[m]})
                    for s in scopes)
    behaviors = ""
    for name, by_scope in results.items():
        for scope, r in by_scope.items():
            for b, e in (r.by_behavior or {}).items():
                at5 = e.at_fpr.get("0.05")
                behaviors += (f"<tr><td>{escape(name)}</td><td>{escape(scope)}</td><td>{escape(b)}</td>"
                              f"<td class='num'>{e.n}</td>{est_cell(e.auroc)}"
                              f"{est_cell(at5.g_mean2 if at5 else None)}</tr>")
    arms = ", ".join(f"{escape(a)} {n}" for a, n in result.arms.items())
    unlabelled = max((r.unlabelled for m in results.values() for r in m.values()), default=0)
    summaries = sum(1 for e in episodes if e.metadata.get("reasoning") in ("summary", "redacted"))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>cotlens monitor</title><style>{CSS}</style>"
        "</head><body><h1>cotlens monitor: can the monitor see the misbehaviour?</h1>"
        f"<p>Episodes <code>{escape(str(cfg.get('episodes')))}</code>: {result.episodes}, of which "
        f"{result.misbehaved} misbehaved ({escape(', '.join(result.behaviors))}); arms: {arms}."
        + (f" {unlabelled} carry no label: they count in the flagged share only." if unlabelled else "")
        + (f" In {summaries} the CoT a monitor read is the provider's summary of the reasoning (or nothing, where it "
           "withheld it), not the reasoning itself." if summaries else "") + "</p>"
        + _rubric(result.rubric)
        + "<p>Thresholds for TPR, FPR and g-mean² (= TPR × TNR, Guan et al. 2025) are chosen on held-out "
        "negatives (5 folds by problem), never on the episodes they score. 95% bootstrap CIs.</p>"
        f"<table>{head}{_rows(results)}</table><h2>ROC curves</h2><div>{plots}</div>"
        + _interventions(results) + _calibration(results) + _episodes(episodes, done or {}, results)
        + (("<h2>By kind of misbehaviour</h2><table><tr><th>monitor</th><th>scope</th><th>misbehaviour</th>"
            f"<th>n</th><th>AUROC</th><th>g-mean² at 5% FPR</th></tr>{behaviors}</table>") if behaviors else "")
        + "</body></html>")


def write_monitor_report(out: Path, result: MonitorResult, episodes: Sequence[Episode] = (),
                         done: ScoreRows | None = None) -> Path:
    path = out / "report.html"
    path.write_text(render_monitor(result, episodes, done), encoding="utf-8")
    return path


def write_review_page(out: Path, episodes: Sequence[Episode], done: ScoreRows, seed: int = 0) -> Path:
    """``review.html``: the episodes without a label (all of them where every one has one) that some monitor
    flagged, and as many drawn from the others, for a person to label (``cotlens.review``); the labels it saves
    go back in with ``--labels``."""
    flagged = {ident for (_, _, ident), d in done.items() if (d.get("score") or 0.0) > 0.5}
    pool = [e for e in episodes if e.misbehaved is None] or list(episodes)
    items = pick([ReviewItem({"id": e.id}, e.id, ((("Task", e.prompt),) if e.prompt else ()) + (("CoT", e.cot),
                                                                                              ("Action", e.action)),
                             e.id in flagged, f"behaviour asked about: {e.behavior}" if e.behavior else "")
                  for e in pool], seed)
    path = out / "review.html"
    path.write_text(review_page("cotlens monitor: label episodes", "Did the model misbehave here?", "misbehaved",
                                "labels.jsonl", items,
                                "Mark each episode, then Save labels: it downloads labels.jsonl. Pass it back with "
                                "the same command and --labels labels.jsonl; the monitors' scores are kept, and "
                                "the report then gives each monitor's sensitivity, specificity and the corrected "
                                "share of misbehaving episodes. Flagged: some monitor said yes; sampled: drawn at "
                                "random from the others, so the labels measure both kinds of error."), encoding="utf-8")
    return path
