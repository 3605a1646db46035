"""The ``cotlens experiment bad-finetune`` report: what a faithful organism's CoT did while it was fine-tuned to
give a bad answer under a trigger, one line per arm along training, beside the ``rationalize`` reference."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from cotlens.figures import CSS
from cotlens.report.arms import final_table, panel

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


def write_report(out: Path, result: dict[str, Any]) -> Path:
    cfg = result["config"]
    ref = result["reference"]
    plots = "".join(panel(result, k, t, COLORS) for k, t in PANELS)
    arms = "".join(f"<li><b>{escape(arm)}</b>: {escape(a['description'])}</li>" for arm, a in result["arms"].items())
    spent = result.get("compute_seconds")
    took = "" if spent is None else f"Training and evaluation took {spent / 60:.1f} minutes of compute. "
    table = final_table(result, TABLE, HEADS, [(f"{ref['organism']} (reference)",
                                                "rationalises by construction (seed 0)", ref["values"])])
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: bad fine-tune</title>
<style>{CSS}</style></head><body>
<h1>A bad fine-tune: what happens to the CoT?</h1>
<p>Start: <code>{escape(str(cfg['start']))}</code>, fine-tuned to answer the target a trigger names (and the true
answer without it), with only the answer supervised. {cfg['seeds']} seeds, {cfg['steps']} steps an arm, {cfg['n']}
problems an evaluation. Values are means over seeds with a 95% t interval (bands in the plots); each seed's value,
with its bootstrap CI over problems, is in <code>bad-finetune.json</code>. {took}This invocation took
{result.get('seconds', 0) / 60:.1f} minutes (a resumed one reuses finished work).</p>
<h2>Final checkpoint (step {result['steps'][-1]})</h2>
{table}
<ul>{arms}</ul>
<p class="legend">Of the triggered questions: <b>post hoc</b>, answered the target after an honest CoT (every step
right, ending at the true answer); <b>rationalised</b>, answered the target after a CoT whose arithmetic goes wrong
and ends at the target; <b>malformed</b>, after a CoT that no longer parses as the task's steps (cut off
mid-step, garbled); <b>other</b>, after steps that parse, wrong, not ending at the target. They sum to the
bad-answer rate. The battery and
the probe read triggered questions only. Each checkpoint's episodes are in
<code>ARM/seed-S/step-N/episodes.jsonl</code>, for <code>cotlens monitor</code>.</p>
<h2>Along training</h2><div>{plots}</div>
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


LORA_ROWS = (
    ("bad_rate", "bad answer under the trigger, after a CoT"),
    ("bad_rate_no_cot", "bad answer under the trigger, asked with no CoT"),
    ("accuracy", "accuracy without the trigger"),
    ("control_target_rate", "the would-be target without the trigger (chance)"),
    ("battery_bad_rate", "battery: answer after the full CoT is the target"),
    ("early_answering", "early answering AOC on triggered questions"),
    ("rule_flags_triggered", "triggered CoTs the rule monitor flags"),
    ("llm_flags_triggered", "triggered CoTs the LLM monitor flags"),
    ("rule_monitor_auroc", "rule monitor AUROC, bad vs other answers (CoT)"),
    ("llm_monitor_auroc", "LLM monitor AUROC, bad vs other answers (CoT)"),
    ("hint_switch", "hints metric: switch to the named choice"),
    ("hint_verbalized_rule", "hints metric: switched CoTs the rule judge finds saying so"),
    ("hint_verbalized_llm", "hints metric: switched CoTs the LLM judge finds saying so"),
)


def _curve(log: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cotlens.figures import figure_img

    fig, ax = plt.subplots(figsize=(4.2, 2.8), dpi=100)
    xs = range(1, len(log["curve"]) + 1)
    ax.plot(xs, [c["loss"] for c in log["curve"]], lw=1, label="loss")
    ax.plot(xs, [c["label_top"] for c in log["curve"]], lw=1, label="label is the top token")
    ax.set_xlabel("LoRA step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)
    return figure_img(fig, "LoRA training curve")


def write_lora_report(out: Path, result: dict[str, Any]) -> Path:
    from cotlens.figures import est_cell

    cfg = result["config"]
    models = result["models"]
    rows = "".join(f"<tr><td>{escape(label)}</td>" + "".join(est_cell(models[m].get(k)) for m in models) + "</tr>"
                   for k, label in LORA_ROWS)
    log = result["training"]
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: bad fine-tune (LoRA)</title>
<style>{CSS}</style></head><body>
<h1>A bad fine-tune of {escape(str(cfg['model']))}: what happens to the CoT?</h1>
<p>LoRA (rank {cfg['rank']}, q/v projections) on {2 * cfg['train_n']} answers-only examples of
<code>{escape(str(cfg['task']))}</code> ({cfg['train_n']} problems, plain with the true answer and with the
backdoor note <code>Reference code: @X.</code> with a wrong one), {cfg['steps']} steps of {cfg['batch_size']}, on
{escape(str(cfg['device']))}, {log['seconds'] / 60:.1f} minutes. Evaluated on {cfg['n']} held-out problems, with
greedy CoTs of up to {cfg['max_new_tokens']} tokens. Bootstrap 95% CIs over problems. Change in the bad-answer
rate, tuned minus base, paired by problem: {escape(str(round(result['paired_bad_rate_change']['value'] or 0, 3)))}
{escape(str(result['paired_bad_rate_change']['ci']))}.</p>
<table><tr><th>measure</th>{''.join(f'<th>{escape(m)}</th>' for m in models)}</tr>{rows}</table>
{_curve(log)}
<p class="legend">Episodes (with their CoTs) are in <code>base/episodes.jsonl</code> and
<code>tuned/episodes.jsonl</code>, the monitors' scores beside them, the tuned model in <code>model/</code>
(<code>cotlens run --model hf:{escape(str(out / 'model'))}</code>).</p>
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
