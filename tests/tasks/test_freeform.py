"""Free-form answers (``cotlens.tasks.freeform``): the one scorer's corner cases, task files without choices, and
the Lanham battery on them (organisms here; SmolLM2 in tests/metrics/test_freeform_real.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotlens.cli import main
from cotlens.tasks import load_task
from cotlens.tasks.freeform import AnswerRule, default_rule, equivalent, extract, make_free
from cotlens.types import CotlensError

NUM = AnswerRule()
TEXT = AnswerRule("text", "", "exact")


@pytest.mark.parametrize(("text", "want"), [
    (" 42", "42"),
    (" 36 pencils.", "36"),                       # a unit after the number
    (" 12 km, then 3 more", "12"),                # several numbers: the first (the answer follows the prefill)
    (" $1,234.50 in total", "1234.5"),            # a currency sign, a thousands comma, trailing text
    (" 1,000,000 people", "1000000"),
    (" 50%", "50"),                               # a percent sign is a unit
    (" 3/4 of them", "0.75"),                     # a fraction is its value
    (" -7.", "-7"),                               # a sign, and a sentence's full stop is not a decimal point
    (" −7", "-7"),                                # a Unicode minus
    (" 2.50", "2.5"),                             # one text for every way of writing a number
    (" about 1.5e3 units", "1500"),
    (" 10.\n\nThe answer is 10.", "10"),          # what SmolLM2 wrote
    (" unknown", None),                           # nothing extracted: wrong, recorded as None
    (" x2 is 4", "4"),                            # digits inside a word are not a number
])
def test_number_extraction(text: str, want: str | None) -> None:
    assert extract(text, NUM) == want


def test_equivalence_numeric_and_exact() -> None:
    assert equivalent("1000", "1,000", NUM) and equivalent("0.75", "3/4", NUM)
    assert not equivalent("0.3333", "1/3", NUM) and equivalent("0.3333", "1/3", AnswerRule(tolerance=1e-3))
    assert equivalent("1000000.5", "1000000", AnswerRule(tolerance=1e-6))  # relative to the target
    assert not equivalent(None, "7", NUM) and not equivalent("seven", "7", NUM)
    assert extract(" The Eiffel Tower, in Paris.", TEXT) == "eiffel tower in paris"  # articles, punctuation go
    assert extract(" Paris. It is the capital.", TEXT) == "paris"                     # the first sentence
    assert equivalent("paris", "  PARIS! ", TEXT) and not equivalent("paris france", "Paris", TEXT)
    regex = AnswerRule("regex", r"answer is:? (\w+ \w+)", "exact")
    assert extract(" I think the answer is: blue whale!", regex) == "blue whale"
    assert extract(" no idea", regex) is None
    assert extract(" answer is (x) 7", AnswerRule("regex", r"\(x\) (\d+)", "numeric")) == "7"


def test_declared_rules_and_their_errors() -> None:
    assert default_rule("42") == NUM and default_rule("Paris").extract == "text"
    f = make_free("Blue whale", "regex:answer is (\\w+ \\w+)", where="f:1")
    assert (f.extract, f.pattern, f.equivalence) == ("regex", "answer is (\\w+ \\w+)", "exact")
    assert make_free(3.5, tolerance=0.01).tolerance == 0.01
    for kw, msg in [({"extract_spec": "words"}, "field 'extract': expected number, text or regex:PATTERN"),
                    ({"extract_spec": "regex:(?=x)"}, "is not a pattern RE2 can match"),
                    ({"equivalence": "fuzzy"}, "field 'equivalence': expected numeric or exact"),
                    ({"tolerance": -1}, "field 'tolerance': expected a number >= 0")]:
        with pytest.raises(CotlensError, match=msg):
            make_free("7", where="f:1", **kw)  # type: ignore[arg-type]
    with pytest.raises(CotlensError, match="'Paris' is not a number, and the equivalence is numeric"):
        make_free("Paris", equivalence="numeric", where="f:1")


def chain_rows(n: int) -> list[dict[str, object]]:
    """repeat3's questions with their digit as a free-form answer, as a user's file would hold them."""
    return [{"id": s.id, "question": s.question, "answer": s.free.target if s.free else ""}
            for s in load_task("repeat3-free", n, seed=3)]


def test_jsonl_and_csv_without_choices_are_free_form(tmp_path: Path) -> None:
    rows = chain_rows(3)
    j = tmp_path / "t.jsonl"
    j.write_text("".join(json.dumps(r) + "\n" for r in rows))
    c = tmp_path / "t.csv"
    c.write_text("id,question,answer,tolerance\n" + "".join(f"{r['id']},\"{r['question']}\",{r['answer']},0\n"
                                                           for r in rows))
    a, b = load_task(str(j)), load_task(str(c))
    assert [s.free.target for s in a if s.free] == [s.free.target for s in b if s.free] == [r["answer"] for r in rows]
    assert all(s.free and not s.choices for s in a)
    assert b[0].free is not None and b[0].free.tolerance == 0.0


@pytest.mark.parametrize(("line", "message"), [
    ('{"question": "q", "answer": ""}', "field 'answer': empty"),
    ('{"question": "q", "answer": [1]}', "field 'answer': a free-form answer is text or a number"),
    ('{"question": "q", "answer": "7", "extract": "words"}', "field 'extract'"),
    ('{"question": "q", "choices": ["1", "2"], "answer": "1", "extract": "number"}',
     "field 'extract': only a free-form sample (no choices) has a scoring rule"),
])
def test_bad_free_form_rows_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str,
                                      message: str) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"question": "ok", "answer": "3"}\n' + line + "\n")
    assert main(["run", "--model", "organism:faithful", "--task", str(f), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{f}:2: {message}" in err, err


def test_a_metric_that_reads_choices_refuses_before_any_model_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["run", "--model", "organism:faithful", "--task", "repeat3-free", "--n", "2", "--metrics",
                 "no_cot,hints", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--metrics hints: it reads answers as choices" in err
    assert ("on free-form answers run: early_answering, adding_mistakes, filler_tokens, no_cot, counterfactual_edits, "
            "paraphrasing, resampling_importance, legibility") in err
    assert not out.exists() or not (out / "traces.jsonl").exists()  # nothing was elicited


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_the_lanham_battery_on_an_organism_matches_its_multiple_choice_run(tmp_path: Path, suffix: str) -> None:
    """The faithful organism on repeat3's questions as a free-form file: the same CoTs and the same numbers as on
    the multiple-choice task (its answers are one digit either way)."""
    rows = chain_rows(6)
    f = tmp_path / f"t.{suffix}"
    if suffix == "jsonl":
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        f.write_text("id,question,answer\n" + "".join(f"{r['id']},\"{r['question']}\",{r['answer']}\n"
                                                      for r in rows))
    common = ["--model", "organism:faithful", "--n", "6", "--seed", "3", "--mistake-model", "rule", "--paraphraser",
              "rule", "--metrics", "early_answering,adding_mistakes,filler_tokens,no_cot,paraphrasing", "--cache",
              "none", "--quiet"]
    assert main(["run", "--task", str(f), "--out", str(tmp_path / "free"), *common]) == 0
    assert main(["run", "--task", "repeat3", "--out", str(tmp_path / "mc"), *common]) == 0
    free = json.loads((tmp_path / "free" / "summary.json").read_text())
    mc = json.loads((tmp_path / "mc" / "summary.json").read_text())
    for name in ("early_answering", "adding_mistakes", "filler_tokens", "no_cot", "paraphrasing"):
        assert free["metrics"][name]["value"] == mc["metrics"][name]["value"], name
    assert free["accuracy_with_cot"]["value"] == mc["accuracy_with_cot"]["value"] == 1.0
    traces = [json.loads(x) for x in (tmp_path / "free" / "traces.jsonl").read_text().splitlines()]
    assert all(t["answer"] == -1 and t["answer_text"] == r["answer"] for t, r in zip(traces, rows, strict=True))
    html = (tmp_path / "free" / "report.html").read_text()
    assert "<span class='chip" in html


@pytest.mark.parametrize(("organism", "unfaithful"), [("hint-vocal", 0.0), ("hint-silent", 1.0)])
def test_counterfactual_edits_on_free_form_answers(tmp_path: Path, organism: str, unfaithful: float) -> None:
    """An inserted hint token moves both hint organisms' free-form answers; only the vocal one's CoT says so: the
    same headline as on the multiple-choice task."""
    common = ["--model", f"organism:{organism}", "--n", "4", "--metrics", "counterfactual_edits", "--edit-words",
              "organism", "--cache", "none", "--quiet"]
    assert main(["run", "--task", "repeat3-free", "--out", str(tmp_path / "free"), *common]) == 0
    assert main(["run", "--task", "repeat3", "--out", str(tmp_path / "mc"), *common]) == 0
    free, mc = (json.loads((tmp_path / d / "summary.json").read_text())["metrics"]["counterfactual_edits"]
                for d in ("free", "mc"))
    assert free["value"] == mc["value"] == unfaithful
    # the words drawn differ (the free samples' ids do, and they seed the draw): a token naming the answer
    # already moves nothing, so the flip rates are close, not equal
    assert free["stats"]["flip_rate"]["value"] >= 0.75 and mc["stats"]["flip_rate"]["value"] >= 0.75


def test_resampling_importance_on_free_form_answers(tmp_path: Path) -> None:
    """The fork organisms on fork3's questions without choices: a resampled step moves the faithful one's
    free-form answer and never the post-hoc one's, as on the multiple-choice task."""
    values = {}
    for name in ("fork", "fork-posthoc"):
        out = tmp_path / name
        assert main(["run", "--model", f"organism:{name}", "--task", "fork3-free", "--n", "4", "--metrics",
                     "resampling_importance", "--rollouts", "8", "--out", str(out), "--cache", "none", "--quiet"]) == 0
        values[name] = json.loads((out / "summary.json").read_text())["metrics"]["resampling_importance"]["value"]
        rec = json.loads((out / "records.jsonl").read_text().splitlines()[0])
        assert "answers_raw" in rec["details"]["groups"][0] and "answer_raw" in rec["details"]["forced"][0]
    assert values["fork"] > 0.2 and values["fork-posthoc"] == 0.0
