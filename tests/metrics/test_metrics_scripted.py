"""Control flow of each metric on a scripted backend whose answers are known (the real-model and organism
checks live elsewhere)."""

from __future__ import annotations

import random

import pytest

from cotlens.elicit import elicit
from cotlens.metrics import METRICS, MetricContext
from cotlens.metrics.adding_mistakes import AddingMistakesArgs, rule_mistake
from cotlens.types import GenerationSettings, Prompt, Record, Sample
from fakes import ScriptedModel

SAMPLE = Sample("s1", "What is 1+1?", ("3", "2"), 1)
COT = "X is 1. Y is 1. So B, the answer is (B)."


def cot_says_b(p: Prompt) -> str:
    """Answers B only when the CoT shown so far says 'so B'."""
    text = p.messages[1].content if len(p.messages) > 1 else ""
    return "B" if "So B" in text else "A"


def setup(gen: str = " " + COT) -> tuple[ScriptedModel, MetricContext]:
    model = ScriptedModel(cot_says_b, lambda p: gen)
    return model, MetricContext(model, lambda spec: model)


def test_elicit_reads_answer_after_full_cot() -> None:
    model, _ = setup()
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    assert t.cot == COT and len(t.steps) == 3 and t.answer == 1 and t.stated_answer == 1


def test_early_answering_curve_and_aoc() -> None:
    model, ctx = setup()
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    m = METRICS["early_answering"]
    r = m.run(ctx, SAMPLE, t, random.Random(0), m.default_args())
    assert r.details["curve"] == [(0.0, 0.0), (1 / 3, 0.0), (2 / 3, 0.0), (1.0, 1.0)]
    assert r.score == pytest.approx(1 - (1 / 3) * 0.5)
    assert r.values["accuracy"] == 1.0


def test_early_answering_empty_cot_is_skipped() -> None:
    model, ctx = setup(gen="")
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    r = METRICS["early_answering"].run(ctx, SAMPLE, t, random.Random(0), METRICS["early_answering"].default_args())
    assert r.score is None and "skipped" in r.details


def test_adding_mistakes_rule_and_continuation() -> None:
    # continuing after any edit, this model writes "so A." -> the answer flips at every position
    model = ScriptedModel(cot_says_b, lambda p: " " + COT if p.prefill.endswith(":") else " So A.")
    ctx = MetricContext(model, lambda spec: model)
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    m = METRICS["adding_mistakes"]
    r = m.run(ctx, SAMPLE, t, random.Random(0), AddingMistakesArgs(mistake_model="rule"))
    pts = r.details["points"]
    assert [p["mistake_changed"] for p in pts] == [True, True, False]  # step 3 has no number
    assert r.details["curve"] == [(0.0, 0.0), (1 / 3, 0.0), (1.0, 1.0)]
    assert r.values["valid_mistake_rate"] == pytest.approx(2 / 3)
    # "X is 1." -> "X is 2.": the value it states changed, a verified mistake, as is step 2's
    assert [p.get("verified") for p in pts] == [True, True, None] and pts[0]["check"] == "changed value"
    assert r.values["verified_mistake_rate"] == pytest.approx(2 / 3) and r.values["aoc_verified"] == r.values["aoc"]
    assert pts[0]["new_cot"].startswith("X is ") and pts[0]["new_cot"].endswith("So A.")


def test_adding_mistakes_uses_the_mistake_model() -> None:
    model, _ = setup()
    writer = ScriptedModel(lambda p: "A", lambda p: " Y is 7.\nextra")
    asked: list[str] = []

    def helper(spec: str) -> ScriptedModel:
        asked.append(spec)
        return writer

    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    m = METRICS["adding_mistakes"]
    r = m.run(MetricContext(model, helper), SAMPLE, t, random.Random(0), AddingMistakesArgs(mistake_model="hf:x"))
    assert asked == ["hf:x"]
    assert [p["mistake"] for p in r.details["points"]] == ["Y is 7."] * 3
    assert r.details["points"][1]["mistake_changed"] is True
    # in place of "X is 1." and "Y is 1." a changed value; in place of "So B, the answer is (B)." too (a number
    # where there was none): the checker says each rewrite is a mistake or not, and why
    assert [p["check"] for p in r.details["points"]] == ["changed value", "changed value", "changed value"]


def test_adding_mistakes_says_when_it_scored_under_half() -> None:
    """A mistake model that returns every step unchanged scores nothing; the summary says so in one line."""
    from cotlens.runs.summary import metric_summary

    model, _ = setup()
    same = ScriptedModel(lambda p: "A", lambda p: " " + p.messages[-1].content.split("Original sentence: ")[1])
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    m = METRICS["adding_mistakes"]
    unchanged = ScriptedModel(lambda p: "A", lambda p: "")  # an empty rewrite is no mistake either
    recs = [m.run(MetricContext(model, lambda spec, w=w: w), SAMPLE, t, random.Random(0),
                  AddingMistakesArgs(mistake_model="hf:x")) for w in (unchanged, unchanged, unchanged, same)]
    assert [r.details.get("skipped") for r in recs] == ["the mistake model left every chosen step unchanged"] * 4
    entry = metric_summary("adding_mistakes", recs, 0, AddingMistakesArgs())
    assert entry.notes == ["adding_mistakes scored 0 of 4 samples: the mistake model left every chosen step "
                           "unchanged (4)"]
    assert metric_summary("adding_mistakes", _scored(), 0, AddingMistakesArgs()).notes == []


def _scored() -> list[Record]:
    """Two records of a rule run, both scored."""
    model = ScriptedModel(cot_says_b, lambda p: " " + COT if p.prefill.endswith(":") else " So A.")
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    r = METRICS["adding_mistakes"].run(MetricContext(model, lambda spec: model), SAMPLE, t, random.Random(0),
                                       AddingMistakesArgs(mistake_model="rule"))
    return [r, r]


def test_rule_mistake_changes_last_number() -> None:
    out = rule_mistake("so 12 + 3 = 15.", random.Random(0))
    assert out.startswith("so 12 + 3 = ") and out != "so 12 + 3 = 15."


def test_filler_and_no_cot() -> None:
    model, ctx = setup()
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    f = METRICS["filler_tokens"].run(ctx, SAMPLE, t, random.Random(0), METRICS["filler_tokens"].default_args())
    assert f.values["accuracy"] == 0.0 and f.values["same_answer"] == 0.0 and f.values["accuracy_with_cot"] == 1.0
    filler = [p for p in f.details["points"] if p["fraction"] == 1.0][0]
    assert filler["filler_tokens"] == t.cot_tokens
    # with no CoT and with filler it answers A (wrong) alike: no use, no breakage, no gain
    assert f.values["filler_use"] == 0.0 and f.values["filler_breakage"] == 0.0
    assert f.values["filler_gain"] == pytest.approx(0.0)
    n = METRICS["no_cot"].run(ctx, SAMPLE, t, random.Random(0), METRICS["no_cot"].default_args())
    assert n.values == {"accuracy": 0.0, "same_answer": 0.0, "accuracy_with_cot": 1.0}


def test_summaries_have_value_ci_n() -> None:
    model, ctx = setup()
    [t] = elicit(model, [SAMPLE], GenerationSettings(32), 0)
    m = METRICS["early_answering"]
    recs = [m.run(ctx, SAMPLE, t, random.Random(0), METRICS["early_answering"].default_args())] * 5
    s = m.summarize(recs)
    assert s["value"].n == 5 and s["value"].value == pytest.approx(5 / 6) and s["accuracy"].value == 1.0


def test_rule_mistake_keeps_digit_count() -> None:
    rng = random.Random(1)
    for v in range(10):
        out = rule_mistake(f"B={v}.", rng)
        assert out != f"B={v}." and len(out) == 4
