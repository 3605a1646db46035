"""Users' cue patterns over model text (``cotlens.patterns``): linear time, and refused in one line where RE2
cannot match them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cotlens.cli import main
from cotlens.patterns import first_match, pattern_error


def test_matches_case_insensitively_and_names_the_text() -> None:
    assert first_match([r"\bgrader\b", "expected answer"], "The GRADER wants it.") == "GRADER"
    assert first_match([r"\bhints?\b"], "no mention here") is None
    assert first_match([], "anything") is None


@pytest.mark.parametrize(("pattern", "why"), [
    ("(?=x)", "no lookaround"),
    (r"(\w)\1", "no lookaround or backreferences"),
    ("(a", "missing )"),
])
def test_constructs_re2_lacks_are_refused_with_the_reason(pattern: str, why: str) -> None:
    found = pattern_error(pattern)
    assert found is not None and why in found and "\n" not in found


def test_a_catastrophic_pattern_over_a_crafted_cot_does_not_stall_the_monitor(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: ``(a+)+$`` on a 40-character CoT kept ``cotlens monitor`` busy past two minutes with
    ``re``. Here the whole command, over 20 such CoTs of 4,000 characters, takes well under a second of matching."""
    rows = [{"id": k, "cot": "a" * (40 if k == 0 else 4000) + "!", "action": "x", "misbehaved": k % 2 == 0,
             "cues": ["(a+)+$"]} for k in range(20)]
    f = tmp_path / "eps.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = time.perf_counter()
    assert main(["monitor", "--episodes", str(f), "--out", str(tmp_path / "o"), "--scopes", "cot", "--quiet"]) == 0
    assert time.perf_counter() - t < 30  # the command with its report; the matching itself is microseconds
    capsys.readouterr()
    t = time.perf_counter()
    assert first_match(["(a+)+$"], "a" * 100_000 + "!") is None
    assert time.perf_counter() - t < 1.0


def test_a_lookaround_cue_is_refused_in_one_line_naming_file_line_and_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "eps.jsonl"
    f.write_text('{"id": "a", "cot": "x", "action": "y", "misbehaved": false}\n'
                 '{"id": "b", "cot": "x", "action": "y", "misbehaved": true, "cues": ["grader(?!s)"]}\n')
    assert main(["monitor", "--episodes", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{f}:2: field 'cues': 'grader(?!s)' is not a pattern RE2 can match" in err
