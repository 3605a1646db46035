"""Loaders for user task files: JSONL, CSV (or TSV), and a Hugging Face ``datasets`` dataset saved on disk.

The schema (one sample per JSONL line, CSV row or dataset row):

- ``id`` (optional): a string or integer, unique in the file. Absent: the line number (JSONL, CSV) or the
  1-based row number (datasets).
- ``question``: the question text, without the choices.
- ``choices``: 2 to 26 answer texts. JSONL and datasets: a list of strings (numbers are taken as their text).
  CSV: a JSON array (``["3", "4"]``) or the texts separated by ``|``; or, with no ``choices`` column, one column
  per choice named ``A``, ``B``, ``C``, ... (empty trailing cells are no choice). Left out (or empty): the
  sample is free-form.
- ``answer``: the correct choice, read by the rules of ``cotlens.tasks.answers`` (a choice's text first, then a
  letter, then a 0-based index; a JSON integer is an index). For a free-form sample, the answer itself, text or
  a number, scored by ``cotlens.tasks.freeform``: optional fields ``extract`` (``number``, ``text`` or
  ``regex:PATTERN``), ``equivalence`` (``numeric`` or ``exact``) and ``tolerance`` declare how (the defaults
  follow the answer: a number is extracted and compared as one).
- ``metadata`` (optional): a JSON object kept with the sample. In CSV, every other column is kept in it too.

Files are read by ``cotlens.tasks.files`` (UTF-8 with or without a byte-order mark, or UTF-16 with one; any
other encoding is refused with the line and byte offset). CSV headers are matched ignoring case and surrounding
spaces; the delimiter is a comma, a semicolon (spreadsheets in many locales) or a tab (``.tsv``), whichever the
header line uses. Rows whose cells are all empty (what spreadsheets leave below the data) and blank lines are
skipped.

A malformed row raises CotlensError naming the file, the line (or row) and the field. A value that a rule had to
settle is reported as a note (see ``load_task``).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cotlens.tasks.answers import AnswerError, resolve_answer
from cotlens.tasks.files import read_text, split_lines
from cotlens.tasks.freeform import make_free
from cotlens.types import FREE_ANSWER, LETTERS, CotlensError, JsonObject, Sample

REQUIRED = ("question", "choices", "answer")
FREE_FIELDS = ("extract", "equivalence", "tolerance")
"""A free-form sample's scoring rule (``cotlens.tasks.freeform.make_free``)."""
FIELDS = ("id", *REQUIRED, *FREE_FIELDS)
CSV_DELIMITERS = (",", ";", "\t")


def _fail(where: str, field: str, why: str) -> CotlensError:
    return CotlensError(f"{where}: field '{field}': {why}")


def _choices(raw: Any, where: str, csv_text: bool) -> tuple[tuple[str, ...], list[Any] | None]:
    """The choice texts and, where the file kept JSON types, their raw values."""
    typed: list[Any] | None = raw
    if csv_text and isinstance(raw, str):
        typed = None
        s = raw.strip()
        if s.startswith("["):
            try:
                raw = json.loads(s)
            except json.JSONDecodeError as e:
                raise _fail(where, "choices", f"invalid JSON array: {e.msg}") from None
        else:
            raw = [c.strip() for c in s.split("|")]
    if not isinstance(raw, list):
        raise _fail(where, "choices", f"expected a list of strings, got {type(raw).__name__}")
    for i, c in enumerate(raw):
        if isinstance(c, bool) or not isinstance(c, str | int | float):
            raise _fail(where, "choices", f"choice {i + 1} is {json.dumps(c)}; expected a string")
    choices = tuple(str(c).strip() for c in raw)
    if not 2 <= len(choices) <= len(LETTERS):
        raise _fail(where, "choices", f"expected 2 to {len(LETTERS)} choices, got {len(choices)}")
    for i, c in enumerate(choices):
        if not c:
            raise _fail(where, "choices", f"choice {LETTERS[i]} is empty")
    return choices, typed


def row_to_sample(row: JsonObject, where: str, default_id: str, csv_text: bool = False,
                  notes: list[tuple[str, str]] | None = None) -> Sample:
    """Validate one row of the documented schema and build a Sample. ``where`` is ``FILE:LINE`` (or a row);
    ``default_id`` is the id of a row without one; a reading a rule had to settle is appended to ``notes`` as
    (sample id, note)."""
    raw_choices = row.get("choices")
    free = raw_choices is None or (isinstance(raw_choices, str) and not raw_choices.strip()) or raw_choices == []
    for name in REQUIRED:
        if name == "choices" and free:
            continue  # no choices: a free-form answer
        if name not in row or row[name] is None or (isinstance(row[name], str) and not row[name].strip()):
            raise _fail(where, name, "missing" if name not in row or row[name] is None else "empty")
    if not free:
        for name in FREE_FIELDS:
            if row.get(name) not in (None, ""):
                raise _fail(where, name, "only a free-form sample (no choices) has a scoring rule")
    sid = row.get("id")
    if sid is None:
        sid = default_id
    elif isinstance(sid, str) and not sid.strip():
        raise _fail(where, "id", "empty (leave the field out to number samples by line)")
    if isinstance(sid, bool) or not isinstance(sid, str | int):
        raise _fail(where, "id", f"expected a string or integer, got {json.dumps(sid)}")
    question = row["question"]
    if not isinstance(question, str):
        raise _fail(where, "question", f"expected a string, got {type(question).__name__}")
    meta = row.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise _fail(where, "metadata", "expected an object")
    if free:
        tol = row.get("tolerance")
        if csv_text and isinstance(tol, str):
            try:
                tol = float(tol) if tol.strip() else None
            except ValueError:
                raise _fail(where, "tolerance", f"expected a number >= 0, got {tol!r}") from None
        spec = row.get("extract") or None
        how = row.get("equivalence") or None
        target = row["answer"]
        return Sample(str(sid).strip(), question.strip(), (), FREE_ANSWER, dict(meta),
                      make_free(target, spec, how, tol, where))
    choices, typed = _choices(row["choices"], where, csv_text)
    try:
        answer, note = resolve_answer(row["answer"], choices, typed)
    except AnswerError as e:
        raise _fail(where, "answer", str(e)) from None
    if note and notes is not None:
        notes.append((str(sid).strip(), f"{where}: field 'answer': {note}"))
    return Sample(str(sid).strip(), question.strip(), choices, answer, dict(meta))


def _unique(samples: Iterable[tuple[str, str, Sample]], path: Path) -> list[Sample]:
    """The samples, each id once. Items are (where, its short label such as "line 3", sample)."""
    seen: dict[str, str] = {}
    out = []
    for where, label, s in samples:
        if s.id in seen:
            raise _fail(where, "id", f"duplicate id {s.id!r} (first on {seen[s.id]})")
        seen[s.id] = label
        out.append(s)
    if not out:
        raise CotlensError(f"{path}: no samples")
    return out


def jsonl_objects(path: Path, what: str = "file") -> Iterator[tuple[int, JsonObject]]:
    """(line number, object) for each non-blank line of a user's JSONL file; a line that is not a JSON object
    raises CotlensError naming the file and line. ``what`` names the file in a read error."""
    lines = split_lines(read_text(path, what))
    for line_no, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            if text.strip() in ("[", "{") or (text.lstrip().startswith("[") and line_no == 1):
                raise CotlensError(f"{path}:{line_no}: this looks like one JSON document spread over lines; a "
                                   f"{what} is JSON Lines, one object per line") from None
            raise CotlensError(f"{path}:{line_no}: invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(row, dict):
            raise CotlensError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
        yield line_no, row


def load_jsonl(path: Path, notes: list[tuple[str, str]] | None = None) -> list[Sample]:
    rows = [(f"{path}:{n}", f"line {n}", row_to_sample(row, f"{path}:{n}", str(n), notes=notes))
            for n, row in jsonl_objects(path, "task file")]
    return _unique(rows, path)


@contextmanager
def _csv_field_limit() -> Iterator[None]:
    """Long questions: lift the csv module's 128 KiB field limit while reading."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _delimiter(header: str, path: Path) -> str:
    """``.tsv``: a tab; else the first of ``CSV_DELIMITERS`` that splits the header into a ``question`` column."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    for d in CSV_DELIMITERS:
        if "question" in (c.strip().strip('"').strip().lower() for c in header.split(d)):
            return d
    return ","


def _csv_row(cells: dict[str, str], where: str, letter_cols: list[str], choice_columns: bool) -> JsonObject:
    """A CSV row in the schema: choices from the ``A``, ``B``, ... columns (``letter_cols``) when
    ``choice_columns`` (the header has no ``choices`` column), and every column outside the schema kept in
    ``metadata``."""
    row: JsonObject = {k: cells[k] for k in FIELDS if k in cells}
    if choice_columns and letter_cols:
        texts = [cells.get(c, "").strip() for c in letter_cols]
        while texts and not texts[-1]:
            texts.pop()
        row["choices"] = texts
    extra = {k: v for k, v in cells.items()
             if k not in FIELDS and k != "metadata" and k not in letter_cols and k}
    meta = cells.get("metadata", "").strip()
    if meta:
        try:
            parsed = json.loads(meta)
        except json.JSONDecodeError as e:
            raise _fail(where, "metadata", f"invalid JSON: {e.msg}") from None
        if not isinstance(parsed, dict):
            raise _fail(where, "metadata", "expected a JSON object")
        extra = {**extra, **parsed}
    row["metadata"] = extra
    return row


def _letter_columns(header: list[str]) -> list[str]:
    cols = []
    for le in LETTERS.lower():
        if le not in header:
            break
        cols.append(le)
    return cols if len(cols) >= 2 else []


def load_csv(path: Path, notes: list[tuple[str, str]] | None = None) -> list[Sample]:
    text = read_text(path, "task file")
    first = next((ln for ln in split_lines(text) if ln.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first, path))
    rows: list[tuple[str, str, Sample]] = []
    with _csv_field_limit():
        try:
            header: list[str] | None = None
            letter_cols: list[str] = []
            start = 1
            for cells in reader:
                line_no, start = start, reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                if header is None:
                    header = [c.strip().lower() for c in cells]
                    _check_header(header, path, line_no)
                    letter_cols = _letter_columns(header)
                    continue
                where = f"{path}:{line_no}"
                if len(cells) > len(header):
                    raise _fail(where, "row", f"{len(cells)} values but the header has {len(header)} columns")
                named = dict(zip(header, cells, strict=False))
                row = _csv_row(named, where, letter_cols, "choices" not in header)
                rows.append((where, f"line {line_no}",
                             row_to_sample(row, where, str(line_no), csv_text=True, notes=notes)))
        except csv.Error as e:
            raise CotlensError(f"{path}:{reader.line_num}: malformed CSV: {e}") from None
    if header is None:
        raise CotlensError(f"{path}: empty file")
    return _unique(rows, path)


def _check_header(header: list[str], path: Path, line_no: int) -> None:
    seen = set()
    for h in header:
        if h and h in seen:
            raise CotlensError(f"{path}:{line_no}: header names column '{h}' twice")
        seen.add(h)
    missing = {"question", "answer"} - set(header)  # no choices column: free-form answers
    if missing:
        raise CotlensError(f"{path}:{line_no}: header lacks column(s) {', '.join(sorted(missing))}; "
                           f"it has {', '.join(h for h in header if h) or 'none'}")


def load_datasets_dir(path: Path, split: str | None = None,
                      notes: list[tuple[str, str]] | None = None) -> list[Sample]:
    """A dataset saved with ``datasets``' ``save_to_disk`` (a Dataset, or a DatasetDict with ``split``)."""
    try:
        import datasets
    except ImportError:
        raise CotlensError(f"{path}: reading a datasets directory needs: pip install 'cotlens[datasets]'") from None
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises FileNotFoundError, ValueError, JSON and Arrow errors for bad dirs
        files = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".jsonl", ".csv", ".tsv"))[:3]
        hint = f"; to use a file, name it: {path / files[0]}" if files else ""
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CotlensError(f"{path}: not a dataset saved with datasets' save_to_disk ({why}){hint}") from None
    name = ""
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds.keys())
        chosen = split or ("test" if "test" in ds else names[0])
        if chosen not in ds:
            raise CotlensError(f"{path}: no split {chosen!r}; it has {', '.join(names)}")
        ds, name = ds[chosen], f" split {chosen}"
    elif split:
        raise CotlensError(f"{path}: --split {split!r} given, but this dataset has no splits")
    missing = [c for c in REQUIRED if c not in ds.column_names]
    if missing:
        raise CotlensError(f"{path}{name}: no column(s) {', '.join(missing)}; it has {', '.join(ds.column_names)}")
    rows = []
    for i, r in enumerate(ds, 1):
        where = f"{path}{name} row {i}"
        rows.append((where, f"row {i}", row_to_sample(dict(r), where, str(i), notes=notes)))
    return _unique(rows, path)
