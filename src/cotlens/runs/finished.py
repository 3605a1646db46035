"""The one reader of a finished run directory: ``load_finished(DIR)`` gives its configuration, summary, samples,
traces and records as typed objects. Every command that reads a finished run (``report``, ``compare``,
``monitor``, ``validate``, ``cotlens.load``) reads it here.

A run directory's files are listed in ``cotlens.runs.runner``; ``RUN_FILES`` are the ones a finished run has.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cotlens.types import CotlensError, JsonObject, Record, Sample, Summary, Trace

T = TypeVar("T")

RUN_FILES = ("run.json", "records.jsonl", "samples.jsonl", "traces.jsonl", "summary.json")
"""What a finished run directory holds (its report aside)."""
SAMPLE_IDENTITY = ("id", "question", "choices", "answer")
"""What a model is asked of a sample: a resumed run, and runs compared, must agree on it."""


def read_jsonl(path: Path) -> Iterator[JsonObject]:
    """The complete lines of a JSONL file; a line cut short by a kill is ignored (it is recomputed)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise CotlensError(f"{path}: corrupt line: {e.msg}") from None


def require_finished(run_dir: Path) -> None:
    """Raise CotlensError naming the first of ``RUN_FILES`` that ``run_dir`` lacks, and why."""
    for name in RUN_FILES:
        if not (run_dir / name).is_file():
            why = "not a cotlens run directory" if not (run_dir / "run.json").is_file() else "an unfinished run"
            raise CotlensError(f"{run_dir}: {name} not found ({why}; `cotlens run --out {run_dir}` resumes or starts "
                               "it)")


@dataclass(frozen=True)
class FinishedRun:
    """A finished run directory, read once."""

    dir: Path
    config: JsonObject
    """``run.json``'s ``config``: the ``RunConfig`` as written (``model``, ``task``, ``metrics``...)."""
    summary: Summary
    samples: dict[str, Sample]
    """By sample id, in the run's order."""
    traces: dict[str, Trace]
    """By sample id; a sample whose CoT could not be elicited has none."""
    records: list[Record]
    """In the order they were written."""


def load_finished(run_dir: str | Path) -> FinishedRun:
    """The finished run in ``run_dir``; anything missing or unreadable raises CotlensError naming the file."""
    d = Path(run_dir)
    require_finished(d)
    config = _json(d / "run.json", _run_config)
    summary = _json(d / "summary.json", Summary.from_dict)
    samples = {s.id: s for s in _typed(d / "samples.jsonl", Sample.from_dict)}
    traces = {t.sample_id: t for t in _typed(d / "traces.jsonl", Trace.from_dict)}
    records = _typed(d / "records.jsonl", Record.from_dict)
    return FinishedRun(d, config, summary, samples, traces, records)


def _run_config(doc: JsonObject) -> JsonObject:
    """``run.json``'s configuration; the fields every reader relies on must be there."""
    config = dict(doc["config"])
    for key in ("model", "task"):
        if key not in config:
            raise KeyError(f"config.{key}")
    return config


def _json(path: Path, from_dict: Callable[[JsonObject], T]) -> T:
    """A JSON file through ``from_dict``; one that is not one raises CotlensError naming it."""
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as e:
        raise CotlensError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise CotlensError(f"{path}: not a cotlens {path.name} ({type(e).__name__}: {e})") from None


def _typed(path: Path, from_dict: Callable[[JsonObject], T]) -> list[T]:
    """Each line of ``path`` through ``from_dict``; a line that is not one raises CotlensError naming it."""
    out = []
    for i, d in enumerate(read_jsonl(path), 1):
        try:
            out.append(from_dict(d))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise CotlensError(f"{path}:{i}: not a cotlens {path.stem[:-1]} ({type(e).__name__}: {e})") from None
    return out
