"""Free-form answers: the one scorer that extracts an answer from a model's text and compares it with the target.

A free-form sample (``Sample.free``) has no choices: its ``answer`` is text or a number, with a declared rule
(``AnswerRule``):

- **extraction** (``extract``): ``number``, the first number in the answer text (the forced-answer prompt ends
  "The single, most likely answer is", so what follows first is the answer and anything after it the model's
  gloss: several numbers give the first); thousands separators (``1,234``), a sign, decimals, a leading currency
  sign and a trailing unit or percent sign are allowed (``$1,234.50``, ``12 km``, ``50%``), and a fraction ``a/b``
  is its value. ``text``: the answer's first line up to its first sentence end, normalised as SQuAD normalises
  answers (lower case, punctuation and the articles a, an, the removed, runs of spaces made one). ``regex:P``:
  the first match of the RE2 pattern P (case-insensitive, linear time; its first group if it has one), then
  normalised as text.
- **equivalence** (``equivalence``): ``numeric``, equal within ``tolerance`` relative to the target
  (|a - b| <= tolerance * max(1, |b|)); ``exact``, the normalised texts equal.

Defaults: a target that reads as a number is extracted as ``number`` and compared ``numeric`` (tolerance 1e-6);
any other target ``text`` and ``exact``. Every extraction is recorded beside the model's raw text, so a reader can
see what was compared. Nothing extracted is a wrong answer (and recorded as such: ``None``).
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from cotlens.patterns import first_group, pattern_error
from cotlens.types import CotlensError, FreeForm

EXTRACTS = ("number", "text", "regex")
EQUIVALENCES = ("numeric", "exact")
_NUM = re.compile(
    r"(?<![\w.])[-+−]?[$€£]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?/\s?\d+(?:\.\d+)?)?(?:[eE][-+]?\d+)?"
    r"|(?<![\w.])[-+−]?[$€£]?\.\d+")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SENTENCE_END = re.compile(r"(?<=[^\d\s])[.!?](?:\s|$)|\n")


@dataclass(frozen=True)
class AnswerRule:
    extract: str = "number"
    pattern: str = ""
    """For ``extract="regex"``: the RE2 pattern."""
    equivalence: str = "numeric"
    tolerance: float = 1e-6


def rule_of(free: FreeForm) -> AnswerRule:
    return AnswerRule(free.extract, free.pattern, free.equivalence, free.tolerance)


def normalize_text(text: str) -> str:
    """SQuAD's answer normalisation: NFKC, lower case, punctuation and articles removed, spaces collapsed."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(c for c in t if c not in string.punctuation)
    t = _ARTICLES.sub(" ", t)
    return " ".join(t.split())


def parse_number(text: str) -> Decimal | None:
    """One number written as ``_NUM`` allows, as a Decimal (a fraction divided out); None if it is not one."""
    t = text.strip().replace("−", "-").replace(",", "").replace(" ", "")
    t = t.lstrip("$€£") if t[:1] in "$€£" else t
    if t[:1] in "+-" and t[1:2] in ("$", "€", "£"):
        t = t[0] + t[2:]
    try:
        if "/" in t and "e" not in t.lower():
            num, den = t.split("/", 1)
            d = Decimal(den)
            return None if d == 0 else Decimal(num) / d
        return Decimal(t)
    except (InvalidOperation, ValueError):
        return None


def canonical_number(x: Decimal) -> str:
    """A number as one text for every way of writing it (``1,000.0`` and ``1000`` are ``1000``)."""
    if x == x.to_integral_value():
        return str(x.quantize(Decimal(1)))
    return format(x.normalize(), "f")


def first_number(text: str) -> Decimal | None:
    m = _NUM.search(text)
    return None if m is None else parse_number(m.group(0))


def first_sentence(text: str) -> str:
    t = text.strip()
    m = _SENTENCE_END.search(t)
    return t[: m.start()] if m else t


def extract(text: str, rule: AnswerRule) -> str | None:
    """The answer in ``text`` as one canonical text (a number's ``canonical_number``, else normalised text), or
    None when the rule finds none."""
    if rule.extract == "number":
        x = first_number(text)
        return None if x is None else canonical_number(x)
    if rule.extract == "regex":
        found = first_group(rule.pattern, text)
        if found is None:
            return None
        value = normalize_text(found) if rule.equivalence == "exact" else found
        if rule.equivalence == "numeric":
            x = first_number(value)
            return None if x is None else canonical_number(x)
        return value or None
    value = normalize_text(first_sentence(text))
    return value or None


def equivalent(got: str | None, target: str, rule: AnswerRule) -> bool:
    """Whether an extracted answer (``extract``) matches the sample's target (module docstring)."""
    if got is None:
        return False
    if rule.equivalence == "numeric":
        a, b = parse_number(got), parse_number(target)
        if a is None or b is None:
            return False
        return abs(a - b) <= Decimal(str(rule.tolerance)) * max(Decimal(1), abs(b))
    return normalize_text(got) == normalize_text(target)


def default_rule(target: str) -> AnswerRule:
    """``number``/``numeric`` for a target that reads as a number, else ``text``/``exact``."""
    return AnswerRule() if parse_number(target) is not None else AnswerRule("text", "", "exact")


def make_free(target: object, extract_spec: object = None, equivalence: object = None, tolerance: object = None,
              where: str = "") -> FreeForm:
    """A free-form answer from a task row's fields (``answer``, and optionally ``extract``: number, text or
    ``regex:PATTERN``; ``equivalence``: numeric or exact; ``tolerance``), checked; ``where`` names the row."""
    def fail(field: str, why: str) -> CotlensError:
        return CotlensError(f"{where}: field {field!r}: {why}")

    if isinstance(target, bool) or not isinstance(target, str | int | float):
        raise fail("answer", f"a free-form answer is text or a number, got {type(target).__name__}")
    text = str(target).strip()
    if not text:
        raise fail("answer", "empty")
    rule = default_rule(text)
    if extract_spec is not None:
        if not isinstance(extract_spec, str):
            raise fail("extract", "expected number, text or regex:PATTERN")
        kind, _, pattern = extract_spec.partition(":")
        if kind not in EXTRACTS or (kind == "regex") != bool(pattern):
            raise fail("extract", f"expected number, text or regex:PATTERN, got {extract_spec!r}")
        if kind == "regex":
            why = pattern_error(pattern)
            if why is not None:
                raise fail("extract", f"{pattern!r} is not a pattern RE2 can match: {why}")
        rule = AnswerRule(kind, pattern, "numeric" if kind == "number" else "exact", rule.tolerance)
    if equivalence is not None:
        if equivalence not in EQUIVALENCES:
            raise fail("equivalence", f"expected numeric or exact, got {equivalence!r}")
        rule = AnswerRule(rule.extract, rule.pattern, str(equivalence), rule.tolerance)
    if tolerance is not None:
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
            raise fail("tolerance", f"expected a number >= 0, got {tolerance!r}")
        rule = AnswerRule(rule.extract, rule.pattern, rule.equivalence, float(tolerance))
    if rule.equivalence == "numeric" and parse_number(text) is None:
        raise fail("answer", f"{text!r} is not a number, and the equivalence is numeric")
    return FreeForm(text, rule.extract, rule.pattern, rule.equivalence, rule.tolerance)
