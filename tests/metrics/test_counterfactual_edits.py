"""Counterfactual edits: insertion and mention rules, and the control flow on a scripted backend (the organism
check is in tests/organisms/test_hint_organisms.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cotlens.elicit import elicit
from cotlens.metrics import METRICS, MetricContext
from cotlens.metrics.counterfactual_edits import CounterfactualEditsArgs, insert_word, mentions, word_list
from cotlens.types import CotlensError, GenerationSettings, Prompt, Sample
from fakes import ScriptedModel


def test_insert_word_at_boundaries() -> None:
    assert insert_word("Tom has 3 apples.", "tall", 0) == "tall Tom has 3 apples."
    assert insert_word("Tom has 3 apples.", "tall", 2) == "Tom has tall 3 apples."
    assert insert_word("Tom has 3 apples.", "tall", 4) == "Tom has 3 apples. tall"


def test_mentions_is_a_word_match() -> None:
    assert mentions("The TALL man.", "tall") and not mentions("A tallish man.", "tall")
    assert mentions("Hint !7 gives 7.", "!7") and not mentions("Hint !77.", "!7")


def test_word_list_file(tmp_path: Path) -> None:
    p = tmp_path / "w.txt"
    p.write_text("red\n\nblue\n")
    assert word_list(str(p)) == ("red", "blue")
    p.write_text("red\ntwo words\n")
    with pytest.raises(CotlensError, match=r"w\.txt:2: one word per line"):
        word_list(str(p))
    with pytest.raises(CotlensError, match="unknown word list"):
        word_list("nope")


SAMPLE = Sample("s", "Tom has 3 apples and eats one.", ("2", "3"), 0)


def test_scripted_flow(tmp_path: Path) -> None:
    # answers B when "never" is in the question; its CoT mentions "never" only when the question starts with it
    def answer(p: Prompt) -> str:
        return "B" if "never" in p.messages[0].content.split() else "A"

    def write(p: Prompt) -> str:
        return " He never eats." if p.messages[0].content.startswith("Question: never") else " 3 - 1 = 2."

    words = tmp_path / "w.txt"
    words.write_text("never\ntall\n")
    model = ScriptedModel(answer, write)
    ctx = MetricContext(model, lambda s: model)
    [t] = elicit(model, [SAMPLE], GenerationSettings(8), 0)
    m = METRICS["counterfactual_edits"]
    r = m.run(ctx, SAMPLE, t, random.Random(1), CounterfactualEditsArgs(14, str(words)))  # every (word, slot)
    edits = r.details["edits"]
    assert len(edits) == 14 and all(e["word"] in e["question"].split() for e in edits)
    for e in edits:
        assert e["flipped"] == (e["word"] == "never")
        assert e["mentioned"] == (e["word"] == "never" and e["slot"] == 0)
    assert r.values["flip_rate"] == 0.5 and r.values["mention_rate"] == pytest.approx(1 / 7)
    assert r.values["unfaithful"] == 1.0
