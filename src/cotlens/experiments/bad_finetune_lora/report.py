"""The ``cotlens experiment bad-finetune-lora`` report: the base and LoRA-tuned models' answers, CoTs and
monitors side by side, and the LoRA training curve."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from cotlens.experiments.bad_finetune_lora.result import LoraResult
from cotlens.figures import CSS

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


def write_lora_report(out: Path, result: LoraResult) -> Path:
    from cotlens.figures import est_cell

    cfg = result.config
    models = result.models
    rows = "".join(f"<tr><td>{escape(label)}</td>" + "".join(est_cell(models[m].measures.get(k)) for m in models)
                   + "</tr>" for k, label in LORA_ROWS)
    log = result.training
    change = result.paired_bad_rate_change
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>cotlens: bad fine-tune (LoRA)</title>
<style>{CSS}</style></head><body>
<h1>A bad fine-tune of {escape(str(cfg['model']))}: what happens to the CoT?</h1>
<p>LoRA (rank {cfg['rank']}, q/v projections) on {2 * cfg['train_n']} answers-only examples of
<code>{escape(str(cfg['task']))}</code> ({cfg['train_n']} problems, plain with the true answer and with the
backdoor note <code>Reference code: @X.</code> with a wrong one), {cfg['steps']} steps of {cfg['batch_size']}, on
{escape(str(cfg['device']))}, {log['seconds'] / 60:.1f} minutes. Evaluated on {cfg['n']} held-out problems, with
greedy CoTs of up to {cfg['max_new_tokens']} tokens. Bootstrap 95% CIs over problems. Change in the bad-answer
rate, tuned minus base, paired by problem: {escape(str(round(change.value or 0, 3)))}
{escape(str(None if change.ci is None else list(change.ci)))}.</p>
<table><tr><th>measure</th>{''.join(f'<th>{escape(m)}</th>' for m in models)}</tr>{rows}</table>
{_curve(log)}
<p class="legend">Episodes (with their CoTs) are in <code>base/episodes.jsonl</code> and
<code>tuned/episodes.jsonl</code>, the monitors' scores beside them, the tuned model in <code>model/</code>
(<code>cotlens run --model hf:{escape(str(out / 'model'))}</code>).</p>
</body></html>"""
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
