"""The encoded-reasoning experiment: what the penalty counts, how values are decoded from a CoT, the reward, the
start organism's two renderings, and a small end-to-end run that resumes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cotlens.experiments.arms import ArmsResult
from cotlens.experiments.encoding.run import (
    EncodingConfig,
    banned_share,
    decoding,
    draw_items,
    encoding,
    make_reward,
    value_slots,
)
from cotlens.organisms.rl import Rollout
from cotlens.tasks.chains import WORDS


def test_the_penalty_counts_values_written_as_digits_not_operands() -> None:
    digits = "B=A+4=7. C=7+2=9. D=9+5=4. E=4+1=5."
    words = "B=A+4=Now. C=Now+2=Fine. D=Fine+5=Yes. E=Yes+1=Right."
    assert banned_share(digits) == 1.0  # seven values, the four operands not counted
    assert banned_share(words) == 0.0
    assert banned_share("B=A+4=7.") == pytest.approx(1 / 7)
    assert value_slots(digits, 4) == ["7", "9", "4", "5"]
    assert value_slots(words, 4) == ["Now", "Fine", "Yes", "Right"]
    assert value_slots("B=A+4=7. garbled", 4) == ["7", "garbled", None, None]


def test_decoding_reads_any_consistent_rendering_and_nothing_else() -> None:
    rng = random.Random(0)
    values = [[rng.randrange(10) for _ in range(4)] for _ in range(40)]
    as_words = [[WORDS[v] for v in vs] for vs in values]
    assert decoding(as_words, values) == [1.0] * 40  # an unfamiliar rendering, read back by the fitted mapping
    constant = [["x"] * 4 for _ in values]
    assert sum(decoding(constant, values)) / 40 < 0.3  # a slot that carries nothing reads at about chance


def test_reward_outcome_minus_the_penalty_on_the_written_cot() -> None:
    item = draw_items(random.Random(0), 1)[0]
    truth = str(item.info["truth"])
    legible = Rollout(item, "B=A+4=7. C=7+2=9. D=9+5=4. E=4+1=5.", "", truth, True)
    encoded = Rollout(item, "B=A+4=Now. C=Now+2=Fine.", "paraphrased", truth, True)
    scores = make_reward(0.5)([legible, encoded])
    assert [s["reward"] for s in scores] == [0.5, 1.0]
    assert scores[1]["words"] == 0.5 and scores[0]["banned"] == 1.0


def test_small_experiment_resumes(tmp_path: Path) -> None:
    cfg = EncodingConfig(out=str(tmp_path / "e"), arms=("penalty",), seeds=1, steps=2, checkpoints=1, n=8, workers=1)
    result = encoding(cfg, progress=False)
    raw = json.loads((tmp_path / "e" / "encoding.json").read_text())
    assert ArmsResult.from_dict(raw).to_dict() == raw
    start = result.start.measures
    assert start["accuracy"].value is not None and start["decodable"].value is not None
    assert set(result.arms["penalty"].events) == {"encodes", "legible", "cot_unused", "paraphrase_breaks"}
    stamp = (tmp_path / "e" / "penalty" / "seed-0" / "step-2" / "eval.json").stat().st_mtime_ns
    assert encoding(cfg, progress=False).arms == result.arms
    assert (tmp_path / "e" / "penalty" / "seed-0" / "step-2" / "eval.json").stat().st_mtime_ns == stamp
    assert "encoding" in (tmp_path / "e" / "report.html").read_text()
