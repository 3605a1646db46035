"""``load_finished``: the one reader of a finished run directory refuses what is not one in a line naming the file
(and the line), and reads the compare fixture's hand-written runs as typed objects."""

import shutil
from pathlib import Path

import pytest

from cotlens.runs.finished import load_finished
from cotlens.types import CotlensError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "compare" / "base"


def test_reads_a_run_typed() -> None:
    run = load_finished(FIXTURE)
    assert list(run.samples) == ["s1", "s2", "s3", "s4", "s5"] and run.traces["s2"].answer == 1
    assert {r.metric for r in run.records} >= {"no_cot"} and run.config["task"]


def test_refuses_what_is_not_a_finished_run(tmp_path: Path) -> None:
    with pytest.raises(CotlensError, match="run.json not found .not a cotlens run directory"):
        load_finished(tmp_path)
    d = tmp_path / "run"
    shutil.copytree(FIXTURE, d)
    (d / "summary.json").unlink()
    with pytest.raises(CotlensError, match="summary.json not found .an unfinished run"):
        load_finished(d)
    shutil.copy(FIXTURE / "summary.json", d / "summary.json")
    (d / "records.jsonl").write_text((FIXTURE / "records.jsonl").read_text() + '{"metric": "no_cot"}\n')
    with pytest.raises(CotlensError, match=r"records.jsonl:\d+: not a cotlens record \(TypeError"):
        load_finished(d)
    (d / "records.jsonl").write_text((FIXTURE / "records.jsonl").read_text())
    (d / "run.json").write_text('{"config": {"model": "x"}}')
    with pytest.raises(CotlensError, match=r"run.json: not a cotlens run.json \(KeyError: 'config.task'\)"):
        load_finished(d)
    shutil.copy(FIXTURE / "run.json", d / "run.json")
    (d / "summary.json").write_text("{")
    with pytest.raises(CotlensError, match="summary.json:1: invalid JSON"):
        load_finished(d)
