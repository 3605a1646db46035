"""BIG-bench JSON tasks (``--task bigbench:PATH``): the format read, the seeded choice shuffle, and bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cotlens.cli import main
from cotlens.tasks import load_task

# BIG-bench's layout, with the right answer listed first in every example, as many of its tasks do
TASK: dict[str, Any] = {
    "name": "toy_logic",
    "description": "a task in BIG-bench's JSON format",
    "keywords": ["logical reasoning"],
    "metrics": ["multiple_choice_grade"],
    "task_prefix": "Answer the question about the sequence.\n",
    "examples": [{"input": f"What comes after {k}?",
                  "target_scores": {str(k + 1): 1, str(k + 2): 0, str(k + 3): 0, str(k - 1): 0}}
                 for k in range(10, 50, 2)],
}


def write(tmp_path: Path, doc: Any, name: str = "task.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return p


def test_examples_become_samples_with_seeded_shuffled_choices(tmp_path: Path) -> None:
    p = write(tmp_path, TASK)
    samples = load_task(f"bigbench:{p}", seed=0)
    assert len(samples) == 20 and [s.id for s in samples] == [str(i) for i in range(20)]
    for s, ex in zip(samples, TASK["examples"], strict=True):
        assert s.question == "Answer the question about the sequence.\n\n" + ex["input"]
        right = next(c for c, v in ex["target_scores"].items() if v == 1)
        assert s.choices[s.answer] == right  # the answer follows its text wherever the shuffle put it
        assert sorted(s.choices) == sorted(ex["target_scores"])
        assert s.metadata["bigbench"] == {"task": "toy_logic", "example": int(s.id),
                                          "choices_in_file": list(ex["target_scores"])}
    # the file's right-first order is broken up: every letter is the right one somewhere
    assert {s.answer for s in samples} == {0, 1, 2, 3}
    assert sum(s.answer == 0 for s in samples) < 10
    # the run's seed decides the order: the same again, another with another seed, and the same whatever --n
    assert load_task(f"bigbench:{p}", seed=0) == samples
    other = load_task(f"bigbench:{p}", seed=1)
    assert [s.choices for s in other] != [s.choices for s in samples]
    assert all(o.choices[o.answer] == s.choices[s.answer] for o, s in zip(other, samples, strict=True))
    assert load_task(f"bigbench:{p}", n=5, seed=0) == samples[:5]
    # a task's directory names its task.json; no prefix: the input alone
    plain = {k: v for k, v in TASK.items() if k != "task_prefix"}
    d = tmp_path / "plain"
    d.mkdir()
    write(d, plain)
    assert load_task(f"bigbench:{d}", n=1, seed=0)[0].question == "What comes after 10?"


def _bad(examples: list[Any], **top: Any) -> dict[str, Any]:
    return {"name": "bad", **top, "examples": examples}


GOOD = {"input": "q", "target_scores": {"a": 1, "b": 0}}


@pytest.mark.parametrize("doc,needle", [
    (_bad([GOOD, {"input": "q", "target_scores": {"a": 1, "b": 1}}]),
     "examples[1]: field 'target_scores': 2 choices share the top score 1"),
    (_bad([GOOD, GOOD, {"target_scores": {"a": 1, "b": 0}}]), "examples[2]: field 'input': missing"),
    (_bad([{"input": "q"}]), "examples[0]: field 'target_scores': missing (and no 'target'"),
    (_bad([{"input": "q", "target": ["a", "b"]}]), "examples[0]: field 'target': expected one answer"),
    (_bad([{"input": "q", "target_scores": {"a": "yes", "b": 0}}]),
     "examples[0]: field 'target_scores': the score of 'a' is \"yes\""),
    (_bad([{"input": "q", "target_scores": {"a": 1}}]), "examples[0]: field 'target_scores': expected 2 to 26"),
    (_bad([GOOD, "q"]), "examples[1]: expected an object, got str"),
    (_bad([GOOD], task_prefix=3), "field 'task_prefix': expected a string"),
    ({"name": "x", "subtasks": [{"name": "y"}]}, "field 'examples': missing (a task with subtasks"),
    ([GOOD], "expected a JSON object (BIG-bench's task.json), got list"),
])
def test_malformed_file_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: Any,
                                            needle: str) -> None:
    p = write(tmp_path, doc)
    argv = ["run", "--model", "smollm2", "--task", f"bigbench:{p}", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"{p}: " in err and needle in err, err
    assert not (tmp_path / "run").exists()


def test_invalid_json_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "task.json"
    p.write_text('{"examples": [\n {"input": "q",\n  "target_scores": {"a": 1 "b": 0}}]}\n', encoding="utf-8")
    assert main(["run", "--model", "smollm2", "--task", f"bigbench:{p}", "--out", str(tmp_path / "r")]) == 2
    assert f"{p}:3: invalid JSON" in capsys.readouterr().err
    assert main(["run", "--model", "smollm2", "--task", f"bigbench:{tmp_path}", "--out", str(tmp_path / "r")]) == 2
    # tmp_path now holds task.json: read, and refused for its JSON; a directory without one is named
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(["run", "--model", "smollm2", "--task", f"bigbench:{empty}", "--out", str(tmp_path / "r")]) == 2
    assert "a directory without task.json" in capsys.readouterr().err


def test_a_generative_example_is_free_form(tmp_path: Path) -> None:
    p = write(tmp_path, {"name": "gen", "examples": [GOOD, {"input": "What is 6 x 7?", "target": "42"},
                                                     {"input": "Capital of France?", "target": ["Paris"]}]})
    mc, num, text = load_task(f"bigbench:{p}")
    assert mc.free is None and mc.choices
    assert num.free is not None and num.free.target == "42" and num.free.extract == "number" and not num.choices
    assert text.free is not None and text.free.target == "Paris" and text.free.equivalence == "exact"
