"""Episodes as JSONL: one object per line, what ``cotlens monitor`` reads from a user's transcripts.

Fields (``cotlens.types.Episode``): ``id`` (string or integer, unique), ``cot`` (string), ``action`` (string),
``misbehaved`` (true or false; null or left out for an unlabelled episode: then only the share a monitor flags
is reported, which ``--fail-above`` gates on), and optionally ``group``, ``arm`` (default ``control``), ``prompt``,
``behavior``, ``cues`` (a list of regular expressions, RE2 syntax: ``cotlens.patterns``) and ``metadata`` (an
object). Any other field is kept in ``metadata``. A bad line stops the read with ``FILE:LINE: field 'X': why``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cotlens.monitors.trajectory import flatten
from cotlens.patterns import pattern_error
from cotlens.tasks.loaders import jsonl_objects
from cotlens.types import TURN_ROLES, CotlensError, Episode, ToolCall, Turn

TEXT_FIELDS = ("cot", "action", "group", "arm", "prompt", "behavior")
KNOWN = ("id", "misbehaved", "cues", "metadata", "messages", *TEXT_FIELDS)
TURN_FIELDS = ("role", "text", "content", "reasoning", "tool_calls", "function", "tool_call_id")


def _field(where: str, name: str, why: str) -> CotlensError:
    return CotlensError(f"{where}: field {name!r}: {why}")


def _turns(raw: Any, where: str) -> tuple[Turn, ...]:
    """A trajectory's turns (``messages``), each checked: ``role`` (system, user, assistant, tool), ``text`` (or
    ``content``), and optionally ``reasoning``, ``tool_calls`` (a list of ``{function, arguments, id}``; arguments
    an object or its JSON text), and for a tool result ``function`` and ``tool_call_id``."""
    if not isinstance(raw, list) or not raw:
        raise _field(where, "messages", "must be a non-empty list of turns ({\"role\": ..., \"text\": ...})")
    out = []
    for i, m in enumerate(raw):
        at = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _field(where, at, f"must be an object with role and text, got {type(m).__name__}")
        unknown = sorted(set(m) - set(TURN_FIELDS))
        if unknown:
            raise _field(where, f"{at}.{unknown[0]}", f"unknown; a turn has {', '.join(TURN_FIELDS)}")
        role = m.get("role")
        if role not in TURN_ROLES:
            raise _field(where, f"{at}.role", f"must be one of {', '.join(TURN_ROLES)}, got {json.dumps(role)}")
        strings: dict[str, str] = {}
        for name in ("text", "content", "reasoning", "function", "tool_call_id"):
            v = m.get(name)
            if v is not None and not isinstance(v, str):
                raise _field(where, f"{at}.{name}", f"must be a string, got {type(v).__name__}")
            strings[name] = v or ""
        calls = []
        raw_calls = m.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise _field(where, f"{at}.tool_calls", "must be a list of {function, arguments, id}")
        for j, c in enumerate(raw_calls):
            cat = f"{at}.tool_calls[{j}]"
            if not isinstance(c, dict) or not isinstance(c.get("function"), str) or not c["function"]:
                raise _field(where, f"{cat}.function", "missing: the tool's name")
            args = c.get("arguments", "")
            if not isinstance(args, str):
                args = json.dumps(args, sort_keys=True)
            ident = c.get("id", "")
            if not isinstance(ident, str):
                raise _field(where, f"{cat}.id", f"must be a string, got {type(ident).__name__}")
            calls.append(ToolCall(c["function"], args, ident))
        if calls and role != "assistant":
            raise _field(where, f"{at}.tool_calls", f"only an assistant turn makes tool calls, not a {role} turn")
        out.append(Turn(str(role), strings["text"] or strings["content"], strings["reasoning"], tuple(calls),
                        strings["function"], strings["tool_call_id"]))
    if not any(t.role == "assistant" for t in out):
        raise _field(where, "messages", "no assistant turn: nothing the model wrote")
    return tuple(out)


def episode_from_dict(d: Any, where: str) -> Episode:
    """One episode from its JSON object; ``where`` (``FILE:LINE``) names it in errors."""
    if not isinstance(d, dict):
        raise CotlensError(f"{where}: not a JSON object (an episode is {{\"id\": ..., \"cot\": ..., ...}})")
    turns = _turns(d["messages"], where) if "messages" in d else ()
    for name in ("id",) if turns else ("id", "cot", "action"):
        if name not in d:
            raise _field(where, name, "missing" + ("" if name == "id" else " (or give 'messages', a trajectory)"))
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
    label = d.get("misbehaved")
    if label is not None and not isinstance(label, bool):
        raise _field(where, "misbehaved", f"must be true, false or null (unlabelled), got {json.dumps(label)}")
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
    cot, action = flatten(turns) if turns else ("", "")
    return Episode(id=str(ident), cot=text.get("cot", cot), action=text.get("action", action), misbehaved=label,
                   group=text.get("group", ""), arm=text.get("arm", "control"), prompt=text.get("prompt", ""),
                   behavior=text.get("behavior", ""), cues=tuple(cues), metadata={**metadata, **extra},
                   messages=turns)


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


def read_labels(path: Path) -> dict[str, tuple[bool, int]]:
    """Human labels for episodes: JSONL, one object per line with ``id`` and ``misbehaved`` (true or false; null is
    a row not labelled yet, skipped), as the review page saves them. Per id: (label, line)."""
    out: dict[str, tuple[bool, int]] = {}
    for i, d in jsonl_objects(path, "labels file"):
        where = f"{path}:{i}"
        ident = d.get("id")
        if isinstance(ident, bool) or not isinstance(ident, str | int):
            raise _field(where, "id", "expected the episode's id (a string or an integer)")
        label = d.get("misbehaved")
        if label is None:
            continue
        if not isinstance(label, bool):
            raise _field(where, "misbehaved", f"must be true, false or null, got {json.dumps(label)}")
        if str(ident) in out:
            raise _field(where, "id", f"{ident!r} is already labelled on line {out[str(ident)][1]}")
        out[str(ident)] = (label, i)
    return out


def apply_labels(episodes: Sequence[Episode], path: Path) -> list[Episode]:
    """The episodes with the labels of ``path`` (``read_labels``) on those that had none. A label for an episode
    that is not there, or that contradicts the episode's own, is refused naming its line."""
    labels = read_labels(path)
    ids = {e.id for e in episodes}
    for ident, (_, line) in labels.items():
        if ident not in ids:
            raise _field(f"{path}:{line}", "id", f"{ident!r} is not an episode of this run")
    out = []
    for e in episodes:
        if e.id in labels:
            label, line = labels[e.id]
            if e.misbehaved is not None and e.misbehaved != label:
                raise _field(f"{path}:{line}", "misbehaved",
                             f"{label} contradicts the episode's own label ({e.misbehaved})")
            e = dataclasses.replace(e, misbehaved=label)
        out.append(e)
    return out


def write_episodes(path: Path, episodes: Iterable[Episode]) -> None:
    path.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes), encoding="utf-8")


def check_labels(episodes: Sequence[Episode], source: str) -> None:
    """A monitor is scored on both classes: refuse labelled episodes that are all one label. Unlabelled episodes
    (``misbehaved`` null) are only counted as flagged or not, so a file of them alone is fine."""
    labels = [e.misbehaved for e in episodes if e.misbehaved is not None]
    bad = sum(labels)
    if labels and (bad == 0 or bad == len(labels)):
        which = "misbehaved" if bad else "behaved"
        raise CotlensError(f"{source}: all {len(labels)} labelled episodes {which}; a monitor needs episodes of both "
                           "kinds to be scored (leave 'misbehaved' out, or null, to only count what it flags)")
