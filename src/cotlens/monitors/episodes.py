"""Episodes as JSONL: one object per line, what ``cotlens monitor`` reads from a user's transcripts.

Fields (``cotlens.types.Episode``): ``id`` (string or integer, unique), ``cot`` (string), ``action`` (string),
``misbehaved`` (true or false), and optionally ``group``, ``arm`` (default ``control``), ``prompt``,
``behavior``, ``cues`` (a list of regular expressions, RE2 syntax: ``cotlens.patterns``) and ``metadata`` (an
object). Any other field is kept in ``metadata``. A bad line stops the read with ``FILE:LINE: field 'X': why``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cotlens.patterns import pattern_error
from cotlens.tasks.loaders import jsonl_objects
from cotlens.types import CotlensError, Episode

TEXT_FIELDS = ("cot", "action", "group", "arm", "prompt", "behavior")
KNOWN = ("id", "misbehaved", "cues", "metadata", *TEXT_FIELDS)


def _field(where: str, name: str, why: str) -> CotlensError:
    return CotlensError(f"{where}: field {name!r}: {why}")


def episode_from_dict(d: Any, where: str) -> Episode:
    """One episode from its JSON object; ``where`` (``FILE:LINE``) names it in errors."""
    if not isinstance(d, dict):
        raise CotlensError(f"{where}: not a JSON object (an episode is {{\"id\": ..., \"cot\": ..., ...}})")
    for name in ("id", "cot", "action", "misbehaved"):
        if name not in d:
            raise _field(where, name, "missing")
    ident = d["id"]
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise _field(where, "id", f"must be a string or an integer, got {type(ident).__name__}")
    if not str(ident).strip():
        raise _field(where, "id", "empty")
    text: dict[str, str] = {}
    for name in TEXT_FIELDS:
        if name in d:
            if not isinstance(d[name], str):
                raise _field(where, name, f"must be a string, got {type(d[name]).__name__}")
            text[name] = d[name]
    if not isinstance(d["misbehaved"], bool):
        raise _field(where, "misbehaved", f"must be true or false, got {json.dumps(d['misbehaved'])}")
    cues = d.get("cues", [])
    if not isinstance(cues, list) or not all(isinstance(c, str) for c in cues):
        raise _field(where, "cues", "must be a list of strings (regular expressions)")
    for c in cues:
        why = pattern_error(c)
        if why is not None:
            raise _field(where, "cues", f"{c!r} is not a pattern RE2 can match: {why}")
    metadata = d.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _field(where, "metadata", f"must be an object, got {type(metadata).__name__}")
    extra = {k: v for k, v in d.items() if k not in KNOWN}
    if "arm" in text and not text["arm"].strip():
        raise _field(where, "arm", "empty (control, or the intervention's name)")
    return Episode(id=str(ident), cot=text["cot"], action=text["action"], misbehaved=d["misbehaved"],
                   group=text.get("group", ""), arm=text.get("arm", "control"), prompt=text.get("prompt", ""),
                   behavior=text.get("behavior", ""), cues=tuple(cues), metadata={**metadata, **extra})


def read_episodes(path: Path) -> list[Episode]:
    """Every episode of a JSONL file, checked; blank lines are skipped."""
    out: list[Episode] = []
    seen: dict[str, int] = {}
    for i, d in jsonl_objects(path, "episodes file"):
        where = f"{path}:{i}"
        ep = episode_from_dict(d, where)
        if ep.id in seen:
            raise _field(where, "id", f"{ep.id!r} is already the id of line {seen[ep.id]}")
        seen[ep.id] = i
        out.append(ep)
    if not out:
        raise CotlensError(f"{path}: no episodes (one JSON object per line)")
    return out


def write_episodes(path: Path, episodes: Iterable[Episode]) -> None:
    path.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes), encoding="utf-8")


def check_labels(episodes: Sequence[Episode], source: str) -> None:
    """A monitor is scored on both classes: refuse episodes that are all one label."""
    bad = sum(e.misbehaved for e in episodes)
    if bad == 0 or bad == len(episodes):
        which = "misbehaved" if bad else "behaved"
        raise CotlensError(f"{source}: all {len(episodes)} episodes {which}; a monitor needs episodes of both kinds "
                           "to be scored")
