"""``cotlens.load``: a finished run as data frames, checked against its files, and the documentation's example run as
written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cotlens
from cotlens.metrics.adding_mistakes import AddingMistakesArgs
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.runs.runner import run
from cotlens.types import CotlensError

README = Path(__file__).parents[2] / "docs" / "reference" / "run-directory.md"  # its example runs as written


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("frames") / "run"
    run(RunConfig(model="organism:faithful", task="repeat3", out=str(d), n=8, seed=3, max_new_tokens=60,
                  metrics=("early_answering", "adding_mistakes", "no_cot"), cache="none",
                  args={"adding_mistakes": AddingMistakesArgs("rule")}), progress=False)
    return d


def test_frames_hold_what_the_files_hold(finished: Path) -> None:
    r = cotlens.load(finished)
    records = list(read_jsonl(finished / "records.jsonl"))
    assert len(r.records) == len(records) == 3 * 8
    for rec, (_, row) in zip(records, r.records.iterrows(), strict=True):
        assert (row["metric"], row["sample_id"], row["seed"]) == (rec["metric"], rec["sample_id"], rec["seed"])
        assert row["score"] == rec["score"] or (rec["score"] is None and row["score"] != row["score"])
        for k, v in rec["values"].items():
            assert row[f"value.{k}"] == v or (v is None and row[f"value.{k}"] != row[f"value.{k}"])
        assert row["model.spec"] == "organism:faithful" and row["generation.max_new_tokens"] == 60
        assert r.details(rec["metric"], rec["sample_id"]) == rec["details"]
    assert "arg.mistake_model" in r.records.columns  # metric arguments as columns (NaN for other metrics)
    summary = json.loads((finished / "summary.json").read_text())
    assert list(r.summary.index) == list(summary["metrics"])
    for name, m in summary["metrics"].items():
        assert r.summary.loc[name, "value"] == m["value"] and r.summary.loc[name, "n"] == m["n"]
        assert [r.summary.loc[name, "ci_low"], r.summary.loc[name, "ci_high"]] == m["ci"]
    assert len(r.scores) == 8 and {"early_answering", "adding_mistakes", "no_cot", "question"} <= set(r.scores)
    ea = {x["sample_id"]: x["score"] for x in records if x["metric"] == "early_answering"}
    assert r.scores["early_answering"].to_dict() == ea
    with pytest.raises(CotlensError, match="no record of metric 'no_cot' for sample 'x'"):
        r.details("no_cot", "x")


def test_not_a_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(CotlensError, match="not a cotlens run directory"):
        cotlens.load(tmp_path)


def test_readme_example_runs(finished: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    code = re.search(r"<!-- example: cotlens.load -->\n```python\n(.*?)```", text, re.S)
    assert code, "the README's cotlens.load example is missing"
    monkeypatch.chdir(finished.parent)
    (finished.parent / "demo_run").symlink_to(finished, target_is_directory=True)
    exec(compile(code.group(1), "README.md", "exec"), {})  # the project's own README, not model text
    out = capsys.readouterr().out
    assert "early_answering" in out and "ci_low" in out and "dict_keys" in out
