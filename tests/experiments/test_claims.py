"""``cotlens claims``: the quick path end to end (every experiment tiny, each claim given a verdict by its rule,
a resumed run retraining nothing), the verdict rules on made-up counts, and bad options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotlens.claims.result import ClaimsResult
from cotlens.claims.run import majority, rate
from cotlens.cli import main


def test_the_usual_rule() -> None:
    assert majority(rate("x", 10, 10)) == "supported"  # [0.69, 1]
    assert majority(rate("x", 0, 10)) == "contradicted"  # [0, 0.31]
    assert majority(rate("x", 5, 10)) == "mixed"
    assert majority(rate("x", 8, 10)) == "mixed"  # [0.44, 0.97]: ten seeds cannot call 8 of 10
    assert majority(rate("x", 0, 0)) == "not tested"


def test_quick_claims_resume_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    argv = ["claims", "--out", str(out), "--quick", "--skip", "bad-finetune-lora", "--quiet"]
    assert main(argv) == 0
    raw = json.loads((out / "claims.json").read_text())
    result = ClaimsResult.from_dict(raw)
    assert result.to_dict() == raw
    keys = [c.key for c in result.claims]
    assert keys == ["prediction_vs_rl", "monitor_obfuscation", "process_supervision_encoding", "paraphraser",
                    "bad_finetune_rationalises", "bad_finetune_lora", "guard_budget", "latent_projection"]
    by = {c.key: c for c in result.claims}
    assert by["bad_finetune_lora"].verdict == "not tested" and "did not run" in by["bad_finetune_lora"].why
    for c in result.claims:
        assert c.verdict in ("supported", "contradicted", "mixed", "not tested") and c.rule
        assert all(r.n == 2 for r in c.rates)  # two seeds each, under --quick
    assert {r.name: r.status for r in result.experiments} == {"pressure": "ran", "bad-finetune": "ran",
                                                            "encoding": "ran", "bad-finetune-lora": "skipped"}
    html = (out / "claims.html").read_text()
    assert "--quick" in html and "pressure/report.html" in html and html.count('class="card"') == 8
    log = out / "encoding" / "penalty" / "seed-1" / "train.json"
    stamp = log.stat().st_mtime_ns
    assert main(argv) == 0  # resumed: every (arm, seed) job is finished, nothing retrains
    assert log.stat().st_mtime_ns == stamp
    assert "guard_budget" in capsys.readouterr().out


def test_bad_skip_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims", "--out", str(tmp_path), "--skip", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown experiment 'nope'" in err and len(err.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_quick_claims_with_the_lora_run(tmp_path: Path) -> None:
    assert main(["claims", "--out", str(tmp_path), "--quick", "--quiet"]) == 0
    by = {c.key: c for c in ClaimsResult.from_dict(json.loads((tmp_path / "claims.json").read_text())).claims}
    assert by["bad_finetune_lora"].rates[0].n == 1 and "one LoRA run" in by["bad_finetune_lora"].why


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_killed_claims_run_resumes_without_retraining_finished_jobs(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "k"
    argv = [sys.executable, "-m", "cotlens.cli", "claims", "--out", str(out), "--quick", "--skip",
            "bad-finetune,bad-finetune-lora", "--quiet"]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "pressure" / "sft" / "seed-0" / "train.json"
    deadline = time.time() + 600
    while not first.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers, mid-run
    proc.wait()
    assert first.is_file() and not (out / "claims.json").exists()
    done = {p: p.stat().st_mtime_ns for p in out.glob("*/*/seed-*/train.json")}
    assert subprocess.run(argv, check=False).returncode == 0
    assert (out / "claims.json").is_file()
    assert {p: p.stat().st_mtime_ns for p in done} == done  # every job that had finished training kept its files
