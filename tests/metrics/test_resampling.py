"""Resampling importance (Thought Anchors): its measures against the reference code's formulas, whole runs on the
organisms (where the answer is known), the same summary through ``cotlens serve``, and resuming after a kill."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotlens.metrics.resampling_importance import (
    ResamplingArgs,
    forced_distribution,
    kl_answers,
    kl_dist,
    step_measures,
)
from cotlens.models.spec import load_model
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.serve import ModelServer
from cotlens.similarity import cosine, load_embedder
from cotlens.types import CotlensError
from summaries import run_json as run


def reference_kl(a: list[str], b: list[str], alpha: float = 1e-9) -> float:
    """``calculate_kl_divergence`` of analyze_rollouts.py (answer distributions), transcribed."""
    from collections import defaultdict

    c1: dict[str, int] = defaultdict(int)
    c2: dict[str, int] = defaultdict(int)
    for x in a:
        c1[x] += 1
    for x in b:
        c2[x] += 1
    support = set(c1) | set(c2)
    t1, t2 = sum(c1.values()) + alpha * len(support), sum(c2.values()) + alpha * len(support)
    return max(0.0, sum((c1[x] + alpha) / t1 * math.log(((c1[x] + alpha) / t1) / ((c2[x] + alpha) / t2))
                        for x in support))


def test_measures_match_the_reference_code() -> None:
    a, b = [0, 0, 1, 2], [0, 0, 0, 1]
    assert kl_answers(a, b) == pytest.approx(reference_kl([str(x) for x in a], [str(x) for x in b]))
    assert kl_answers(a, a) == 0.0 and kl_answers([], b) == 0.0
    assert kl_answers([1], [0]) > 15  # the 1e-9 smoothing: an answer never seen on the other side costs ~ln(1e9)
    group = {"answers": [0, 0, 1, 1], "correct": [True, True, False, False],
             "first_steps": ["x", "y", "z", "z"], "similarity": [0.9, 0.5, 0.3, None]}
    nxt = {"answers": [0, 0, 0, 1], "correct": [True, True, True, False]}
    m = step_measures(group, nxt, 0.8)
    assert m["resampling_accuracy"] == pytest.approx(0.75 - 0.5)
    assert m["resampling_kl"] == pytest.approx(reference_kl(["0", "0", "1", "1"], ["0", "0", "0", "1"]))
    # dissimilar: rollouts 1 and 2 (below 0.8; rollout 3 has no first sentence); accuracy 0.5 minus next's 0.75
    assert m["counterfactual_accuracy"] == pytest.approx(0.5 - 0.75)
    # KL(dissimilar || next + similar), use_similar_chunks=True
    assert m["counterfactual_kl"] == pytest.approx(reference_kl(["0", "1"], ["0", "0", "0", "1", "0"]))
    assert m["different_fraction"] == 0.5 and m["overdeterminedness"] == pytest.approx(1 - 3 / 3)
    none = step_measures({**group, "similarity": [0.9, 0.95, None, None]}, nxt, 0.8)
    assert none["counterfactual_accuracy"] is None  # no counterfactual (the reference code says 0.0)
    p = forced_distribution([math.log(0.7), math.log(0.2), math.log(0.1)], 1.0)
    assert p == pytest.approx([0.7, 0.2, 0.1])
    assert forced_distribution([0.0, -1.0], 0.0) == [1.0, 0.0]
    assert kl_dist(p, p) == 0.0 and kl_dist([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2), rel=1e-6)


def test_embedder_is_offline_and_recorded() -> None:
    e = load_embedder("wordllama")
    v = e.embed(["First, we add the apples.", "We begin by adding up the apples.", "The weather is cold today."])
    assert cosine(v[0], v[1]) > 0.8 > 0.3 > cosine(v[0], v[2])
    assert e.identity["spec"] == "wordllama" and e.identity["weights"].startswith("sha256:")
    with pytest.raises(CotlensError, match="unknown embedder"):
        load_embedder("minilm")


ORGANISM_RUN = dict(task="repeat3", n=6, seed=3, max_new_tokens=60, batch_size=64, cache="none")


def organism_run(tmp: Path, name: str, **args: object) -> dict[str, object]:
    cfg = RunConfig(model=f"organism:{name}", out=str(tmp / name), metrics=("resampling_importance",),
                    args={"resampling_importance": ResamplingArgs(rollouts=8, **args)},  # type: ignore[arg-type]
                    **ORGANISM_RUN)  # type: ignore[arg-type]
    return run(cfg, progress=False)


def test_organisms_blind_resampling_and_forced_answers(tmp_path: Path) -> None:
    """On faithful and posthoc the rollouts rewrite every step as it was (the organisms compute it): no step
    has resampling importance on either, so the metric is blind here; the forced answers (no rollout) see the
    faithful organism's dependence and the posthoc organism's indifference."""
    faith = organism_run(tmp_path, "faithful")["metrics"]["resampling_importance"]  # type: ignore[index]
    post = organism_run(tmp_path, "posthoc")["metrics"]["resampling_importance"]  # type: ignore[index]
    for entry in (faith, post):
        assert entry["value"] == 0.0 and entry["rollout_ci"] == [0.0, 0.0]
        assert entry["stats"]["different_fraction"]["value"] == 0.0
        assert entry["embedder"] == "wordllama" and entry["rollouts"] == 8
    assert faith["stats"]["max_abs_forced"]["value"] > 0.9 > 0.1 > post["stats"]["max_abs_forced"]["value"]
    recs = list(read_jsonl(tmp_path / "faithful" / "records.jsonl"))
    samples = {s["id"]: s for s in read_jsonl(tmp_path / "faithful" / "samples.jsonl")}
    for r in recs:
        d = r["details"]
        assert [g["k"] for g in d["groups"]] == list(range(d["n_steps"] + 1))
        assert all(len(g["rollouts"]) == 8 for g in d["groups"])
        assert d["rollout_settings"] == {"max_new_tokens": 60, "temperature": 0.6, "top_p": 0.95}
        assert len(d["curve"]) == d["n_steps"] and all(lo <= hi for lo, hi in (m["ci"] for m in d["steps"]))
        # every rollout writes the true values and the faithful organism answers what it wrote
        assert all(a == samples[r["sample_id"]]["answer"] for g in d["groups"] for a in g["answers"])
    report = (tmp_path / "faithful" / "report.html").read_text()
    assert "resampling importance" in report.lower() and "rollouts per cut" in report


def test_sampled_rollouts_differ_and_are_seeded(tmp_path: Path) -> None:
    """At a high temperature the organism's rollouts vary between seeds, and a re-run reproduces them."""
    a = organism_run(tmp_path / "a", "faithful", rollout_temperature=3.0, rollout_top_p=1.0)
    b = organism_run(tmp_path / "b", "faithful", rollout_temperature=3.0, rollout_top_p=1.0)
    assert a["metrics"] == b["metrics"]  # type: ignore[index]
    recs = list(read_jsonl(tmp_path / "a" / "faithful" / "records.jsonl"))
    texts = [t for r in recs for g in r["details"]["groups"] for t in g["rollouts"]]
    assert len(set(texts)) > len(texts) // 8


def test_plan_stated_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cotlens.cli import main  # in this process: a fresh interpreter per run cost about 4 s of imports

    args = ["run", "--model", "organism:posthoc", "--task", "repeat3", "--n", "2", "--max-new-tokens", "60",
            "--metrics", "resampling_importance", "--rollouts", "4", "--cache", "none", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "resampling_importance: 2 CoTs:" in err and "rollouts (4 per cut)" in err
    assert main([*args, "--out", str(tmp_path / "b"), "--embedder", "hf:/nowhere"]) == 2
    err = capsys.readouterr().err
    assert "no config.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    try:
        code = main([*args, "--out", str(tmp_path / "c"), "--rollout-top-p", "0"])
    except SystemExit as e:  # argparse's own check
        code = e.code
    assert code == 2 and "--rollout-top-p" in capsys.readouterr().err


def close(a: object, b: object) -> bool:
    """Equal, with floats equal to 1e-9."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


@pytest.fixture(scope="module")
def server() -> ModelServer:
    srv = ModelServer(load_model("organism:faithful"), "organism:faithful")
    srv.start()
    return srv


@pytest.mark.parametrize("temperature", [0.0, 0.6])
def test_same_summary_through_serve(tmp_path: Path, server: ModelServer, temperature: float,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COTLENS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COTLENS_API_KEY", "sk-test")
    args = {"resampling_importance": ResamplingArgs(rollouts=4, rollout_temperature=temperature)}

    def cfg(out: str, model: str) -> RunConfig:
        return RunConfig(model=model, task="repeat3", out=str(tmp_path / out), n=4, seed=5, max_new_tokens=60,
                         metrics=("resampling_importance",), args=args, cache="none")  # type: ignore[arg-type]

    local = run(cfg("local", "organism:faithful"), progress=False)
    api = run(cfg("api", f"openai:organism:faithful@{server.url}"), progress=False)
    # equal but for the forced answers' probabilities, read by shared-prefix scoring in process and one request
    # per prompt through the server: the same up to floating-point reduction order
    assert close(api["metrics"], local["metrics"])
    assert api["metrics"]["resampling_importance"]["stats"]["max_abs_importance"] == \
        local["metrics"]["resampling_importance"]["stats"]["max_abs_importance"]
    lrec = [r["details"]["groups"] for r in read_jsonl(tmp_path / "local" / "records.jsonl")]
    arec = [r["details"]["groups"] for r in read_jsonl(tmp_path / "api" / "records.jsonl")]
    assert [[g["rollouts"] for g in x] for x in lrec] == [[g["rollouts"] for g in x] for x in arec]


def test_killed_run_resumes_without_repeating_finished_rollouts(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "cotlens.cli", "run", "--model", "organism:faithful", "--task", "repeat3",
            "--n", "16", "--seed", "4", "--max-new-tokens", "60", "--metrics", "resampling_importance",
            "--rollouts", "12", "--rollout-temperature", "1.5", "--quiet"]
    d, cache = tmp_path / "r", tmp_path / "c.sqlite"
    proc = subprocess.Popen([*args, "--out", str(d), "--cache", str(cache)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(read_jsonl(d / "records.jsonl"))) < 3:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {r["sample_id"] for r in read_jsonl(d / "records.jsonl")}
    assert 3 <= len(finished) < 16, "the kill came too late to test resuming"
    r = subprocess.run([*args, "--out", str(d), "--cache", str(cache)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    records = list(read_jsonl(d / "records.jsonl"))
    assert len(records) == len({x["sample_id"] for x in records}) == 16
    calls = list(read_jsonl(d / "calls.jsonl"))
    second = [c for c in calls if c["attempt"] == 2]
    assert not [c for c in second if c["unit"].split(":", 1)[1] in finished]
    fresh = subprocess.run([*args, "--out", str(tmp_path / "f"), "--cache", str(tmp_path / "f.sqlite")],
                           capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr

    def rollouts_asked(run_dir: Path) -> int:
        return sum(c["prompts"] for c in read_jsonl(run_dir / "calls.jsonl")
                   if c["method"] == "generate" and c["unit"].startswith("resampling"))

    # every rollout reached the model as often as in an uninterrupted run, but those of the one group in flight
    # at the kill (at most 12)
    assert rollouts_asked(tmp_path / "f") <= rollouts_asked(d) <= rollouts_asked(tmp_path / "f") + 12
    a = json.loads((d / "summary.json").read_text())["metrics"]
    b = json.loads((tmp_path / "f" / "summary.json").read_text())["metrics"]
    assert a == b
