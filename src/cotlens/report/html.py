"""The HTML report: the summary table, the truncation curves as plots, and every sample's evidence.

One self-contained file (plots are inline PNG). All model and task text is untrusted and goes through
``html.escape``; nothing from a model is ever put into the page unescaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from cotlens.elicit import correct, trace_key
from cotlens.figures import CSS, OPEN_ANCHOR_JS, ci_text, figure_img, fmt, sample_anchor
from cotlens.metrics import get_metric
from cotlens.metrics.base import skipped_html
from cotlens.types import LETTERS, CurveSummary, ModelIdentity, Record, Sample, Summary, Trace


def plot_curve(curve: CurveSummary, title: str) -> str:
    """A curve with its 95% band as an inline PNG <img>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=100)
    x = curve.x
    ax.plot(x, curve.mean, marker="o", ms=3, label=f"mean over {curve.n} samples")
    lo = [c[0] if c[0] is not None else m for c, m in zip(curve.ci, curve.mean, strict=True)]
    hi = [c[1] if c[1] is not None else m for c, m in zip(curve.ci, curve.mean, strict=True)]
    ax.fill_between(x, lo, hi, alpha=0.25, label="95% bootstrap CI")
    ax.set_xlabel(curve.label)
    ax.set_ylabel(curve.y_label)
    ax.set_ylim(-1.02 if min(lo) < 0 else -0.02, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return figure_img(fig, title)


def _is_array(v: Any) -> bool:
    """An array stored in a record as base64 (``cotlens.metrics.latent_probe.encode_array``): not for reading."""
    return isinstance(v, dict) and set(v) == {"dtype", "shape", "data"}


def _evidence(record: Record, sample: Sample, trace: Trace) -> str:
    """The metric's view of the record's evidence; a record its view cannot read (written by another version of
    the metric) says so and leaves the raw record."""
    view = get_metric(record.metric).evidence
    if "refused" in record.details:
        return skipped_html(record)
    if view is None:
        return ""
    try:
        return view(record, sample, trace)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        return (f"<p class='muted'>this record's evidence has no view here (metric version "
                f"{record.metric_version}; {escape(type(e).__name__)} {escape(str(e))}): see the raw record</p>")


def _sample_html(sample: Sample, trace: Trace | None, recs: Sequence[Record]) -> str:
    parts = [f"<p><b>Question</b>: {escape(sample.question)}</p><ol type='A'>"]
    for i, c in enumerate(sample.choices):
        mark = " <b>(gold)</b>" if i == sample.answer else ""
        parts.append(f"<li>{escape(c)}{mark}</li>")
    parts.append("</ol>")
    if trace is None:
        return "".join(parts) + "<p class='muted'>no trace</p>"
    steps = "".join(f"<span class='step' title='step {j + 1}'>{escape(s.text)}</span> "
                    for j, s in enumerate(trace.steps))
    kind = {"summary": " — <b>the provider's summary of the reasoning, not the reasoning</b>",
            "redacted": " — <b>the provider withheld the reasoning: only the visible text</b>"}.get(trace.reasoning, "")
    parts.append(f"<p><b>CoT</b> ({len(trace.steps)} steps, {trace.cot_tokens} tokens){kind}:</p>"
                 f"<div class='cot'>{steps or '<i>(empty)</i>'}</div>")
    if sample.free is not None:  # a free-form answer: what was extracted, from what was generated
        got = "(none extracted)" if trace.answer_text is None else trace.answer_text
        parts.append(f"<p>Answer after the CoT: <b>{escape(got)}</b> <span class='muted'>(generated: "
                     f"{escape(trace.answer_raw.strip()[:200])})</span> · expected: {escape(sample.free.target)}</p>")
    else:
        stated = "-" if trace.stated_answer is None else LETTERS[trace.stated_answer]
        parts.append(f"<p>Answer after the CoT: <b>{LETTERS[trace.answer]}</b> · stated in the CoT: {stated}</p>")
    for r in recs:
        vals = ", ".join(f"{escape(k)}={fmt(v)}" for k, v in r.values.items())
        shown = {k: (f"({v['dtype']} array, shape {v['shape']}: in records.jsonl)" if _is_array(v) else v)
                 for k, v in r.details.items()}
        parts.append(f"<h4>{escape(r.metric)} <span class='muted'>{vals}</span></h4>" + _evidence(r, sample, trace)
                     + f"<details><summary class='muted'>raw record</summary>"
                     f"<pre>{escape(json.dumps(shown, indent=1)[:20000])}</pre></details>")
    return "".join(parts)


def render(summary: Summary, samples: Sequence[Sample], traces: dict[str, Trace],
           records: Sequence[Record]) -> str:
    cfg = summary.config
    model = summary.model or ModelIdentity("?")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>cotlens report</title>"
           f"<style>{CSS}</style></head><body><h1>cotlens report</h1>"]
    out.append(f"<p>Model <code>{escape(model.spec)}</code> "
               f"(revision <code>{escape(model.revision[:23])}</code>, "
               f"{escape(model.dtype)}) · task <code>{escape(str(cfg.get('task')))}</code> · "
               f"{summary.n_samples} samples · seed {escape(str(cfg.get('seed')))}</p>")
    acc = summary.accuracy_with_cot
    out.append(f"<p>Accuracy with the CoT: <b>{fmt(acc.value)}</b> {ci_text(acc.ci)} "
               f"(n={acc.n}). Read every AOC beside accuracy: they correlate (Bentham et al. 2024).</p>")
    agree, says = summary.answer_matches_stated, summary.states_answer
    if says.n:
        out.append(f"<p>The CoT states an answer in {fmt(says.value)} of samples; where it does, the answer "
                   f"read after it is that answer in <b>{fmt(agree.value)}</b> {ci_text(agree.ci)} "
                   f"(n={agree.n}).</p>")
    out.append("<h2>Summary</h2><table><tr><th>metric</th><th>value</th><th>95% CI</th><th>n</th>"
               "<th>other quantities (mean [95% CI])</th><th>what it is</th></tr>")
    for name, m in summary.metrics.items():
        others = "<br>".join(f"{escape(k)}: {fmt(v.value)} {ci_text(v.ci)} (n={v.n})"
                             for k, v in m.stats.items() if k != m.primary)
        warn = "".join(f"<br><span class='warn'>{escape(n)}</span>" for n in m.notes)
        out.append(f"<tr><td>{escape(name)}</td><td class='num'>{fmt(m.value)}{warn}</td>"
                   f"<td class='num'>{ci_text(m.ci)}</td><td class='num'>{m.n}</td><td>{others}</td>"
                   f"<td>{escape(m.description)}</td></tr>")
    out.append("</table>")
    for name, m in summary.metrics.items():  # each metric's own section, if it has one
        section = get_metric(name).section
        if section is not None:
            out.append(section(m.to_dict()))
    if summary.curves:
        out.append("<h2>Curves</h2>")
        for name, curve in summary.curves.items():
            out.append(plot_curve(curve, name.replace("_", " ")))
    out.append("<h2>Samples</h2>")
    by_sample: dict[str, list[Record]] = {}
    for r in records:
        by_sample.setdefault(r.sample_id, []).append(r)
    for s in samples:
        t = traces.get(s.id)
        ok = t is not None and correct(s, trace_key(t))
        tag = "" if t is None else (" ✓" if ok else " ✗")
        out.append(f"<details id='{sample_anchor(s.id)}'><summary>{escape(s.id)}{tag}</summary>"
                   f"{_sample_html(s, t, by_sample.get(s.id, []))}</details>")
    out.append(OPEN_ANCHOR_JS + "</body></html>")
    return "\n".join(out)


def write_report(run_dir: Path, summary: Summary, samples: Sequence[Sample],
                 traces: dict[str, Trace], records: Sequence[Record]) -> Path:
    path = run_dir / "report.html"
    path.write_text(render(summary, samples, traces, records), encoding="utf-8")
    return path
