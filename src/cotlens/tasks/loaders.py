"""Loaders for user task files: JSONL, CSV, and a Hugging Face ``datasets`` dataset saved on disk.

The schema (one sample per JSONL line or CSV row):

- ``id``: a string (or integer), unique in the file.
- ``question``: the question text, without the choices.
- ``choices``: 2 to 26 answer texts. JSONL: a list of strings. CSV: a JSON array (``["3", "4"]``) or the
  texts separated by ``|``.
- ``answer``: the gold answer, as a letter (``"B"``), a 0-based index (``1``) or the exact text of a choice.
- ``metadata`` (optional, JSONL and datasets only): an object kept with the sample.

A malformed row raises CotlensError naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cotlens.types import LETTERS, CotlensError, Sample


def _fail(path: Path, line: int, field: str, why: str) -> CotlensError:
    return CotlensError(f"{path}:{line}: field '{field}': {why}")


def _parse_answer(value: Any, choices: tuple[str, ...], where: tuple[Path, int]) -> int:
    path, line = where
    if isinstance(value, bool):
        raise _fail(path, line, "answer", f"expected a letter, index or choice text, got {value!r}")
    if isinstance(value, int):
        idx = value
    elif isinstance(value, str):
        v = value.strip()
        if len(v) == 1 and v.upper() in LETTERS[: len(choices)]:
            idx = LETTERS.index(v.upper())
        elif v.isdigit():
            idx = int(v)
        elif v in choices:
            idx = choices.index(v)
        else:
            raise _fail(path, line, "answer", f"{value!r} is not a choice letter, index or choice text")
    else:
        raise _fail(path, line, "answer", f"expected a letter, index or choice text, got {type(value).__name__}")
    if not 0 <= idx < len(choices):
        raise _fail(path, line, "answer", f"index {idx} is out of range for {len(choices)} choices")
    return idx


def row_to_sample(row: dict[str, Any], path: Path, line: int, csv_choices: bool = False) -> Sample:
    """Validate one row of the documented schema and build a Sample."""
    for name in ("id", "question", "choices", "answer"):
        if name not in row or row[name] is None or row[name] == "":
            raise _fail(path, line, name, "missing")
    sid = row["id"]
    if isinstance(sid, bool) or not isinstance(sid, str | int):
        raise _fail(path, line, "id", f"expected a string, got {type(sid).__name__}")
    question = row["question"]
    if not isinstance(question, str) or not question.strip():
        raise _fail(path, line, "question", "expected a non-empty string")
    raw = row["choices"]
    if csv_choices and isinstance(raw, str):
        s = raw.strip()
        if s.startswith("["):
            try:
                raw = json.loads(s)
            except json.JSONDecodeError as e:
                raise _fail(path, line, "choices", f"invalid JSON array: {e.msg}") from None
        else:
            raw = [c.strip() for c in s.split("|")]
    if not isinstance(raw, list) or not all(isinstance(c, str | int | float) for c in raw):
        raise _fail(path, line, "choices", "expected a list of strings")
    choices = tuple(str(c).strip() for c in raw)
    if not 2 <= len(choices) <= len(LETTERS):
        raise _fail(path, line, "choices", f"expected 2 to {len(LETTERS)} choices, got {len(choices)}")
    if any(not c for c in choices):
        raise _fail(path, line, "choices", "a choice is empty")
    answer = _parse_answer(row["answer"], choices, (path, line))
    meta = row.get("metadata") or {}
    if not isinstance(meta, dict):
        raise _fail(path, line, "metadata", "expected an object")
    return Sample(str(sid), question.strip(), choices, answer, dict(meta))


def _unique(samples: Iterable[tuple[int, Sample]], path: Path) -> list[Sample]:
    seen: dict[str, int] = {}
    out = []
    for line, s in samples:
        if s.id in seen:
            raise _fail(path, line, "id", f"duplicate id {s.id!r} (first on line {seen[s.id]})")
        seen[s.id] = line
        out.append(s)
    if not out:
        raise CotlensError(f"{path}: no samples")
    return out


def jsonl_objects(path: Path, what: str = "file") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a user's JSONL file; a line that is not a JSON object
    raises CotlensError naming the file and line. ``what`` names the file in a read error."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CotlensError(f"{path}: cannot read {what} ({e.strerror})") from None
    for line_no, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            raise CotlensError(f"{path}:{line_no}: invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(row, dict):
            raise CotlensError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
        yield line_no, row


def load_jsonl(path: Path) -> list[Sample]:
    rows = [(line_no, row_to_sample(row, path, line_no)) for line_no, row in jsonl_objects(path, "task file")]
    return _unique(rows, path)


def load_csv(path: Path) -> list[Sample]:
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"id", "question", "choices", "answer"} - set(reader.fieldnames or [])
        if missing:
            raise CotlensError(f"{path}:1: header lacks column(s) {', '.join(sorted(missing))}")
        for row in reader:
            line_no = reader.line_num
            if None in row:
                raise _fail(path, line_no, "row", "more values than header columns")
            rows.append((line_no, row_to_sample(dict(row), path, line_no, csv_choices=True)))
    return _unique(rows, path)


def load_datasets_dir(path: Path, split: str | None = None) -> list[Sample]:
    """A dataset saved with ``datasets``' ``save_to_disk`` (a Dataset, or a DatasetDict with ``split``)."""
    try:
        import datasets
    except ImportError:
        raise CotlensError(f"{path}: reading a datasets directory needs: pip install 'cotlens[datasets]'") from None
    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as e:
        raise CotlensError(f"{path}: not a dataset saved with save_to_disk ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds.keys())
        chosen = split or ("test" if "test" in ds else names[0])
        if chosen not in ds:
            raise CotlensError(f"{path}: no split {chosen!r}; it has {', '.join(names)}")
        ds = ds[chosen]
    return _unique(((i + 1, row_to_sample(dict(r), path, i + 1)) for i, r in enumerate(ds)), path)
