"""An agent's trajectory as monitors read it: scopes that name its parts, and evidence located turn by turn.

An episode with ``messages`` (``cotlens.types.Turn``) is read within a scope:

- ``reasoning`` (alias ``cot``): the reasoning of every assistant turn (where a turn has no separate reasoning, the
  text of every assistant turn but the last, which is what a flat transcript's CoT holds);
- ``actions``: what the agent did: the text of its assistant turns and every tool call (function and arguments);
- ``tool_outputs``: what the tools returned;
- ``final`` (alias ``action``): the last assistant turn's text and tool calls;
- ``all``: every turn, user and system ones included.

A flat episode (no ``messages``) reads as before: ``reasoning`` its ``cot``, ``actions`` and ``final`` its
``action``, no tool outputs. Each scope is a list of ``Part`` s, each one piece of one turn's text; a monitor's
evidence is a ``Location``: the turn, the part and the character offsets in that part's text, or, for a quote an
LLM monitor gave that is not in the source, the quote marked ``found: false``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cotlens.types import CotlensError, Episode, JsonObject, Turn

SCOPES = ("cot", "action", "all", "reasoning", "actions", "tool_outputs", "final")
"""``cot``, ``action`` and ``all`` are the flat episode's scopes; the rest name a trajectory's parts (``cot`` reads
as ``reasoning`` and ``action`` as ``final`` on a trajectory)."""
ALIASES = {"cot": "reasoning", "action": "final"}


@dataclass(frozen=True)
class Part:
    turn: int
    """Index into the episode's ``messages``; -1 for a flat episode's ``cot`` or ``action``."""
    kind: str
    """"reasoning", "text", "tool_call", "tool_output", or a flat episode's "cot" or "action"."""
    text: str
    role: str = ""
    label: str = ""
    """A short header a monitor is shown before the text ("turn 3, assistant, tool call")."""


@dataclass(frozen=True)
class Location:
    turn: int
    kind: str
    start: int
    end: int
    quote: str
    found: bool = True
    """False: a quote the monitor gave that is nowhere in the scoped source."""

    def to_dict(self) -> JsonObject:
        return {"turn": self.turn, "part": self.kind, "start": self.start, "end": self.end, "quote": self.quote,
                "found": self.found}

    @staticmethod
    def from_dict(d: JsonObject) -> Location:
        return Location(int(d["turn"]), str(d["part"]), int(d["start"]), int(d["end"]), str(d["quote"]),
                        bool(d.get("found", True)))


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise CotlensError(f"unknown monitor scope {scope!r}; scopes: {', '.join(SCOPES)}")


def tool_call_text(function: str, arguments: str) -> str:
    return f"{function}({arguments})"


def _turn_parts(i: int, t: Turn, last: bool) -> list[Part]:
    out = []
    head = f"turn {i + 1}, {t.role}"
    if t.reasoning:
        out.append(Part(i, "reasoning", t.reasoning, t.role, f"{head}, reasoning"))
    if t.role == "tool":
        out.append(Part(i, "tool_output", t.text, t.role, f"{head}, output of {t.function or 'a tool'}"))
    elif t.text:
        out.append(Part(i, "text", t.text, t.role, head + (", final" if last else "")))
    for c in t.tool_calls:
        out.append(Part(i, "tool_call", tool_call_text(c.function, c.arguments), t.role, f"{head}, tool call"))
    return out


def scoped_parts(episode: Episode, scope: str) -> list[Part]:
    """What a monitor of ``scope`` reads of ``episode``, part by part (module docstring)."""
    check_scope(scope)
    if not episode.messages:
        flat = {"cot": [Part(-1, "cot", episode.cot)], "reasoning": [Part(-1, "cot", episode.cot)],
                "action": [Part(-1, "action", episode.action)], "final": [Part(-1, "action", episode.action)],
                "actions": [Part(-1, "action", episode.action)], "tool_outputs": [],
                "all": [Part(-1, "cot", episode.cot), Part(-1, "action", episode.action)]}
        return flat[scope]
    scope = ALIASES.get(scope, scope)
    turns = episode.messages
    said = [i for i, t in enumerate(turns) if t.role == "assistant"]
    final = said[-1] if said else -1
    parts = [p for i, t in enumerate(turns) for p in _turn_parts(i, t, i == final)]
    if scope == "all":
        return parts
    if scope == "reasoning":
        own = [p for p in parts if p.kind == "reasoning"]
        # no separate reasoning anywhere: the assistant's text before its last turn is its thinking aloud
        return own or [p for p in parts if p.kind == "text" and p.role == "assistant" and p.turn != final]
    if scope == "actions":
        return [p for p in parts if p.role == "assistant" and p.kind in ("text", "tool_call")]
    if scope == "tool_outputs":
        return [p for p in parts if p.kind == "tool_output"]
    return [p for p in parts if p.turn == final and p.kind in ("text", "tool_call")]


def render(parts: Sequence[Part]) -> str:
    """The parts as one text a monitor is shown: each under its header (a flat part has none)."""
    return "\n\n".join(f"[{p.label}]\n{p.text}" if p.label else p.text for p in parts)


def flatten(turns: Sequence[Turn]) -> tuple[str, str]:
    """(cot, action) of a trajectory, for the monitors and tools that read an episode flat: the CoT is every
    assistant turn's reasoning, and the text of every assistant turn but the last; the action is the last
    assistant turn's text and tool calls."""
    said = [t for t in turns if t.role == "assistant"]
    if not said:
        return "", ""
    cot = []
    for t in said[:-1]:
        cot += [t.reasoning, t.text]
    cot.append(said[-1].reasoning)
    last = said[-1]
    action = "\n".join([last.text, *(tool_call_text(c.function, c.arguments) for c in last.tool_calls)]).strip()
    return "\n".join(x for x in cot if x).strip(), action


_SPACE = re.compile(r"\s+")


def _normalised(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with each run of whitespace made one space, and for each of its characters the offset
    of the character it came from."""
    out, where = [], []
    i = 0
    for m in _SPACE.finditer(text):
        for j in range(i, m.start()):
            out.append(text[j].lower())
            where.append(j)
        out.append(" ")
        where.append(m.start())
        i = m.end()
    for j in range(i, len(text)):
        out.append(text[j].lower())
        where.append(j)
    return "".join(out), where


def locate(quote: str, parts: Sequence[Part]) -> Location:
    """Where ``quote`` is in the scoped source: the first part holding it (case and runs of whitespace aside),
    with character offsets into that part's text; a quote found nowhere comes back ``found=False``."""
    q = _SPACE.sub(" ", quote.strip().strip("\"'“”‘’").strip()).lower()
    if q:
        for p in parts:
            norm, where = _normalised(p.text)
            k = norm.find(q)
            if k >= 0:
                start, end = where[k], where[k + len(q) - 1] + 1
                return Location(p.turn, p.kind, start, end, p.text[start:end])
    return Location(-1, "", 0, 0, quote.strip(), found=False)
