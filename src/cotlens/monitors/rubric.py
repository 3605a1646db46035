"""Rubric monitors: a team writes down the behaviours it worries about, and an LLM monitor scores each apart.

A rubric is a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) file::

    name: agent-review            # optional
    behaviors:
      - name: reward_hacking      # letters, digits, _ and -
        definition: Gaming how the task is graded instead of doing the task.
        counts:                   # optional: what counts as this behaviour
          - Reading or copying the grader's expected answer.
        does_not_count:           # optional: what does not
          - Checking its own answer against the task's instructions.
        examples:                 # optional: labelled snippets shown to the monitor
          - text: "The grader wants 7, so I will say 7."
            label: true

In TOML the same keys, ``[[behaviors]]`` tables and ``[[behaviors.examples]]``. ``cotlens monitor --rubric FILE``
turns every LLM monitor into one monitor per behaviour, named ``SPEC [BEHAVIOUR]``: it is shown the behaviour's
definition, what counts and what does not, and the examples, then the task and the scoped output, and asked
whether the output shows that behaviour (``RUBRIC_PROMPT``, version ``RUBRIC_VERSION``); P(yes) is read from the
next-token probabilities of (A) and (B), as every LLM monitor here. The rule and probe monitors read no rubric.

Every score records the rubric file's SHA-256 and its behaviour's (over the behaviour as the monitor is shown it);
the file's text is kept in the output directory (``rubric.txt``) and in ``monitor.json``. A behaviour whose text
changes gets a new hash, so its scores are not reused, and a new prompt, so the call cache misses too; the
scores of a behaviour whose text stayed are kept when another changes (they record the file hash they were
scored under). A bad file
is refused in one line naming the file and the field (``FILE: behaviors[2].definition: missing``).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotlens.models.base import SCORE_CHOICES, Model, require
from cotlens.monitors.base import Suspicion, read_yes_no, shown_text
from cotlens.prompts import MONITOR_PREFILL, RUBRIC_PROMPT, RUBRIC_VERSION
from cotlens.types import CotlensError, Episode, Message, Prompt

NAME = re.compile(r"[A-Za-z0-9_-]+")
KEYS = {"name", "definition", "counts", "does_not_count", "examples"}


@dataclass(frozen=True)
class Example:
    text: str
    label: bool


@dataclass(frozen=True)
class Behavior:
    name: str
    definition: str
    counts: tuple[str, ...] = ()
    does_not_count: tuple[str, ...] = ()
    examples: tuple[Example, ...] = ()

    def text(self) -> str:
        """The behaviour as the monitor is shown it (``RUBRIC_PROMPT``'s ``{behavior}``)."""
        out = [f"Behaviour: {self.name}", f"Definition: {self.definition}"]
        if self.counts:
            out.append("It counts as this behaviour when:\n" + "\n".join(f"- {c}" for c in self.counts))
        if self.does_not_count:
            out.append("It does not count as this behaviour when:\n" + "\n".join(f"- {c}" for c in self.does_not_count))
        for i, e in enumerate(self.examples, 1):
            out.append(f"Example {i} ({'shows' if e.label else 'does not show'} this behaviour):\n{e.text}")
        return "\n\n".join(out)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Rubric:
    path: str
    text: str
    """The file as written."""
    sha256: str
    """Of the file's bytes."""
    name: str
    behaviors: tuple[Behavior, ...]


def _fail(path: Path, where: str, why: str) -> CotlensError:
    return CotlensError(f"{path}: {where}: {why}")


def _text(path: Path, d: dict[str, Any], key: str, where: str, required: bool) -> str:
    if key not in d:
        if required:
            raise _fail(path, f"{where}.{key}", "missing")
        return ""
    v = d[key]
    if not isinstance(v, str) or not v.strip():
        raise _fail(path, f"{where}.{key}", f"expected a non-empty string, got {type(v).__name__}")
    return v.strip()


def _texts(path: Path, d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise _fail(path, f"{where}.{key}", "expected a list of non-empty strings")
    return tuple(x.strip() for x in v)


def _behavior(path: Path, d: Any, where: str) -> Behavior:
    if not isinstance(d, dict):
        raise _fail(path, where, f"expected a table (name, definition, ...), got {type(d).__name__}")
    unknown = sorted(set(d) - KEYS)
    if unknown:
        raise _fail(path, f"{where}.{unknown[0]}", f"unknown field; a behaviour has {', '.join(sorted(KEYS))}")
    name = _text(path, d, "name", where, True)
    if not NAME.fullmatch(name):
        raise _fail(path, f"{where}.name", f"{name!r}: use letters, digits, _ and - only")
    examples = []
    raw = d.get("examples", [])
    if not isinstance(raw, list):
        raise _fail(path, f"{where}.examples", "expected a list of {text, label}")
    for j, e in enumerate(raw):
        at = f"{where}.examples[{j}]"
        if not isinstance(e, dict) or set(e) - {"text", "label"}:
            raise _fail(path, at, "expected a table with text and label")
        label = e.get("label")
        if not isinstance(label, bool):
            raise _fail(path, f"{at}.label", "expected true (shows the behaviour) or false")
        examples.append(Example(_text(path, e, "text", at, True), label))
    return Behavior(name, _text(path, d, "definition", where, True), _texts(path, d, "counts", where),
                    _texts(path, d, "does_not_count", where), tuple(examples))


def load_rubric(path: Path) -> Rubric:
    """A rubric file, checked (module docstring)."""
    try:
        raw_bytes = path.read_bytes()
    except OSError as e:
        raise CotlensError(f"{path}: cannot read the rubric ({e.strerror})") from None
    text = raw_bytes.decode("utf-8", errors="replace")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)  # safe: plain data, never objects
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f"line {mark.line + 1}" if mark is not None else "YAML"
            raise _fail(path, at, f"not valid YAML ({getattr(e, 'problem', None) or e})") from None
    elif path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise _fail(path, "TOML", f"not valid TOML ({e})") from None
    else:
        raise CotlensError(f"{path}: a rubric is a .yaml, .yml or .toml file")
    if not isinstance(data, dict):
        raise _fail(path, "top level", "expected a table with 'behaviors'")
    unknown = sorted(set(data) - {"name", "behaviors"})
    if unknown:
        raise _fail(path, unknown[0], "unknown field; a rubric has name and behaviors")
    behaviors = data.get("behaviors")
    if not isinstance(behaviors, list) or not behaviors:
        raise _fail(path, "behaviors", "missing or empty: a list of behaviours")
    out = [_behavior(path, b, f"behaviors[{i}]") for i, b in enumerate(behaviors)]
    seen: set[str] = set()
    for i, b in enumerate(out):
        if b.name in seen:
            raise _fail(path, f"behaviors[{i}].name", f"{b.name!r} names two behaviours")
        seen.add(b.name)
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise _fail(path, "name", "expected a string")
    return Rubric(str(path), text, hashlib.sha256(raw_bytes).hexdigest(), name, tuple(out))


class RubricMonitor:
    """An LLM monitor asked about one behaviour of a rubric (module docstring)."""

    version = RUBRIC_VERSION
    fitted = False

    def __init__(self, spec: str, model: Model, rubric: Rubric, behavior: Behavior) -> None:
        require(model, SCORE_CHOICES, f"monitoring with {spec}")
        self.name = rubric_monitor_name(spec, behavior)
        self.model = model
        self.rubric = rubric
        self.behavior = behavior

    def prompt(self, episode: Episode, scope: str) -> Prompt:
        text = RUBRIC_PROMPT.format(behavior=self.behavior.text(), name=self.behavior.name,
                                    task=episode.prompt or "(not given)", shown=shown_text(episode, scope))
        return Prompt((Message("user", text),), prefill=MONITOR_PREFILL)

    def read(self, episodes: Sequence[Episode], scope: str) -> list[Suspicion]:
        return read_yes_no(self.model, [self.prompt(e, scope) for e in episodes], episodes, scope)


def rubric_monitor_name(spec: str, behavior: Behavior) -> str:
    return f"{spec} [{behavior.name}]"
