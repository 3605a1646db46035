"""Cost before and after: the plan line, the usage a run records, and a token budget that stops a run in one line
and resumes to the summary an unbudgeted run writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotlens.cli import main
from cotlens.cost import Need, Shape, reads, writes
from cotlens.runs.cost import BudgetReached, Meter, plan_line, usage_from_calls
from cotlens.runs.finished import read_jsonl

ARGS = ["run", "--model", "organism:faithful", "--task", "chain4", "--n", "6", "--seed", "3", "--max-new-tokens",
        "60", "--metrics", "early_answering,adding_mistakes,no_cot", "--mistake-model", "rule", "--quiet"]


def test_budget_stops_in_one_line_and_resumes_to_the_same_summary(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    free = tmp_path / "free"
    assert main([*ARGS, "--out", str(free), "--cache", str(tmp_path / "c0.sqlite")]) == 0
    err = capsys.readouterr().err
    assert "plan (estimated" in err and "early_answering" in err and "total" in err
    whole = json.loads((free / "summary.json").read_text())
    need = whole["usage"]["total"]["prompt_tokens"] + whole["usage"]["total"]["completion_tokens"]
    assert whole["usage"]["elicit"]["calls"] == 12 and need > 0  # 6 CoTs written, 6 answers read

    d = tmp_path / "budget"
    cache = str(tmp_path / "c1.sqlite")
    code = main([*ARGS, "--out", str(d), "--cache", cache, "--max-tokens-total", str(need // 2)])
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("cotlens: error")]
    assert code == 2 and len(lines) == 1 and "token budget reached" in lines[0] and "--max-tokens-total" in lines[0]
    spent = sum(c["prompt_tokens"] + c["completion_tokens"] for c in read_jsonl(d / "calls.jsonl"))
    assert 0 < spent <= need // 2
    kept = len(list(read_jsonl(d / "records.jsonl")))
    # the same budget again: nothing more fits; no budget: it goes on from where it stopped
    assert main([*ARGS, "--out", str(d), "--cache", cache, "--max-tokens-total", str(need // 2)]) == 2
    assert len(list(read_jsonl(d / "records.jsonl"))) == kept
    assert main([*ARGS, "--out", str(d), "--cache", cache]) == 0
    resumed = json.loads((d / "summary.json").read_text())
    for key in ("metrics", "curves", "accuracy_with_cot", "states_answer", "answer_matches_stated"):
        assert resumed[key] == whole[key], key
    # every call counted once over the attempts: the usage an unbudgeted run records
    assert resumed["usage"] == whole["usage"]
    attempts = {c["attempt"] for c in read_jsonl(d / "calls.jsonl")}
    assert attempts == {1, 3}  # the second attempt made no call


def test_meter_reserves_and_refuses() -> None:
    m = Meter(limit=100, used=40, out="runs/x")
    m.reserve(50)
    with pytest.raises(BudgetReached, match="40 of --max-tokens-total 100"):
        m.reserve(20)  # 40 spent + 50 reserved + 20 > 100
    m.settle(50, 30)
    assert m.used == 70
    m.reserve(30)
    Meter().reserve(10**9)  # no limit


def test_usage_sums_by_kind_of_work() -> None:
    lines = [{"unit": "elicit:a,b", "prompts": 2, "prompt_tokens": 100, "completion_tokens": 40},
             {"unit": "early_answering:a", "prompts": 3, "prompt_tokens": 90, "completion_tokens": 0},
             {"unit": "early_answering:b", "prompts": 3, "prompt_tokens": 80},  # a line from before metering
             {"unit": "no_cot:a", "prompts": 1}]
    u = usage_from_calls(lines)
    assert u["elicit"].tokens == 140 and u["early_answering"].calls == 6 and u["early_answering"].tokens == 170
    assert u["no_cot"].calls == 1


def test_plan_line_and_estimates() -> None:
    shape = Shape(question_tokens=100, cot_tokens=60, steps=3, max_new_tokens=80, served=True)
    assert reads(shape, 4, 0.5) == Need(4, 4 * 130, 4)  # a served model bills a token for each choice read
    assert writes(shape, 2, 100, 80) == Need(2, 200, 160)
    line = plan_line({"elicit": Need(2, 200, 160), "no_cot": Need(1, 100, 1)}, {"elicit": 10, "no_cot": 10}, 5000)
    assert "elicit 20 calls, 2,000+1,600" in line and "total 30 calls, 4,610 tokens (budget 5,000)" in line
