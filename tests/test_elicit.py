from __future__ import annotations

import pytest

from cotlens.elicit import clean_cot, extract_answer, join_steps, split_steps
from cotlens.prompts import ANSWER_PREFILL, ASK_ANSWER, COT_LEAD, answer_prompt
from cotlens.types import Sample

CHOICES = ("12", "15", "18", "21")


def texts(s: str) -> list[str]:
    return [st.text for st in split_steps(s)]


def test_split_sentences_and_offsets() -> None:
    cot = "Ava has 9 pencils. She doubles them to 18! Is that right? Yes."
    steps = split_steps(cot)
    assert [s.text for s in steps] == ["Ava has 9 pencils.", "She doubles them to 18!", "Is that right?", "Yes."]
    for s in steps:
        assert cot[s.start:s.end] == s.text


def test_split_keeps_decimals_abbreviations_and_enumerators() -> None:
    assert texts("The price is 3.5 dollars. Then e.g. Mr. Smith pays 2.") == [
        "The price is 3.5 dollars.", "Then e.g. Mr. Smith pays 2."]
    assert texts("1. First add 2 and 3. 2. Then double it.") == ["1. First add 2 and 3.", "2. Then double it."]
    assert texts("J. R. Tolkien wrote it. Next.") == ["J. R. Tolkien wrote it.", "Next."]


def test_split_lines_and_lowercase_continuation() -> None:
    cot = "Step one: 2 + 3 = 5\n\n  Step two: 5 * 2 = 10. so the result is 10.\nDone"
    assert texts(cot) == ["Step one: 2 + 3 = 5", "Step two: 5 * 2 = 10. so the result is 10.", "Done"]
    for s in split_steps(cot):
        assert cot[s.start:s.end] == s.text


def test_split_empty_and_quotes() -> None:
    assert split_steps("") == ()
    assert split_steps("  \n ") == ()
    assert texts('He said "stop." Then left.') == ['He said "stop."', "Then left."]


def test_join_steps_is_a_prefix_of_the_original() -> None:
    cot = "A is 2.  B is 3.\nSo 5."
    steps = split_steps(cot)
    assert join_steps(cot, steps, 0) == ""
    assert join_steps(cot, steps, 2) == "A is 2.  B is 3."
    assert join_steps(cot, steps, 3) == cot


@pytest.mark.parametrize(
    "text,expected",
    [
        ("So the answer is (B).", 1),
        ("The answer is B", 1),
        ("Answer: C", 2),
        ("answer: (d)", 3),
        ("Therefore, the correct answer is **A**.", 0),
        ("**C**", 2),
        ("I pick (D) because it is largest.", 3),
        ("B) 15 is correct", 1),
        ("The answer is 18.", 2),
        ("So Ava has 21 pencils now.", 3),
        ("First (A) looked plausible, but the answer is (C).", 2),
        ("The answer is option B.", 1),
        ("[B] is my final answer; the answer is [B]", 1),
        ("I am not sure.", None),
        ("So the answer is a number between them.", None),
        ("answer is b", None),
        ("It is either 12 or 15.", None),
        ("", None),
        ("The answer is (F).", None),
    ],
)
def test_extract_answer_forms(text: str, expected: int | None) -> None:
    assert extract_answer(text, CHOICES) == expected


def test_extract_answer_choice_text() -> None:
    assert extract_answer("The answer is Paris", ("London", "Paris", "Rome")) == 1
    assert extract_answer("so it must be Rome.", ("London", "Paris", "Rome")) == 2


def test_clean_cot_drops_invented_turns() -> None:
    assert clean_cot(" 2+2=4.\nHuman: what else?") == "2+2=4."


def test_answer_prompt_keeps_cot_in_the_same_conversation() -> None:
    s = Sample("x", "What is 2+2?", ("3", "4"), 1)
    p = answer_prompt(s, "2 plus 2 is 4.")
    assert [m.role for m in p.messages] == ["user", "assistant", "user"]
    assert p.messages[1].content == f"{COT_LEAD} 2 plus 2 is 4."
    assert p.messages[2].content == ASK_ANSWER
    assert p.prefill == ANSWER_PREFILL
    assert "(A) 3" in p.messages[0].content and "(B) 4" in p.messages[0].content
    assert answer_prompt(s, "").messages[1].content == COT_LEAD
