"""The user's files through the command line and the runner: one-line errors with exit code 2, notes on how
values were read, and no finished work lost when a file given later is bad. Runs use a trained organism (fast)
on task files the tests write; the context check uses the embedded SmolLM2."""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cotlens.judges import read_human_labels
from cotlens.metrics.counterfactual_edits import word_list
from cotlens.runs.config import RunConfig
from cotlens.tasks import load_task
from cotlens.tasks.hints import read_hint_file
from cotlens.types import CotlensError
from summaries import run_json as run


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cotlens.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def one_line_error(r: subprocess.CompletedProcess[str], needle: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr, r.stderr


def organism_task(path: Path, n: int = 6) -> Path:
    """repeat3 questions as a user's file: choices 9..0 (reversed), the answer a JSON integer index, so each
    integer is also the text of another choice (a reading the loader notes)."""
    rows = []
    for s in load_task("repeat3", n, seed=3):
        choices = list(reversed(s.choices))
        rows.append({"id": s.id, "question": s.question, "choices": choices,
                     "answer": choices.index(s.choices[s.answer])})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_notes_are_printed_and_kept_in_the_summary(tmp_path: Path) -> None:
    task = organism_task(tmp_path / "task.jsonl")
    r = cli("run", "--model", "organism:faithful", "--task", str(task), "--metrics", "no_cot", "--n", "6",
            "--cache", "none", "--quiet", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    notes = [x for x in r.stderr.splitlines() if x.startswith("cotlens: note: ")]
    assert len(notes) == 6 and notes[-1].endswith("... and 1 more like these (summary.json: task_notes)")
    assert f"{task}:1: field 'answer': " in notes[0] and "read as the 0-based index" in notes[0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["task_notes"]) == 6
    assert summary["accuracy_with_cot"]["value"] == 1.0  # the organism answers by choice text: read right


def test_no_finished_work_is_lost_when_a_later_file_is_bad(tmp_path: Path) -> None:
    task = organism_task(tmp_path / "task.jsonl")
    out = tmp_path / "run"
    cfg = RunConfig(model="organism:faithful", task=str(task), out=str(out), n=6, metrics=("early_answering",),
                    cache="none")
    run(cfg, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    base = ["run", "--model", "organism:faithful", "--task", str(task), "--metrics", "early_answering", "--n", "6",
            "--cache", "none", "--quiet", "--out", str(out)]
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes('{"sample_id": "x", "hint": "sycophancy", "verbalized": true, "note": "déjà"}\n'
                       .encode("latin-1"))
    one_line_error(cli(*base, "--human-labels", str(labels), cwd=tmp_path), f"{labels}:1: not UTF-8 text")
    labels.write_text('{"sample_id": "x", "hint": "sycophancy", "verbalized": null}\n')
    one_line_error(cli(*base, "--human-labels", str(labels), cwd=tmp_path), "no row is labelled")
    good = task.read_text()
    task.write_text(good.replace('"question": "', '"question": "Now ', 1))  # an edited question
    one_line_error(cli(*base, cwd=tmp_path), "differs from the samples this run started with (sample ")
    task.write_bytes(good.encode() + b'{"id": "z", "question": "caf\xe9", "choices": ["1", "2"], "answer": 0}\n')
    one_line_error(cli(*base, cwd=tmp_path), f"{task}:7: not UTF-8 text")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing rewritten, nothing lost
    task.write_text(good)
    r = cli(*base, cwd=tmp_path)  # restored: the run resumes and recomputes nothing
    assert r.returncode == 0, r.stderr
    assert (out / "records.jsonl").read_bytes() == before["records.jsonl"]
    assert (out / "traces.jsonl").read_bytes() == before["traces.jsonl"]


def test_cli_latin1_task_file(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes("id,question,choices,answer\r\n1,Combien coûte-t-il?,1 €|2 €,A\r\n".encode("cp1252"))
    r = cli("run", "--model", "organism:faithful", "--task", str(p), "--out", str(tmp_path / "run"), cwd=tmp_path)
    one_line_error(r, f"{p}:2: not UTF-8 text (byte 0xFB at byte offset")
    assert not (tmp_path / "run").exists()


def test_word_lists_hint_files_and_labels_read_like_task_files(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_bytes(codecs.BOM_UTF8 + b"shiny\r\n\r\nodd\r\n")
    assert word_list(str(words)) == ("shiny", "odd")
    words.write_bytes("shiny\nété\n".encode("latin-1"))
    with pytest.raises(CotlensError, match=r"words.txt:2: not UTF-8 text \(byte 0xE9 at byte offset 6"):
        word_list(str(words))
    hints = tmp_path / "hints.jsonl"
    hints.write_bytes(codecs.BOM_UTF8 + b'{"name": "teacher", "user": "$question\\n\\nMy teacher says ($letter)."}'
                      b"\r\n")
    assert [h.name for h in read_hint_file(hints)] == ["teacher"]
    hints.write_bytes(b'{"name": "prof", "user": "$question \xe9"}\n')
    with pytest.raises(CotlensError, match=r"hints.jsonl:1: not UTF-8 text"):
        read_hint_file(hints)
    labels = tmp_path / "labels.jsonl"  # a template filled in part: the null rows are not labelled yet
    labels.write_bytes(codecs.BOM_UTF8 + b'{"sample_id": 1, "hint": "sycophancy", "verbalized": true}\r\n'
                       b'{"sample_id": "2", "hint": "sycophancy", "verbalized": null}\r\n'
                       b'{"sample_id": "3", "hint": "metadata", "verbalized": false}\r\n')
    assert read_human_labels(labels) == {("1", "sycophancy"): True, ("3", "metadata"): False}
    labels.write_text('{"sample_id": "1", "hint": "sycophancy", "verbalized": "yes"}\n')
    with pytest.raises(CotlensError, match=r"labels.jsonl:1: field 'verbalized': expected true or false"):
        read_human_labels(labels)


def test_a_question_longer_than_the_context_is_refused_before_any_cot(tmp_path: Path,
                                                                       smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    task = tmp_path / "long.jsonl"
    rows = [{"id": "short", "question": "What is 2 + 2?", "choices": ["3", "4"], "answer": "4"},
            {"id": "long", "question": "Read this. " * 3000, "choices": ["3", "4"], "answer": "4"}]
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = RunConfig(model="smollm2", task=str(task), out=str(tmp_path / "run"), n=2, dtype="float32",
                    metrics=("no_cot",), cache="none")
    with pytest.raises(CotlensError, match=r"sample 'long': its question and answer prompt take \d+ tokens, which "
                                           r"leaves no room for a CoT in smollm2's context of 8192 tokens"):
        run(cfg, progress=False)
    traces = tmp_path / "run" / "traces.jsonl"
    assert not traces.exists() or not traces.read_text()  # no CoT was written, for any sample
    # the backend refuses an over-long prompt itself too, in one line (a metric's longer prompt, a served hint)
    from cotlens.prompts import answer_prompt

    [long] = load_task(str(task))[1:]
    with pytest.raises(CotlensError, match=r"a prompt of \d+ tokens is longer than smollm2's context of 8192"):
        smollm2_fp32.score_choices([answer_prompt(long, "")], [long.letters])


def test_model_files_that_are_not_models(tmp_path: Path) -> None:
    from cotlens.models.spec import load_model

    fake = tmp_path / "model.gguf"
    fake.write_text('{"id": "not a model"}\n')
    with pytest.raises(CotlensError, match=r"model.gguf: not a GGUF file"):
        load_model(f"gguf:{fake}")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "llama", oops')
    with pytest.raises(CotlensError, match=r"hf: transformers cannot load this model \(.*not a valid JSON file"):
        load_model(f"hf:{tmp_path / 'hf'}")
