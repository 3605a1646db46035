"""How a task file's ``answer`` field names the correct choice.

Arithmetic, counting, date and year questions have choices that are numbers, so "15" may be the text of a choice,
a 0-based index and a row number at once. The rules below settle every value one way, or refuse it; they are the
same for JSONL, CSV and ``datasets`` directories. A JSONL or ``datasets`` value keeps its JSON type; in CSV every
value is text (so only rules 3a-3d apply there).

1. A JSON **integer** is a 0-based index: ``0`` is the first choice, (A). It is refused when the choices are
   themselves JSON numbers and the integer is also the value of another choice (``"choices": [1, 2, 3],
   "answer": 2``): write the letter instead.
2. A JSON number with a **fraction** (``2.5``) is the choice equal to that number.
3. **Text** (a JSON string, or any CSV cell), compared after trimming spaces and Unicode normalisation (NFC):

   a. the **text of a choice** is that choice, whatever else it could be: with choices ``8, 15, 10, 35``,
      ``"15"`` is (B). Text equal to two choices is refused (the choices repeat themselves);
   b. else **one letter** ``A``-``Z`` (either case) within the number of choices is that letter: ``"B"`` is the
      second choice. So a letter is a letter only when no choice has that text;
   c. else a **number** equal as a number to exactly one choice that is a number (``"15"`` and a choice
      ``"15.0"``; ``"1000"`` and ``"1,000"``) is that choice;
   d. else **digits**, when no choice is a number, are a 0-based index (``"1"`` with choices ``Paris, Rome`` is
      Rome). When the choices are numbers, digits that match none are refused: they are far more likely a wrong
      answer than an index.

   Anything else is refused (text that differs from a choice only in case is refused with that choice named).

When a value could have been read another way and a rule settled it (3a over 3b, 1 over a choice with that
text, 3c), the reading is kept as a note (``FILE:LINE: field 'answer': ...``): the run prints the notes and
writes them into ``summary.json`` (``task_notes``).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from cotlens.types import LETTERS

_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?\.\d+")


class AnswerError(ValueError):
    """A value no rule reads as one choice; the message says why (without file and line)."""


def _norm(s: str) -> str:
    return unicodedata.normalize("NFC", s.strip())


def as_number(text: str) -> Decimal | None:
    """``text`` as a number if it is one (digits, an optional sign and decimals, thousands grouped by commas)."""
    t = text.strip()
    if not _NUMBER.fullmatch(t):
        return None
    try:
        return Decimal(t.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _name(i: int, choices: tuple[str, ...]) -> str:
    return f"({LETTERS[i]}) {choices[i]!r}"


def resolve_answer(value: Any, choices: tuple[str, ...], raw_choices: list[Any] | None = None) -> tuple[int, str]:
    """The index of the choice ``value`` names, and a note when another reading was possible ('' if none).

    ``choices`` are the choice texts as shown; ``raw_choices`` their JSON values, when the file kept types (so
    that choices given as JSON numbers are known). Raises AnswerError for a value no rule settles.
    """
    n = len(choices)
    if isinstance(value, bool) or value is None:
        raise AnswerError(f"expected a letter, a 0-based index or a choice's text, got {value!r}")
    if isinstance(value, int):
        return _index(value, choices, raw_choices)
    if isinstance(value, float):
        return _by_number(Decimal(repr(value)), choices, str(value), rule="a JSON number with a fraction")
    if not isinstance(value, str):
        raise AnswerError(f"expected one letter, index or choice text, got a {type(value).__name__}")
    text = _norm(value)
    if not text:
        raise AnswerError("empty")
    normed = [_norm(c) for c in choices]
    same = [i for i, c in enumerate(normed) if c == text]
    letter = LETTERS.index(text.upper()) if len(text) == 1 and text.upper() in LETTERS[:n] else None
    if len(same) > 1:
        raise AnswerError(f"{value!r} is the text of {len(same)} choices ("
                          + ", ".join(LETTERS[i] for i in same) + "): the choices repeat a text")
    if same:
        i = same[0]
        note = ""
        if letter is not None and letter != i:
            note = (f"{value!r} read as the text of choice {_name(i, choices)}, not as the letter {LETTERS[letter]} "
                    "(a choice's text comes first)")
        return i, note
    if letter is not None:
        return letter, ""
    number = as_number(text)
    if number is not None and any(as_number(c) is not None for c in choices):
        return _by_number(number, choices, value, rule="a number")
    if text.isdigit() and text.isascii():
        return _index(int(text), choices, None, as_text=value)
    folded = [i for i, c in enumerate(normed) if c.casefold() == text.casefold()]
    if folded:
        raise AnswerError(f"{value!r} is not a choice's text; it differs only in case from choice "
                          f"{_name(folded[0], choices)}")
    if len(text) == 1 and text.upper() in LETTERS:
        raise AnswerError(f"letter {text.upper()} but there are only {n} choices (A-{LETTERS[n - 1]})")
    raise AnswerError(f"{value!r} is not a choice's text, a letter A-{LETTERS[n - 1]} or a 0-based index")


def _index(i: int, choices: tuple[str, ...], raw: list[Any] | None, as_text: str | None = None) -> tuple[int, str]:
    n = len(choices)
    shown = repr(as_text) if as_text is not None else str(i)
    same_text = [j for j, c in enumerate(choices) if as_number(c) == i]
    if not 0 <= i < n:
        hint = ""
        if same_text:
            hint = (f"; {i} is the text of choice {_name(same_text[0], choices)}: write it as the string "
                    f"\"{choices[same_text[0]]}\" or as the letter {LETTERS[same_text[0]]}")
        raise AnswerError(f"index {shown} is out of range for {n} choices (0-{n - 1}){hint}")
    others = [j for j in same_text if j != i]
    if others and raw is not None and any(isinstance(raw[j], int | float) and not isinstance(raw[j], bool)
                                          for j in others):
        raise AnswerError(f"{i} is ambiguous: the choices are numbers, and {i} is both the 0-based index of "
                          f"choice {_name(i, choices)} and the value of choice {_name(others[0], choices)}; write "
                          f"the letter ({LETTERS[i]} or {LETTERS[others[0]]})")
    note = ""
    if others:
        note = (f"{i} read as the 0-based index of choice {_name(i, choices)}, not as the text of choice "
                f"{_name(others[0], choices)} (a JSON integer is an index; write \"{choices[others[0]]}\" as a "
                "string to mean the text)")
    return i, note


def _by_number(number: Decimal, choices: tuple[str, ...], shown: str, rule: str) -> tuple[int, str]:
    hits = [i for i, c in enumerate(choices) if as_number(c) == number]
    if len(hits) > 1:
        raise AnswerError(f"{shown!r} equals {len(hits)} choices as a number ("
                          + ", ".join(LETTERS[i] for i in hits) + ")")
    if not hits and any(as_number(c) is not None for c in choices):
        raise AnswerError(f"{shown!r} is not one of the choices; they are numbers, so {rule} is read as a choice's "
                          "value, not as an index (write an index as a JSON integer, or the letter)")
    if not hits:
        raise AnswerError(f"{shown!r} matches no choice (none is a number); a 0-based index is a JSON integer")
    i = hits[0]
    if _norm(choices[i]) == _norm(shown):
        return i, ""
    return i, f"{shown!r} read as choice {_name(i, choices)}, equal as a number"


__all__ = ["AnswerError", "as_number", "resolve_answer"]
