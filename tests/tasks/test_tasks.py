from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cotlens.tasks import load_task
from cotlens.tasks.arithmetic import generate
from cotlens.types import CotlensError


def _apply(value: int, op: str) -> int:
    k = int(op[1:])
    return {"+": value + k, "-": value - k, "*": value * k, "/": value // k}[op[0]]


@pytest.mark.parametrize("difficulty", [1, 3, 6])
def test_arithmetic_is_seeded_and_correct(difficulty: int) -> None:
    a = generate(30, seed=7, difficulty=difficulty)
    assert a == generate(30, seed=7, difficulty=difficulty)
    assert a != generate(30, seed=8, difficulty=difficulty)
    assert generate(10, seed=7, difficulty=difficulty) == a[:10]
    for s in a:
        v = s.metadata["start"]
        for op in s.metadata["ops"]:
            v = _apply(v, op)
        assert s.choices[s.answer] == str(v)
        assert len(set(s.choices)) == len(s.choices) == 4
        assert len(s.metadata["ops"]) == difficulty
    assert len({s.answer for s in a}) > 1  # the gold letter varies


def test_arithmetic_five_choices() -> None:
    assert all(len(s.choices) == 5 for s in generate(10, 0, 3, n_choices=5))


def test_load_jsonl_and_csv(tmp_path: Path) -> None:
    j = tmp_path / "t.jsonl"
    j.write_text(
        json.dumps({"id": 1, "question": "2+2?", "choices": ["3", "4"], "answer": "B"}) + "\n\n"
        + json.dumps({"id": "b", "question": "Capital of France?", "choices": ["Paris", "Rome"], "answer": "Paris",
                      "metadata": {"src": "x"}}) + "\n"
        + json.dumps({"id": "c", "question": "1+1?", "choices": ["2", "3", "4"], "answer": 0}) + "\n"
    )
    s = load_task(str(j))
    assert [x.id for x in s] == ["1", "b", "c"]
    assert [x.answer for x in s] == [1, 0, 0]
    assert s[1].metadata == {"src": "x"}
    c = tmp_path / "t.csv"
    c.write_text('id,question,choices,answer\nq1,"Pick, one",A | B | C,c\nq2,Two?,"[""x"", ""y""]",1\n')
    s = load_task(str(c))
    assert s[0].choices == ("A", "B", "C") and s[0].answer == 2
    assert s[1].choices == ("x", "y") and s[1].answer == 1
    assert len(load_task(str(c), n=1)) == 1


def test_load_datasets_dir(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([
        {"id": "a", "question": "2+2?", "choices": ["3", "4"], "answer": "B"},
        {"id": "b", "question": "3+3?", "choices": ["6", "7"], "answer": "A"},
    ])
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "dd"))
    s = load_task(str(tmp_path / "dd"))
    assert [x.answer for x in s] == [1, 0]
    with pytest.raises(CotlensError, match="no split 'train'"):
        load_task(str(tmp_path / "dd"), split="train")


BAD_ROWS = [
    ({"id": "", "question": "q", "choices": ["a", "b"], "answer": "A"}, "field 'id': empty"),
    ({"id": "x", "question": "", "choices": ["a", "b"], "answer": "A"}, "field 'question'"),
    ({"id": "x", "question": "q", "choices": "ab", "answer": "A"}, "field 'choices': expected a list"),
    ({"id": "x", "question": "q", "choices": ["a"], "answer": "A"}, "field 'choices': expected 2"),
    ({"id": "x", "question": "q", "choices": ["a", "b"], "answer": "C"}, "field 'answer'"),
    ({"id": "x", "question": "q", "choices": ["a", "b"], "answer": 5}, "field 'answer': index 5"),
    ({"id": "x", "question": "q", "choices": ["a", "b"], "answer": "A", "metadata": 3}, "field 'metadata'"),
]


@pytest.mark.parametrize("row,message", BAD_ROWS)
def test_malformed_jsonl_names_file_line_field(tmp_path: Path, row: dict[str, object], message: str) -> None:
    good = {"id": "ok", "question": "q", "choices": ["a", "b"], "answer": "A"}
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(CotlensError) as e:
        load_task(str(p))
    assert f"{p}:2: {message}" in str(e.value)


def test_malformed_json_and_duplicates(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "a", "question": "q", "choices": ["a","b"], "answer": "A"}\n{oops\n')
    with pytest.raises(CotlensError, match=r"bad.jsonl:2: invalid JSON"):
        load_task(str(p))
    p.write_text('{"id": "a", "question": "q", "choices": ["a","b"], "answer": "A"}\n' * 2)
    with pytest.raises(CotlensError, match=r"bad.jsonl:2: field 'id': duplicate id 'a' \(first on line 1\)"):
        load_task(str(p))
    c = tmp_path / "bad.csv"
    c.write_text("id,question,choices,answer\na,q,x|y,A\nb,q,x|y,Z\n")
    with pytest.raises(CotlensError, match=r"bad.csv:3: field 'answer'"):
        load_task(str(c))
    c.write_text("id,question,choices\na,q,x|y\n")
    with pytest.raises(CotlensError, match=r"bad.csv:1: header lacks column\(s\) answer"):
        load_task(str(c))


def test_unknown_task() -> None:
    with pytest.raises(CotlensError, match="unknown task"):
        load_task("nope")


def test_cli_malformed_task_file_one_line_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "a", "question": "q", "choices": ["a","b"], "answer": "A"}\n'
                 '{"id": "b", "question": "q", "choices": ["a","b"], "answer": "Q"}\n')
    r = subprocess.run([sys.executable, "-m", "cotlens.cli", "run", "--model", "smollm2", "--task", str(p),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"{p}:2: field 'answer'" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv,needle", [
    (["run", "--model", "smollm2", "--task", "arithmetic"], "required"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", "x", "--n", "zero"], "invalid int"),
    (["run", "--model", "nope:x", "--task", "arithmetic", "--out", "{tmp}/r", "--n", "1"], "unknown model spec"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", "{tmp}/r", "--metrics", "bogus"],
     "unknown metric"),
    (["report", "{tmp}/missing"], "not found"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", ""], "--out is empty"),
    (["run", "--model", "smollm2", "--task", "", "--out", "{tmp}/r"], "unknown task ''"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", "{tmp}/r", "--metrics", "hints", "--judges", ""],
     "--judges is empty"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", "{tmp}/r", "--metrics", "hints", "--judges",
      "rule,selff"], "--judges: unknown model spec 'selff'"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", "{tmp}/r", "--mistake-model", "gguf:{tmp}/no"],
     "--mistake-model: 'gguf:"),
    (["run", "--model", "openai:m@http://127.0.0.1:9/v1", "--task", "arithmetic", "--out", "{tmp}/r",
      "--api-server", "ollama"], "--api-server must be one of"),
    (["run", "--model", "smollm2", "--task", "arithmetic", "--out", "{tmp}/r", "--metrics", "counterfactual_edits",
      "--edit-words", ""], "unknown word list ''"),
])
def test_cli_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    """In this process (``main`` is what ``python -m cotlens.cli`` runs; the test above runs the process itself,
    traceback check included): a fresh interpreter per case cost about 3 s of imports each."""
    from cotlens.cli import main

    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "Traceback" not in err


def test_fork_task_offers_two_operands_and_a_route_takes_one() -> None:
    """``fork3``: each step offers two operands; the sample's answer takes the first at every step; a route's CoT
    names its side and parses as the organisms' steps."""
    from cotlens.tasks.chains import make_chain, organism_question, written_values

    s = load_task("fork3", 3, 0)[0]
    chain = organism_question(s.question)
    assert chain.count(",") == 3 and ";" in chain
    start, alts = s.metadata["start"], s.metadata["alts"]
    x = int(s.metadata["ops"][0][1:])
    assert s.answer == (start + 3 * x) % 10 and alts[0] != x
    c = make_chain(random.Random(0), 3, repeat=True, fork=True)
    routed = c.route([1, 0, 1])
    cot = routed.cot(routed.values())
    assert cot.startswith("Right: B=A+") and " Left: C=" in cot
    assert written_values(cot, encoded=False) == routed.values()[1:]
    assert routed.answer == (c.start + 2 * c.alts[0] + c.ops[0][1]) % 10
