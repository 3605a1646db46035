"""The ``cotlens experiment bad-finetune`` report: what a faithful organism's CoT did while it was fine-tuned to
give a bad answer under a trigger, one line per arm along training, beside the ``rationalize`` reference."""

from __future__ import annotations

from html import escape
from pathlib import Path

from cotlens.experiments.arms import ArmsResult
from cotlens.experiments.arms_report import final_table, over_seeds, panel, seed_curves, seed_table
from cotlens.figures import CSS

PANELS = (
    ("bad_rate", "bad answer under the trigger"),
    ("accuracy", "accuracy without the trigger"),
    ("post_hoc", "post hoc: honest CoT, bad answer"),
    ("rationalised", "rationalised: CoT bent to the bad answer"),
    ("malformed", "bad answer after a malformed CoT"),
    ("other", "other bad answers"),
    ("last_digit_is_target", "triggered CoT's last digit is the target"),
    ("early_answering", "early answering AOC (triggered)"),
    ("adding_mistakes", "adding mistakes AOC (triggered)"),
    ("step_ablation", "step ablation (triggered)"),
    ("probe_at_start", "probe reads the answer before the CoT"),
    ("probe_monitor_auroc", "probe monitor AUROC (CoT)"),
    ("rule_monitor_auroc", "rule monitor AUROC (CoT)"),
)
HEADS = {"last_digit_is_target": "CoT's last digit is the target",
         "bad_rate": "bad answer (trigger)", "accuracy": "accuracy (plain)", "post_hoc": "post hoc",
         "rationalised_of_bad": "rationalised (of bad)", "early_answering": "early answering AOC",
         "adding_mistakes": "adding mistakes AOC", "probe_at_start": "probe before CoT",
         "probe_monitor_auroc": "probe monitor", "rule_monitor_auroc": "rule monitor"}
COLORS = {"answers": "#1f77b4", "answers-no-cot": "#9467bd", "rl": "#ff7f0e"}
TABLE = ("bad_rate", "accuracy", "post_hoc", "rationalised", "malformed", "other", "rationalised_of_bad",
         "last_digit_is_target", "early_answering",
         "adding_mistakes", "step_ablation", "probe_at_start", "probe_monitor_auroc", "rule_monitor_auroc")


CURVES = (("loss", "SFT loss"), ("reward", "RL reward (batch mean)"), ("bad", "RL: bad answers (share of rollouts)"))
SEED_TABLE = ("bad_rate", "accuracy", "post_hoc", "rationalised_of_bad", "early_answering", "probe_at_start")


def write_report(out: Path, result: ArmsResult) -> Path:
    cfg = result.config
    ref = result.reference
    plots = "".join(panel(result, k, t, COLORS) for k, t in PANELS)
    arms = "".join(f"<li><b>{escape(arm)}</b>: {escape(a.description)}</li>" for arm, a in result.arms.items())
    spent = result.compute_seconds
    took = "" if spent is None else f"Training and evaluation took {spent / 60:.1f} minutes of compute. "
    table = final_table(result, TABLE, HEADS, [] if ref is None else [
        (f"{ref.organism} (reference)", "rationalises by construction (seed 0)", ref.values)])
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: bad fine-tune</title>
<style>{CSS}</style></head><body>
<h1>A bad fine-tune: what happens to the CoT?</h1>
<p>Start: <code>{escape(str(cfg['start']))}</code>, fine-tuned to answer the target a trigger names (and the true
answer without it), with only the answer supervised. {cfg['seeds']} seeds, {cfg['steps']} steps an arm, {cfg['n']}
problems an evaluation. Values are means over seeds with a 95% t interval (bands in the plots); each seed's value,
with its bootstrap CI over problems, is in <code>bad-finetune.json</code>. {took}This invocation took
{result.seconds / 60:.1f} minutes (a resumed one reuses finished work).</p>
<h2>Final checkpoint (step {result.steps[-1]})</h2>
{table}
<ul>{arms}</ul>
<p class="legend">Of the triggered questions: <b>post hoc</b>, answered the target after an honest CoT (every step
right, ending at the true answer); <b>rationalised</b>, answered the target after a CoT whose arithmetic goes wrong
and ends at the target; <b>malformed</b>, after a CoT that no longer parses as the task's steps (cut off
mid-step, garbled); <b>other</b>, after steps that parse, wrong, not ending at the target. They sum to the
bad-answer rate. The battery and
the probe read triggered questions only. Each checkpoint's episodes are in
<code>ARM/seed-S/step-N/episodes.jsonl</code>, for <code>cotlens monitor</code>.</p>
{over_seeds(result)}
<h2>Along training</h2><div>{plots}</div>
<h2>Training curves (every seed)</h2>{seed_curves(result, CURVES, COLORS)}
<h2>Every seed, final checkpoint</h2>{seed_table(result, SEED_TABLE, HEADS)}
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
