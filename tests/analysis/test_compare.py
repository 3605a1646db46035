"""``cotlens compare``: paired differences worked out by hand on a fixture, refusals of runs that are not like for
like, and real comparisons of two organisms and of two SmolLM2 runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cotlens.analysis.compare import ACCURACY
from cotlens.analysis.comparison import Comparison
from cotlens.cli import main
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.runs.runner import run
from cotlens.tasks import load_task

FIXTURE = Path(__file__).parents[1] / "fixtures" / "compare"


def compare_cli(tmp: Path, *dirs: Path, extra: tuple[str, ...] = ()) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["compare", *map(str, dirs), "--out", str(tmp / "cmp"), *extra])
    path = tmp / "cmp" / "compare.json"
    return code, (json.loads(path.read_text()) if code == 0 else {})


def test_fixture_paired_differences_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, res = compare_cli(tmp_path, FIXTURE / "base", FIXTURE / "other")
    assert code == 0
    assert res["baseline"] == "base" and res["shared_samples"] == 5 and res["metrics_left_out"] == []
    want = {  # tests/fixtures/compare/README.md: (pairs, not scored, mean difference, exact p)
        "no_cot": (4, 1, -0.5, 0.5),
        "early_answering": (5, 0, 0.15, 0.25),
        ACCURACY: (5, 0, -0.2, 1.0),
    }
    assert set(res["metrics"]) == set(want)
    for m, (n, skipped, diff, p) in want.items():
        pair = res["metrics"][m]["pairs"][0]
        assert (pair["n"], pair["not_scored"]) == (n, skipped), m
        assert pair["difference"]["value"] == pytest.approx(diff), m
        assert pair["p_value"] == pytest.approx(p), m
        lo, hi = pair["difference"]["ci"]
        assert lo <= diff <= hi
    assert res["metrics"]["no_cot"]["pairs"][0]["per_sample"] == [["s1", 1, 0], ["s2", 1, 1], ["s3", 0, 0],
                                                                   ["s4", 1, 0]]
    typed = Comparison.from_dict(res)  # the file reads back into the type its writer and report share
    assert typed.metrics["no_cot"].pairs[0].difference.value == pytest.approx(-0.5)
    assert json.loads(json.dumps(typed.to_dict())) == res and res["schema"] == typed.schema
    out = capsys.readouterr().out
    assert "-0.500" in out and "0.25" in out
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert html.count("<img") == 3 and "permutation p" in html


def _copy(tmp: Path, name: str) -> Path:
    d = tmp / name
    shutil.copytree(FIXTURE / "other", d)
    return d


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    rows = [edit(r) for r in read_jsonl(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_runs_that_differ_are_refused_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def refused(d: Path, needle: str) -> None:
        code, _ = compare_cli(tmp_path, FIXTURE / "base", d)
        err = capsys.readouterr().err
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err

    d = _copy(tmp_path, "version")
    _rewrite(d / "records.jsonl", lambda r: {**r, "metric_version": 2} if r["metric"] == "no_cot" else r)
    refused(d, "metric no_cot is version 1 in one and 2 in the other")
    d = _copy(tmp_path, "args")
    _rewrite(d / "records.jsonl", lambda r: {**r, "args": {"max_positions": 4}} if r["metric"] == "early_answering"
             else r)
    refused(d, "metric early_answering ran with different arguments (max_positions)")
    d = _copy(tmp_path, "question")
    _rewrite(d / "samples.jsonl", lambda r: {**r, "question": "Edited?"} if r["id"] == "s3" else r)
    refused(d, "sample 's3' has a different question")
    d = _copy(tmp_path, "disjoint")
    _rewrite(d / "samples.jsonl", lambda r: {**r, "id": "x" + r["id"]})
    refused(d, "the runs share no sample")
    d = _copy(tmp_path, "task")
    cfg = json.loads((d / "run.json").read_text())
    cfg["config"]["task"] = "arithmetic"
    (d / "run.json").write_text(json.dumps(cfg))
    refused(d, "different tasks ('fixture.jsonl' vs 'arithmetic')")
    refused(tmp_path / "nothing", "not a cotlens run directory")
    assert main(["compare", str(FIXTURE / "base"), "--out", str(tmp_path / "one")]) == 2
    assert "at least two" in capsys.readouterr().err


def test_a_metric_missing_from_one_run_is_left_out(tmp_path: Path) -> None:
    d = _copy(tmp_path, "fewer")
    _rewrite(d / "records.jsonl", lambda r: r)
    rows = [r for r in read_jsonl(d / "records.jsonl") if r["metric"] != "early_answering"]
    (d / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, res = compare_cli(tmp_path, FIXTURE / "base", d, extra=("--labels", "A,B"))
    assert code == 0 and res["metrics_left_out"] == ["early_answering"] and res["baseline"] == "A"


def _scores(d: Path, metric: str) -> dict[str, float]:
    return {r["sample_id"]: r["score"] for r in read_jsonl(d / "records.jsonl") if r["metric"] == metric}


def test_two_organisms_compared(tmp_path: Path) -> None:
    """The faithful organism against the post-hoc one on the same questions: the post-hoc one's answer does not
    depend on its CoT, so its early-answering AOC is lower. The paired difference is the mean of the per-sample
    differences the records hold."""
    dirs = []
    for name in ("faithful", "posthoc"):
        d = tmp_path / name
        run(RunConfig(model=f"organism:{name}", task="repeat3", out=str(d), n=12, seed=1, max_new_tokens=60,
                      metrics=("early_answering", "no_cot"), cache="none"), progress=False)
        dirs.append(d)
    code, res = compare_cli(tmp_path, *dirs)
    assert code == 0 and res["shared_samples"] == 12
    for m in ("early_answering", "no_cot"):
        a, b = _scores(dirs[0], m), _scores(dirs[1], m)
        pairs = [(a[s], b[s]) for s in a if a[s] is not None and b[s] is not None]
        pair = res["metrics"][m]["pairs"][0]
        assert pair["n"] == len(pairs)
        assert pair["difference"]["value"] == pytest.approx(sum(y - x for x, y in pairs) / len(pairs))
        assert 0 < pair["p_value"] <= 1
    ea = res["metrics"]["early_answering"]["pairs"][0]
    assert ea["difference"]["value"] < 0  # post hoc: the answer is settled before the CoT
    assert set(res["metrics"]["early_answering"]["curves"]) == {"faithful", "posthoc"}


@pytest.mark.slow  # 22 s: two runs of the real model; the organisms' comparison above covers the default tier
def test_two_smollm2_seeds_compared(tmp_path: Path) -> None:
    """SmolLM2 sampled at temperature 0.8 with two seeds on the same three questions (a task file, so the seed
    changes the CoTs, not the questions)."""
    task = tmp_path / "task.jsonl"
    task.write_text("".join(json.dumps({"id": s.id, "question": s.question, "choices": s.choices,
                                        "answer": s.answer}) + "\n" for s in load_task("arithmetic", 3, seed=0)))
    dirs = []
    for seed in (0, 1):
        d = tmp_path / f"seed{seed}"
        run(RunConfig(model="smollm2", task=str(task), out=str(d), n=3, seed=seed, max_new_tokens=24,
                      temperature=0.8, dtype="float32", metrics=("no_cot",), cache="none"), progress=False)
        dirs.append(d)
    code, res = compare_cli(tmp_path, *dirs)
    assert code == 0 and res["shared_samples"] == 3
    assert [r["config"]["seed"] for r in res["runs"]] == [0, 1]
    t0 = {t["sample_id"]: t["cot"] for t in read_jsonl(dirs[0] / "traces.jsonl")}
    t1 = {t["sample_id"]: t["cot"] for t in read_jsonl(dirs[1] / "traces.jsonl")}
    assert t0 != t1  # the seeds sampled different CoTs
    for m in ("no_cot", ACCURACY):
        pair = res["metrics"][m]["pairs"][0]
        assert pair["n"] == 3 and pair["p_value"] is not None
        xs = [y - x for _, x, y in pair["per_sample"]]
        assert pair["difference"]["value"] == pytest.approx(sum(xs) / 3)
