"""The training experiments' jobs: the launchers (worker processes, submitit's local executor) run every job and
report a failure after the others; an experiment run on two workers gives the numbers of one run in-process;
the rates over seeds carry exact binomial intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotlens.experiments import arms
from cotlens.experiments.launch import launch
from cotlens.experiments.pressure.run import PressureConfig, pressure
from cotlens.stats import clopper_pearson
from cotlens.types import CotlensError, Estimate


@pytest.mark.parametrize("launcher", ["local", "submitit"])
def test_launchers_run_every_job_and_report_a_failure_after_the_others(tmp_path: Path, launcher: str) -> None:
    jobs = [(tmp_path / f"job-{i}.txt", f"job {i}") for i in range(3)]
    bad = (tmp_path / "missing" / "x.txt", "never written")
    with pytest.raises(RuntimeError, match="missing/x.txt, never written failed"):
        launch(Path.write_text, [jobs[0], bad, *jobs[1:]], workers=2, launcher=launcher,
               folder=tmp_path / "logs", progress=False)
    assert [p.read_text() for p, _ in jobs] == ["job 0", "job 1", "job 2"]  # the failure cost only itself
    with pytest.raises(CotlensError, match="--launcher must be one of"):
        launch(Path.write_text, jobs, launcher="slurm")


def test_clopper_pearson_and_seed_rates() -> None:
    e = clopper_pearson(2, 6)
    assert e.value == pytest.approx(1 / 3) and e.ci == pytest.approx((0.0433, 0.7772), abs=1e-4)
    assert clopper_pearson(10, 10).ci == pytest.approx((0.6915, 1.0), abs=1e-4)
    assert clopper_pearson(0, 0) == Estimate(None, None, 0)
    event = arms.SeedEvent("high", "x >= 0.5", lambda m: None if m["x"].value is None else m["x"].value >= 0.5)
    rate = arms.seed_rate(event, [{"x": Estimate(v, None, 1)} for v in (0.9, 0.1, None, 0.6)])
    assert (rate.k, rate.n, rate.seeds) == (2, 3, [True, False, None, True])
    assert rate.ci == clopper_pearson(2, 3).ci


def _numbers(out: Path) -> dict[str, object]:
    d = json.loads((out / "pressure.json").read_text())
    return {"arms": {a: {**v, "training": {s: {k: x for k, x in log.items() if k != "seconds"}
                                           for s, log in v["training"].items()}}
                     for a, v in d["arms"].items()}, "steps": d["steps"]}


def test_two_workers_give_the_numbers_of_one_process(tmp_path: Path) -> None:
    cfg = PressureConfig(out=str(tmp_path / "one"), arms=("monitor",), seeds=2, steps=2, checkpoints=1, n=4, workers=1)
    one = pressure(cfg, progress=False)
    two = pressure(PressureConfig(**{**cfg.__dict__, "out": str(tmp_path / "two"), "workers": 2}), progress=False)
    assert _numbers(tmp_path / "one") == _numbers(tmp_path / "two")
    rate = two.arms["monitor"].events["hacks"]
    assert rate.n == 2 and rate.ci == clopper_pearson(rate.k, 2).ci and len(rate.seeds) == 2
    assert one.arms["monitor"].events.keys() == {"hacks", "obfuscates", "conceals", "hacks_run",
                                                   "illegible", "cot_unused"}
