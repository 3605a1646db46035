"""Users' patterns over model text, matched in linear time.

Cue patterns come from users' files (a hint type's ``cues``, an episode's ``cues``) and run over text a model
wrote, which is untrusted. Python's ``re`` backtracks: a pattern with nested quantifiers such as ``(a+)+$`` over a
crafted 40-character CoT takes minutes. Patterns here are compiled by RE2 (``google-re2``), whose matching time
is linear in the text whatever the pattern, so no episode can stall a monitor or a judge.

RE2 lacks the constructs that need backtracking: lookaround (``(?=``, ``(?!``, ``(?<=``, ``(?<!``) and
backreferences (``\\1``). A pattern using one is refused when its file is read, in one line naming the file, line
and field. Other differences from ``re``: ``\\b`` and ``\\w`` are ASCII-only. Matching is case-insensitive.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import re2

MAX_MEM = 8 << 20
"""RE2's memory budget for one compiled pattern (bytes): a pattern that needs more (``a{1000}{1000}``) is
refused rather than built."""


def _options() -> re2.Options:
    o = re2.Options()
    o.case_sensitive = False
    o.log_errors = False  # the error comes back as the exception, not on stderr
    o.max_mem = MAX_MEM
    return o


def pattern_error(pattern: str) -> str | None:
    """Why RE2 refuses ``pattern`` (one line), or None when it compiles."""
    try:
        re2.compile(pattern, _options())
    except re2.error as e:
        why = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        hint = (" (RE2 matches in linear time and has no lookaround or backreferences)"
                if any(s in pattern for s in ("(?=", "(?!", "(?<=", "(?<!")) or "invalid escape" in why else "")
        return f"{why}{hint}"
    return None


@functools.lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> re2._Regexp[str]:
    return re2.compile("|".join(f"(?:{p})" for p in patterns), _options())


def first_span(patterns: Sequence[str], text: str) -> tuple[int, int] | None:
    """(start, end) of the first match of any of ``patterns`` in ``text`` (case-insensitive, linear time), or
    None. Patterns are checked where they are read (``pattern_error``); an unchecked bad one raises
    ``ValueError``."""
    if not patterns:
        return None
    try:
        m = _compiled(tuple(patterns)).search(text)
    except re2.error as e:
        raise ValueError(f"cue patterns {list(patterns)!r}: {e}") from None
    return None if m is None else (int(m.start()), int(m.end()))


def first_match(patterns: Sequence[str], text: str) -> str | None:
    """The text of the first match (``first_span``), or None."""
    span = first_span(patterns, text)
    return None if span is None else text[span[0]:span[1]]


def first_group(pattern: str, text: str) -> str | None:
    """The first match of ``pattern`` in ``text`` (case-insensitive, linear time): its first group where the
    pattern has one, else the whole match; None when it does not match."""
    try:
        m = _compiled((pattern,)).search(text)
    except re2.error as e:
        raise ValueError(f"pattern {pattern!r}: {e}") from None
    if m is None:
        return None
    # the pattern is wrapped as (?:P): its own first group is the match's group 1
    return str(m.group(1) if m.re.groups >= 1 and m.group(1) is not None else m.group(0))
