"""Control flow of each metric on a scripted backend whose answers are known (the real-model and organism
checks live elsewhere)."""

from __future__ import annotations

import random

import pytest

from cotlens.elicit import elicit
from cotlens.metrics import METRICS, MetricContext
from cotlens.metrics.adding_mistakes import AddingMistakesArgs, rule_mistake
from cotlens.types import GenerationSettings, Prompt, Sample
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
