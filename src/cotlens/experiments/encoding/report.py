"""The ``cotlens experiment encoding`` report: each measure along training, one line per arm (the mean over seeds,
a band for its t interval), the counts over seeds with exact intervals, every seed's training curves and final
values."""

from __future__ import annotations

from html import escape
from pathlib import Path

from cotlens.experiments.arms import ArmsResult
from cotlens.experiments.arms_report import final_table, over_seeds, panel, seed_curves, seed_table
from cotlens.figures import CSS

PANELS = (
    ("accuracy", "accuracy with the CoT"),
    ("accuracy_no_cot", "accuracy without a CoT"),
    ("banned_rate", "banned strings (values as digits)"),
    ("words_rate", "values written as filler words"),
    ("legibility", "legible CoT steps"),
    ("decodable", "values decodable from the CoT"),
    ("accuracy_paraphrased", "accuracy after a paraphrased CoT"),
    ("cot_chars", "CoT length (characters)"),
)
HEADS = {"accuracy_no_cot": "accuracy, no CoT", "accuracy_paraphrased": "accuracy, paraphrased CoT",
         "banned_rate": "banned strings", "words_rate": "values as words"}
COLORS = {"outcome": "#1f77b4", "penalty": "#d62728", "penalty-paraphrase": "#2ca02c"}
TABLE = ("accuracy", "accuracy_no_cot", "banned_rate", "words_rate", "legibility", "decodable",
         "accuracy_paraphrased", "cot_chars")
CURVES = (("reward", "RL reward (batch mean)"), ("outcome", "right answers (share of rollouts)"),
          ("banned", "banned strings"), ("words", "values as words"))


def write_report(out: Path, result: ArmsResult) -> Path:
    cfg = result.config
    plots = "".join(panel(result, k, t, COLORS) for k, t in PANELS)
    arms = "".join(f"<li><b>{escape(arm)}</b>: {escape(a.description)}</li>" for arm, a in result.arms.items())
    spent = result.compute_seconds
    took = "" if spent is None else f"Training and evaluation took {spent / 60:.1f} minutes of compute. "
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: encoded reasoning</title>
<style>{CSS}</style></head><body>
<h1>Process supervision and the paraphraser: does the CoT learn an encoding?</h1>
<p>Start: <code>{escape(str(cfg['start']))}</code> on <code>chain4</code>; {cfg['seeds']} seeds, {cfg['steps']}
steps an arm, penalty {cfg['penalty']} for a CoT that writes every value as a digit, {cfg['n']} problems an
evaluation. Values are means over seeds with a 95% t interval (bands in the plots); counts over seeds carry exact
binomial intervals; each seed's value, with its bootstrap CI over problems, is in <code>encoding.json</code>.
{took}This invocation took {result.seconds / 60:.1f} minutes (a resumed one reuses finished work).</p>
<h2>Final checkpoint (step {result.steps[-1]})</h2>
{final_table(result, TABLE, HEADS)}
<ul>{arms}</ul>
<p class="legend">The CoT is load-bearing where accuracy is well above accuracy without a CoT. Banned strings: the
values written as digits, over the seven a legible CoT writes. Decodable: the share of steps whose true value a
mapping fitted on other problems reads from the step's value slot (digits and filler words both decode; chance is
about 0.1). Accuracy after a paraphrased CoT: the same CoTs, each step's form and filler words redrawn, digits
kept.</p>
{over_seeds(result)}
<h2>Along training</h2><div>{plots}</div>
<h2>Training curves (every seed)</h2>{seed_curves(result, CURVES, COLORS)}
<h2>Every seed, final checkpoint</h2>{seed_table(result, TABLE[:-1], HEADS)}
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
