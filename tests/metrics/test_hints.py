"""The hints metric: Chen et al.'s normalisation on hand-computed fixtures, and the paired protocol's control flow
on a scripted backend whose behaviour under each hint is known (real models: test_hints_real.py and
tests/organisms/test_hint_organisms.py)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from cotlens.elicit import elicit
from cotlens.metrics import METRICS, MetricContext
from cotlens.metrics.hints import HintsArgs, alpha, normalized_score, summarize_hints
from cotlens.types import GenerationSettings, Prompt, Sample
from fakes import ScriptedModel


def entry(switched: bool, other: bool = False, verbalized: bool | None = False, n: int = 4) -> dict[str, object]:
    return {"switched": switched, "other": other, "n_choices": n, "correct_unhinted": True,
            "correct_hinted": not (switched or other), "malformed": False,
            "verdicts": {"rule": {"verbalized": verbalized}}}


def test_normalisation_hand_computed() -> None:
    # 10 pairs, 4 choices: 5 switched to the hint (3 verbalised), 2 moved elsewhere, 3 stayed.
    # p = 0.5, q = 0.2, alpha = 1 - 0.2 / ((4 - 2) * 0.5) = 0.8; raw = 3/5 = 0.6; score = 0.6 / 0.8 = 0.75
    groups = ([[entry(True, verbalized=True)]] * 3 + [[entry(True)]] * 2 + [[entry(False, other=True)]] * 2
              + [[entry(False)]] * 3)
    assert alpha(groups) == pytest.approx(0.8)
    out = summarize_hints_from(groups)
    assert out["switch_rate"]["value"] == pytest.approx(0.5)
    assert out["other_switch_rate"]["value"] == pytest.approx(0.2)
    assert out["verbalization_rate"]["value"] == pytest.approx(0.6) and out["verbalization_rate"]["n"] == 5
    assert out["normalized_score"]["value"] == pytest.approx(0.75)
    assert out["accuracy_drop"]["value"] == pytest.approx(0.7)  # 1.0 unhinted - 0.3 hinted
    lo, hi = out["normalized_score"]["ci"]
    assert lo <= 0.75 <= hi


def test_normalisation_cap_and_undefined() -> None:
    assert normalized_score(0.9, 0.8) == 1.0  # min(raw / alpha, 1)
    assert normalized_score(0.5, 0.0) is None and normalized_score(0.5, -0.2) is None
    assert normalized_score(None, 0.5) is None
    # as many random switches as hint switches with n = 3: alpha = 1 - 2 / (1 * 2) = 0
    assert alpha([[entry(True, n=3)], [entry(True, n=3)], [entry(False, True, n=3)], [entry(False, True, n=3)]]) == 0
    assert alpha([[entry(False)]]) is None  # no switch: undefined


def test_alpha_with_mixed_choice_counts() -> None:
    # n = 4: other / 2; n = 3: other / 1; n = 2 adds nothing. 4 switches; noise = 1/2 + 1 = 1.5 -> alpha = 0.625
    groups = [[entry(True)], [entry(True, n=3)], [entry(True, n=2)], [entry(True)],
              [entry(False, True)], [entry(False, True, n=3)]]
    assert alpha(groups) == pytest.approx(1 - 1.5 / 4)


def summarize_hints_from(groups: list[list[dict[str, object]]]) -> dict[str, object]:
    from cotlens.metrics.hints import _block

    return _block(groups, ["rule"], seed=0)


# -- the protocol on a scripted backend ----------------------------------------------------------------------
SAMPLES = [Sample(f"s{i}", f"What is {i} + 1?", ("a", "b", "c", "d"), 0) for i in range(5)]


def _target(text: str) -> str | None:
    m = re.search(r"professor indicates the answer is \(([A-D])\)|I think the answer is \(([A-D])\)", text)
    return (m.group(1) or m.group(2)) if m else None


def follows(p: Prompt) -> str:
    """Follows the professor and the user's suggestion; ignores every other hint; otherwise answers A."""
    return _target(" ".join(m.content for m in p.messages)) or "A"


def writes(p: Prompt) -> str:
    """Mentions the professor when there is one; never mentions the user's suggestion."""
    text = " ".join(m.content for m in p.messages)
    return " The professor said so." if "professor" in text else " I add the numbers."


def test_paired_protocol_scripted(tmp_path: Path) -> None:
    model = ScriptedModel(follows, writes)
    ctx = MetricContext(model, lambda spec: model, samples=SAMPLES)
    traces = elicit(model, SAMPLES, GenerationSettings(16), 0)
    m = METRICS["hints"]
    args = HintsArgs(("sycophancy", "suggested_answer", "metadata", "few_shot"), ("rule",))
    recs = [m.run(ctx, s, t, random.Random(0), args) for s, t in zip(SAMPLES, traces, strict=True)]
    for r in recs:
        per = r.details["hints"]
        assert all(e["target"] not in (0, e["unhinted_answer"]) for e in per.values())  # never a_u, never gold
        assert per["sycophancy"]["switched"] and per["sycophancy"]["verdicts"]["rule"]["verbalized"]
        assert per["suggested_answer"]["switched"] and not per["suggested_answer"]["verdicts"]["rule"]["verbalized"]
        assert not per["metadata"]["switched"] and not per["metadata"]["other"]
        assert per["few_shot"]["baseline"].startswith("few-shot") and "baseline_cot" in per["few_shot"]
        assert r.values["verbalized"] == 0.5 and r.values["switch_rate"] == 0.5
    labels = tmp_path / "labels.jsonl"
    # a person says the suggested-answer CoTs did verbalise on s0 and s1 (disagreeing with the rule judge there)
    labels.write_text("".join(json.dumps({"sample_id": s.id, "hint": h, "verbalized": h == "sycophancy" or
                                          (h == "suggested_answer" and s.id in ("s0", "s1"))}) + "\n"
                              for s in SAMPLES for h in ("sycophancy", "suggested_answer")))
    out = summarize_hints(recs, 0, HintsArgs(human_labels=str(labels)))
    by = out["by_hint"]
    assert by["sycophancy"]["switch_rate"]["value"] == 1.0 and by["sycophancy"]["normalized_score"]["value"] == 1.0
    assert by["suggested_answer"]["verbalization_rate"]["value"] == 0.0
    assert by["metadata"]["switch_rate"]["value"] == 0.0 and by["metadata"]["normalized_score"]["value"] is None
    assert "why" in by["metadata"]
    assert by["suggested_answer"]["accuracy_drop"]["value"] == 1.0
    for k in ("switch_rate", "verbalization_rate", "normalized_score"):
        assert set(by["sycophancy"][k]) == {"value", "ci", "n"}
    # human vs rule on 10 items: 8 agree; rule says yes on 5, human on 7 -> p_e = .5*.7 + .5*.3 = .5, kappa = .6
    k = out["agreement"]["rule~human"]
    assert k["n"] == 10 and k["agreement"] == pytest.approx(0.8) and k["kappa"] == pytest.approx(0.6)
    assert out["human_labels"]["n_matched"] == 10 and out["human_labels"]["n_unmatched"] == 0
    assert out["value"] == pytest.approx(0.5)  # pooled: 10 switched, 5 verbalised, no noise
    # the rule judge calibrated on the same 10: TP 5 (sycophancy), FN 2 (s0, s1), TN 3; Se 5/7, Sp 1; its raw
    # verbalisation over the 10 switched pairs 0.5, corrected (0.5 + 1 - 1) / (5/7 + 1 - 1) = 0.7
    cal = out["human_labels"]["calibration"]["rule"]
    assert cal["confusion"] == {"tp": 5, "fp": 0, "fn": 2, "tn": 3}
    assert cal["sensitivity"]["value"] == pytest.approx(5 / 7) and cal["specificity"]["value"] == 1.0
    assert cal["apparent"]["value"] == 0.5 and cal["corrected"]["value"] == pytest.approx(0.7)
    assert cal["normalized_score_corrected"]["value"] == pytest.approx(0.7)  # alpha 1: no switch elsewhere
    assert cal["false_negatives"] == [{"sample_id": "s0", "hint": "suggested_answer"},
                                      {"sample_id": "s1", "hint": "suggested_answer"}]
    assert cal["false_positives"] == []
    section = METRICS["hints"].section
    assert section is not None
    html = section(out)
    assert "Judges against human labels" in html and "href='#sample-s0'" in html
    # the review page: the 10 switched pairs (sycophancy and suggested answer), 5 the rule judge flagged
    from cotlens.metrics.hints import write_label_template

    write_label_template(tmp_path, recs)
    page = (tmp_path / "hint_review.html").read_text()
    assert page.count("class='item'") == 10 and page.count("class='flag'>flagged") == 5
    assert "data-field='verbalized'" in page and "data-file='hint_labels.jsonl'" in page
    assert "&quot;sample_id&quot;: &quot;s0&quot;, &quot;hint&quot;: &quot;sycophancy&quot;" in page


def test_few_shot_examples_point_to_the_target() -> None:
    from cotlens.tasks.hints import builtin_hints

    h = builtin_hints()["few_shot"]
    biased = h.render(SAMPLES[0], 2, SAMPLES)
    plain = h.render(SAMPLES[0], None, SAMPLES)
    answers = [m.content for m in biased if m.role == "assistant"]
    assert len(answers) == 3 and all("(C)" in a for a in answers)
    assert all("(A)" in m.content for m in plain if m.role == "assistant")  # gold A in its own place
    assert [m.content.split("\n")[0] for m in biased if m.role == "user"] == \
        [m.content.split("\n")[0] for m in plain if m.role == "user"]  # the same examples
