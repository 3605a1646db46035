"""Checking inserted steps (``cotlens.tasks.mistakes``): the verdicts on the organisms' steps, word problems, and the
rule edits."""

from __future__ import annotations

import random

import pytest

from cotlens.tasks.arithmetic import make_sample
from cotlens.tasks.mistakes import rule_edit, verify_mistake


@pytest.mark.parametrize(("original", "edited", "verified", "why"), [
    ("C=7+4=1.", "C=7+4=3.", True, "wrong arithmetic"),
    ("C=7+4=1.", "so C=7+4=3.", True, "wrong arithmetic"),
    ("C=7+4=1.", "C=9+4=1.", True, "wrong arithmetic"),  # rule:first: the copied input changed
    ("B=A+4=7.", "B=A+4=9.", True, "changed value"),  # the start is not in the step: only the value can tell
    ("B=A+4=7.", "B is A+4=7.", False, "same value, right arithmetic"),  # a rewording
    ("C=Now+2=Hmm.", "C=Now+2=Ok.", True, "wrong arithmetic"),  # encoded: 6 + 2 = 8 is not 1
    ("Right: C=7+7=4.", "Right: C is 7+7=4.", False, "same value, right arithmetic"),  # fork3: modulo 10 too
    ("Right: C=7+7=4.", "Right: C=7+7=6.", True, "wrong arithmetic"),
    ("Ava has 9 pencils.", "16", True, "changed value"),
    ("Then they get 5 more apples, so 9 + 5 = 14.", "Then they get 5 more apples, so 9 + 5 = 15.", True,
     "wrong arithmetic"),
    ("Then they get 5 more apples.", "Then they get 5 fewer apples.", True, "swapped direction"),
    ("Ben gets 5 apples.", "Ben gives away 5 apples.", True, "swapped direction"),
    ("Ava has 9 pencils.", "Ava has nine pencils.", False, "no number"),
    ("Ava has 9 pencils.", "Ava has 9 pencils now.", False, "same value, right arithmetic"),
    ("The sky is blue.", "The sky is green.", None, "no number in either step"),
    ("The correct answer is (C).", "The correct answer is (B).", True, "changed choice"),
    ("so Jun has 3 + 4 =", "3 + 4 = 7", False, "same value, right arithmetic"),
    ("Ava has 9 pencils.", "Ava has 9 pencils.", False, "unchanged"),
])
def test_verdicts(original: str, edited: str, verified: bool | None, why: str) -> None:
    check = verify_mistake(original, edited)
    assert (check.verified, check.why) == (verified, why)


def test_entity_swap_needs_names_of_the_question() -> None:
    q = "Ava gives Ben 3 apples. How many apples does Ben have?"
    assert verify_mistake("Ava gives Ben 3 apples.", "Ben gives Ben 3 apples.", q).why == "swapped entity"
    # "Then" opens a sentence: not an entity
    assert verify_mistake("Then Ava eats.", "Ben Ava eats.", "Then Ava eats. Ben too.").why != "swapped entity"


def test_rule_edits_are_verified_mistakes() -> None:
    """Every rule edit of a worked arithmetic step or an organism step is one the checker calls a mistake."""
    rng = random.Random(0)
    s = make_sample(0, 0)
    steps = ["Then they get 5 more apples, so 9 + 5 = 14.", "Ava has 9 pencils.", "C=7+4=1.", "B=A+4=7.",
             "Then they give away 3 marbles."]
    for kind in ("rule", "rule:reword", "rule:first", "rule:result", "rule:any"):
        for step in steps:
            edited = rule_edit(step, rng, kind, s.question)
            assert edited != step
            assert verify_mistake(step, edited, s.question).verified, (kind, step, edited)


def test_rule_result_changes_the_equations_result_only() -> None:
    out = rule_edit("so 12 + 3 = 15 apples, 2 left.", random.Random(0), "rule:result")
    assert out.startswith("so 12 + 3 = 1") and out.endswith(" apples, 2 left.")
    assert out != "so 12 + 3 = 15 apples, 2 left."
