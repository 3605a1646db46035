"""Whole runs on the embedded SmolLM2: files, summary, report, and resuming after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotlens.cli import main
from cotlens.metrics.adding_mistakes import AddingMistakesArgs
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.runs.runner import run as run_typed
from cotlens.runs.summary import leaves
from cotlens.types import CotlensError, Summary
from summaries import run_json as run

SMALL = dict(model="smollm2", task="arithmetic", n=3, seed=1, dtype="float32", max_new_tokens=24,
             args={"adding_mistakes": AddingMistakesArgs(max_positions=2)}, difficulty=2)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cotlens.cli", *args]


def test_full_battery_writes_records_summary_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = RunConfig(out=str(tmp_path / "r"), cache=str(tmp_path / "c.sqlite"), **SMALL)  # type: ignore[arg-type]
    typed = run_typed(cfg, progress=False)  # resumes the finished run: the same summary, typed
    summary = run(cfg, progress=False)
    d = tmp_path / "r"
    s = json.loads((d / "summary.json").read_text())
    assert s == json.loads(json.dumps(summary)) == typed.to_dict()
    assert Summary.from_dict(s) == typed
    assert s["schema"] == 2
    assert set(s["metrics"]) == {"early_answering", "adding_mistakes", "filler_tokens", "no_cot"}
    for m in s["metrics"].values():
        assert {"value", "ci", "n"} <= set(m)
        assert m["n"] <= 3
    ea = s["metrics"]["early_answering"]
    traces = list(read_jsonl(d / "traces.jsonl"))
    stated = [t for t in traces if t["stated_answer"] is not None]
    assert s["states_answer"]["n"] == 3 and s["answer_matches_stated"]["n"] == len(stated)
    if stated:
        assert s["answer_matches_stated"]["value"] == pytest.approx(
            sum(t["answer"] == t["stated_answer"] for t in stated) / len(stated))
    records = list(read_jsonl(d / "records.jsonl"))
    from cotlens.metrics.curves import weighted_aoc
    from cotlens.metrics.early_answering import METRIC as EA
    from cotlens.types import Record

    curves = [EA.curve(Record.from_dict(r)) for r in records if r["metric"] == "early_answering"]  # type: ignore[misc]
    assert ea["value"] == pytest.approx(weighted_aoc([c for c in curves if c]))  # the paper's length weighting
    assert len(records) == 12
    for r in records:
        assert r["model"]["spec"] == "smollm2" and r["generation"]["max_new_tokens"] == 24
        assert {"metric", "metric_version", "args", "sample_id", "score", "values", "details", "seed"} <= set(r)
    html = (d / "report.html").read_text()
    assert html.count("<img") == 2 and "early answering" in html and "adding mistakes" in html
    # evidence as a person reads it (answer badges along the CoT, mistakes side by side), raw records a click away
    assert html.count("raw record</summary>") == 12 and "with a mistake</th>" in html and "class='chip" in html
    assert main(["report", str(d)]) == 0
    out = capsys.readouterr().out
    assert "early_answering" in out and "95% CI" in out
    # a second run of the same directory does nothing
    again = run(cfg, progress=False)
    assert again["metrics"] == summary["metrics"] and len(list(read_jsonl(d / "records.jsonl"))) == 12
    calls = list(read_jsonl(d / "calls.jsonl"))
    assert calls and all(c["attempt"] == 1 for c in calls)
    # the same directory with another configuration is refused
    with pytest.raises(CotlensError, match="different configuration"):
        run(RunConfig(**{**cfg.__dict__, "n": 4}), progress=False)


def test_killed_run_resumes_without_repeating_finished_calls(tmp_path: Path) -> None:
    args = ["run", "--model", "smollm2", "--task", "arithmetic", "--n", "4", "--seed", "2", "--dtype", "float32",
            "--max-new-tokens", "24", "--metrics", "early_answering,no_cot,filler_tokens", "--quiet"]
    d = tmp_path / "r"
    cache = tmp_path / "c.sqlite"
    proc = subprocess.Popen(_cli(*args, "--out", str(d), "--cache", str(cache)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if len(list(read_jsonl(d / "records.jsonl"))) >= 3:
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {(r["metric"], r["sample_id"]) for r in read_jsonl(d / "records.jsonl")}
    n_traces = len(list(read_jsonl(d / "traces.jsonl")))
    assert 3 <= len(finished) < 12, "the kill came too late to test resuming"
    assert n_traces == 4

    r = subprocess.run(_cli(*args, "--out", str(d), "--cache", str(cache)), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    records = list(read_jsonl(d / "records.jsonl"))
    keys = [(x["metric"], x["sample_id"]) for x in records]
    assert len(keys) == len(set(keys)) == 12
    calls = list(read_jsonl(d / "calls.jsonl"))
    second = [c for c in calls if c["attempt"] == 2]
    # no finished record, and no finished trace, caused a model call in the resumed run
    assert not [c for c in second if tuple(c["unit"].split(":", 1)) in finished]
    assert not [c for c in second if c["unit"].startswith("elicit:")]
    resumed = [x for x in records if (x["metric"], x["sample_id"]) not in finished]
    assert sum(c["prompts"] for c in second) == sum(x["model_calls"] for x in resumed)

    # the same summary as an uninterrupted run with its own cache (in this process: the same code as the command)
    d2 = tmp_path / "fresh"
    assert main([*args, "--out", str(d2), "--cache", str(tmp_path / "c2.sqlite")]) == 0
    a = json.loads((d / "summary.json").read_text())
    b = json.loads((d2 / "summary.json").read_text())
    # The same values, to rounding: the resumed run read its remaining prompts without the keys and values the
    # finished records' reads would have left in the prefix store, so a mean of probability differences
    # (filler_gain, its bootstrap CI) can move at 1e-6 (seen: 1.3e-6); every other value is the same exactly.
    la, lb = leaves(a["metrics"]), leaves(b["metrics"])
    assert la.keys() == lb.keys()
    assert la == pytest.approx(lb, abs=1e-5) and a["accuracy_with_cot"] == b["accuracy_with_cot"]
    assert {k: v for k, v in la.items() if "filler_gain" not in k} == {k: v for k, v in lb.items()
                                                                       if "filler_gain" not in k}
