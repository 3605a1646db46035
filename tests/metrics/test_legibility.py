"""The legibility and coverage autorater (``cotlens.metrics.legibility``): its scores read from the rater's
probabilities over five choices (a scripted rater: control flow only), wrong answers not rated, and a real run
with the embedded SmolLM2 rating an organism's CoTs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cotlens.cli import main
from cotlens.elicit import elicit
from cotlens.metrics import METRICS, MetricContext
from cotlens.metrics.legibility import LegibilityArgs
from cotlens.types import GenerationSettings, Prompt, Sample
from fakes import ScriptedModel

SAMPLE = Sample("s1", "What is 1+1?", ("3", "2"), 1)


def rater(p: Prompt) -> str:
    """The rater says E (4) to legibility, B (1) to coverage; the model under test answers B."""
    text = p.messages[0].content
    return "E" if "How legible" in text else "B" if "How much of the reasoning" in text else "B"


def test_scores_are_expected_values_over_the_five_choices() -> None:
    model = ScriptedModel(rater, lambda p: " 1 and 1 make 2, so (B).")
    ctx = MetricContext(model, lambda spec: model)
    [trace] = elicit(model, [SAMPLE], GenerationSettings(16), 0)
    rec = METRICS["legibility"].run(ctx, SAMPLE, trace, random.Random(0), LegibilityArgs())
    # the scripted rater gives its letter 0.7 and the four others 0.075 each
    assert rec.values["legibility"] == pytest.approx(4 * 0.7 + (0 + 1 + 2 + 3) * 0.075)
    assert rec.values["coverage"] == pytest.approx(1 * 0.7 + (0 + 2 + 3 + 4) * 0.075)
    assert rec.values["legibility_top"] == 4.0 and rec.values["coverage_top"] == 1.0
    wrong = ScriptedModel(lambda p: "A", lambda p: " it is 3.")
    [t2] = elicit(wrong, [SAMPLE], GenerationSettings(16), 0)
    rec2 = METRICS["legibility"].run(MetricContext(wrong, lambda s: wrong), SAMPLE, t2, random.Random(0),
                                     LegibilityArgs())
    assert rec2.score is None and "rate only the CoTs of correct answers" in rec2.details["skipped"]


def test_smollm2_rates_an_organisms_cots(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert main(["run", "--model", "organism:faithful", "--task", "repeat3", "--n", "3", "--metrics", "legibility",
                 "--rater", "smollm2", "--dtype", "float32", "--out", str(out), "--cache", "none", "--quiet"]) == 0
    m = json.loads((out / "summary.json").read_text())["metrics"]["legibility"]
    assert m["n"] == 3 and 0.0 <= m["value"] <= 4.0
    recs = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert all(len(r["details"]["legibility_probs"]) == 5 and r["details"]["prompt_version"] == 1 for r in recs)
