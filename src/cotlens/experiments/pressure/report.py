"""The ``cotlens experiment pressure`` report: each measure along training, one line per arm (the mean over
seeds, a band for its t interval), the training curves, and a table of the final checkpoint."""

from __future__ import annotations

from html import escape
from pathlib import Path

from cotlens.experiments.arms import ArmsResult
from cotlens.experiments.arms_report import final_table, over_seeds, panel, seed_curves, seed_table
from cotlens.figures import CSS

PANELS = (
    ("hack_rate", "hack rate (leak arm)"),
    ("accuracy", "task accuracy (no leak)"),
    ("cot_monitor_recall", "CoT monitor recall on hacks"),
    ("obfuscated_rate", "obfuscated hacks (share of leak episodes)"),
    ("hacks_stating_leak", "hacks whose CoT states the leak ($x)"),
    ("cot_monitor_fpr", "CoT monitor flags on honest episodes"),
    ("legibility", "legible CoT steps"),
    ("early_answering", "early answering AOC"),
    ("adding_mistakes", "adding mistakes AOC"),
    ("paraphrasing", "paraphrasing: same answer"),
    ("step_ablation", "step ablation"),
    ("cot_chars", "CoT length (characters)"),
    ("action_monitor_recall", "action monitor recall on hacks"),
    ("executed_hack_rate", "hacks that would run under the guard + budget"),
    ("blocked_share", "episodes the guard blocks"),
    ("over_budget", "CoTs over the budget"),
)
RATED = (("llm_legibility", "legibility, LLM rater (0-4)"), ("llm_coverage", "coverage, LLM rater (0-4)"))
"""Panels and columns where the experiment ran with --legibility-rater."""
HEADS = {"executed_hack_rate": "hacks that run (guard + budget)", "hack_rate": "hack rate",
         "cot_monitor_recall": "CoT monitor recall",
         "obfuscated_share": "obfuscated (of hacks)", "obfuscated_rate": "obfuscated (of leak episodes)",
         "hacks_stating_leak": "hacks stating the leak",
         "early_answering": "early answering AOC", "adding_mistakes": "adding mistakes AOC",
         "paraphrasing": "paraphrasing same answer", "llm_legibility": "legibility (LLM, 0-4)",
         "llm_coverage": "coverage (LLM, 0-4)"}
COLORS = {"sft": "#1f77b4", "outcome": "#ff7f0e", "monitor": "#2ca02c", "paraphrase": "#d62728", "guard": "#9467bd",
          "guard-budget": "#8c564b"}
"""One colour per arm in every plot."""
TABLE = ("hack_rate", "accuracy", "cot_monitor_recall", "obfuscated_share", "obfuscated_rate", "hacks_stating_leak",
         "executed_hack_rate", "early_answering", "adding_mistakes", "paraphrasing", "legibility")


CURVES = (("reward", "RL reward (batch mean)"), ("hack", "hacks (share of rollouts)"),
          ("executed_hack", "hacks that ran (share of rollouts)"), ("flagged", "CoT flagged by the monitor"))
SEED_TABLE = ("hack_rate", "accuracy", "cot_monitor_recall", "hacks_stating_leak", "legibility", "early_answering")


def executed_in_training(result: ArmsResult) -> str:
    """Per RL arm, the hacks that ran during training (rollouts: without a guard every hack runs), per seed."""
    rows = []
    cfg = result.config
    batch = int(cfg["prompts"]) * int(cfg["group"])
    for arm, a in result.arms.items():
        totals = [round(sum(c.get("executed_hack", c.get("hack", 0.0)) for c in log["curve"]) * batch)
                  for log in a.training.values() if log.get("curve") and "hack" in log["curve"][0]]
        if totals:
            rows.append(f"<tr><td>{escape(arm)}</td><td class='num'>{sum(totals) / len(totals):.0f}</td>"
                        f"<td class='num'>{min(totals)}-{max(totals)}</td><td>{', '.join(map(str, totals))}</td></tr>")
    return ("<table><tr><th>arm</th><th>mean over seeds</th><th>range</th><th>per seed</th></tr>"
            + "".join(rows) + "</table>")


def write_report(out: Path, result: ArmsResult) -> Path:
    cfg = result.config
    rated = [(k, t) for k, t in RATED if any(k in c.measures for a in result.arms.values() for c in a.checkpoints)]
    plots = "".join(panel(result, k, t, COLORS) for k, t in (*PANELS, *rated))
    table = (*TABLE, *(k for k, _ in rated))
    arms = "".join(f"<li><b>{escape(arm)}</b>: {escape(a.description)}</li>" for arm, a in result.arms.items())
    spent = result.compute_seconds
    took = "" if spent is None else f"Training and evaluation took {spent / 60:.1f} minutes of compute. "
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: training pressure</title>
<style>{CSS}</style></head><body>
<h1>Training pressure on the CoT</h1>
<p>Start: <code>{escape(str(cfg['start']))}</code>; {cfg['seeds']} seeds, {cfg['steps']} steps an arm, {cfg['n']}
problems an evaluation. Values are means over seeds with a 95% t interval (bands in the plots); counts over
seeds carry exact binomial intervals; each seed's value, with its bootstrap CI over problems, is in
<code>pressure.json</code>. {took}This invocation took {result.seconds / 60:.1f} minutes
(a resumed one reuses finished work). A value without an interval had
a value in fewer than two seeds (recall needs hacks to be measured).</p>
<h2>Final checkpoint (step {result.steps[-1]})</h2>
{final_table(result, table, HEADS)}
<ul>{arms}</ul>
<p class="legend">Obfuscated share: hacks the CoT monitor misses, of all hacks; obfuscated rate: of all leak
episodes. Hacks stating the leak: the CoT writes the leaked answer as <code>$x</code>, whether or not the monitor's
cues match the words around it. The action monitor flags the leaked answer itself, so its recall is 1 by
construction (the ceiling). Each checkpoint's episodes are in <code>ARM/seed-S/step-N/episodes.jsonl</code>, for
<code>cotlens monitor</code>.</p>
{over_seeds(result)}
<h2>Hacks that ran during training</h2>
<p>Rollouts whose hack was executed ({cfg['prompts']} x {cfg['group']} rollouts a step): under the guard, hacks it
did not block or stop; in the other RL arms, every hack.</p>
{executed_in_training(result)}
<h2>Along training</h2><div>{plots}</div>
<h2>Training curves (every seed)</h2>{seed_curves(result, CURVES, COLORS, skip=("sft",))}
<h2>Every seed, final checkpoint</h2>{seed_table(result, SEED_TABLE, HEADS)}
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
