"""LoRA fine-tuning on answers (``cotlens.models.lora``) and the bad fine-tune on SmolLM2, with real parts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cotlens.cli import main
from cotlens.models.hf import HFModel
from cotlens.models.lora import LoraSettings, finetune_answer_letters
from cotlens.models.spec import load_model
from cotlens.prompts import no_cot_prompt
from cotlens.tasks import load_task


def test_lora_teaches_the_letter_and_saves_a_plain_model(tmp_path: Path) -> None:
    hf = load_model("smollm2", dtype="float32", batch_size=4)  # a fresh copy: the fine-tune changes it in place
    assert isinstance(hf, HFModel)
    samples = load_task("arithmetic", 4, 0)
    prompts = [no_cot_prompt(s) for s in samples]
    letters = [s.letters for s in samples]
    before = hf.score_choices(prompts, letters)
    log = finetune_answer_letters(hf, prompts, ["C"] * 4, LoraSettings(steps=4, batch_size=2, lr=5e-3),
                                  tmp_path / "m", progress=False)
    assert len(log["curve"]) == 4 and log["curve"][-1]["loss"] < log["curve"][0]["loss"]
    tuned = load_model(f"hf:{tmp_path / 'm'}", dtype="float32", batch_size=4)
    after = tuned.score_choices(prompts, letters)
    share = [[math.exp(x[2]) / sum(math.exp(v) for v in x) for x in rows] for rows in (before, after)]
    assert all(a > b for a, b in zip(share[1], share[0], strict=True))  # C's share of the choices rose everywhere
    in_place = hf.score_choices(prompts, letters)  # merged in place = what was saved
    assert [x for r in after for x in r] == pytest.approx([x for r in in_place for x in r], abs=1e-4)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:
        names = f.keys()
    assert names and not any("lora" in k for k in names)  # adapters merged: a plain transformers model


@pytest.mark.parametrize("argv, needle", [
    (["--device", "tpu"], "--device must be cpu or cuda"),
    (["--model", "organism:faithful", "--train-n", "2"], "needs a transformers model"),
    (["--steps", "0"], "--steps must be at least 1"),
])
def test_lora_experiment_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                            needle: str) -> None:
    assert main(["experiment", "bad-finetune-lora", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lora_experiment_runs_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "l"
    argv = ["experiment", "bad-finetune-lora", "--out", str(out), "--train-n", "4", "--steps", "2", "--n", "2",
            "--max-new-tokens", "24", "--batch-size", "4", "--quiet"]
    assert main(argv) == 0
    result = json.loads((out / "bad-finetune-lora.json").read_text())
    assert set(result["models"]) == {"base", "tuned"} and len(result["training"]["curve"]) == 2
    for v in result["models"].values():
        assert {"bad_rate", "bad_rate_no_cot", "accuracy", "early_answering", "rule_flags_triggered",
                "llm_flags_triggered"} <= set(v)
    stamp = (out / "model" / "model.safetensors").stat().st_mtime_ns
    assert main(argv) == 0  # resumed: no retraining, evaluations read back
    assert (out / "model" / "model.safetensors").stat().st_mtime_ns == stamp
    assert "bad fine-tune" in (out / "report.html").read_text()
