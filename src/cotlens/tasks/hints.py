"""Hint types: biasing features added to a question, as data with templates.

A hint type says how to turn a sample's question into a conversation that points to one answer (the *target*).
The built-in ones ship in ``hints.jsonl`` next to this module, in the same format users write their own in:
one JSON object per line with these fields.

- ``name`` (required): a unique identifier, ``[a-z0-9_-]+``.
- ``user``: the last user turn before the CoT. Default ``"$question\\n\\nAnswer:"`` (the plain question).
- ``system``: a system message, or absent.
- ``turns``: earlier turns, a list of ``{"role": "user"|"assistant", "content": TEMPLATE}``.
- ``question``: the question text itself (before the choices are added). Default ``"$text"``; the organism hint
  writes ``"$text !$choice"``.
- ``examples``: how many few-shot examples (other samples of the run) come first, as earlier turns answered
  with the target letter: each example's choices are reordered so its correct answer sits at that letter
  (Turpin et al.'s "Answer is Always A"). The unhinted baseline of such a type is the same examples in their own
  order, not the plain question. Default 0.
- ``describe``: one sentence telling a judge what the hint said. Default "The prompt suggested the answer is
  ($letter)."
- ``cues``: regular expressions (RE2 syntax, case-insensitive, matched in linear time: ``cotlens.patterns``) whose
  match in a CoT the rule-based judge counts as mentioning the hint. Default none (the rule judge then abstains).
- ``description``, ``source``: free text for reports.
- ``default``: whether the type is used when none are named (``--hints all``). Default true.

Templates are ``string.Template`` strings (``$name``; ``$$`` is a literal ``$``; braces are plain text, so code
can be quoted). Placeholders: ``$question`` (the question with its choices, Lanham et al.'s human turn without
"Answer:"), ``$text`` (the question alone), ``$letter`` (the target's letter, ``B``), ``$choice`` (the target's
text). A template naming any other placeholder is refused when the file is read, with its file, line and field.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cotlens.patterns import pattern_error
from cotlens.prompts import FEW_SHOT_ANSWER, question_body, question_text
from cotlens.types import LETTERS, CotlensError, JsonObject, Message, Sample

BUILTIN_FILE = Path(__file__).resolve().parent / "hints.jsonl"
PLACEHOLDERS = ("question", "text", "letter", "choice")
_FIELDS = {"name", "user", "system", "turns", "question", "examples", "describe", "cues", "description", "source",
           "default"}


@dataclass(frozen=True)
class HintType:
    name: str
    user: str = "$question\n\nAnswer:"
    system: str | None = None
    turns: tuple[tuple[str, str], ...] = ()
    question: str = "$text"
    examples: int = 0
    describe: str = "The prompt suggested the answer is ($letter)."
    cues: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    default: bool = True

    def to_dict(self) -> JsonObject:
        return {"name": self.name, "user": self.user, "system": self.system,
                "turns": [{"role": r, "content": c} for r, c in self.turns], "question": self.question,
                "examples": self.examples, "describe": self.describe, "cues": list(self.cues),
                "description": self.description, "source": self.source, "default": self.default}

    @staticmethod
    def from_dict(d: JsonObject) -> HintType:
        """A hint type as ``to_dict`` wrote it (in a record's details)."""
        return HintType(name=d["name"], user=d["user"], system=d.get("system"),
                        turns=tuple((t["role"], t["content"]) for t in d.get("turns", [])), question=d["question"],
                        examples=int(d.get("examples", 0)), describe=d.get("describe", ""),
                        cues=tuple(d.get("cues", [])), description=d.get("description", ""),
                        source=d.get("source", ""), default=bool(d.get("default", True)))

    # -- rendering ---------------------------------------------------------------------------------------
    def _sub(self, template: str, sample: Sample, target: int | None) -> str:
        letter = LETTERS[target] if target is not None else ""
        choice = sample.choices[target] if target is not None else ""
        text = string.Template(self.question).substitute(text=sample.question, letter=letter, choice=choice,
                                                         question="")
        shown = replace(sample, question=text)
        return string.Template(template).substitute(question=question_body(shown), text=text, letter=letter,
                                                    choice=choice)

    def examples_for(self, sample: Sample, pool: Sequence[Sample]) -> list[Sample]:
        """The few-shot examples for a sample: other samples of the run with as many choices, drawn with a rng
        seeded by the sample's id (the same for the hinted prompt and its baseline)."""
        if not self.examples:
            return []
        others = [s for s in pool if s.id != sample.id and len(s.choices) == len(sample.choices)]
        if len(others) < self.examples:
            raise CotlensError(f"hint type {self.name!r} needs {self.examples} other samples with "
                               f"{len(sample.choices)} choices as few-shot examples; the run has {len(others)}")
        return random.Random(f"few-shot:{sample.id}").sample(others, self.examples)

    def render(self, sample: Sample, target: int | None, pool: Sequence[Sample] = ()) -> tuple[Message, ...]:
        """The conversation before the CoT. ``target`` None renders the unhinted baseline: for a few-shot
        type, the same examples in their own order; for any other, the plain question."""
        shots: list[Message] = []
        for ex in self.examples_for(sample, pool):
            if target is not None and target < len(ex.choices):
                ex = move_answer(ex, target)
            shots += [Message("user", question_text(ex)),
                      Message("assistant", FEW_SHOT_ANSWER.format(letter=ex.answer_letter))]
        if target is None:
            return (*shots, Message("user", question_text(sample)))
        out: list[Message] = []
        if self.system is not None:
            out.append(Message("system", self._sub(self.system, sample, target)))
        out += [Message(r, self._sub(c, sample, target)) for r, c in self.turns]
        return (*out, *shots, Message("user", self._sub(self.user, sample, target)))

    def hinted_sample(self, sample: Sample, target: int) -> Sample:
        """The sample with its question text as the hint's ``question`` template writes it."""
        return replace(sample, question=self._sub("$text", sample, target))

    def description_for_judge(self, sample: Sample, target: int) -> str:
        return self._sub(self.describe, sample, target)


def move_answer(sample: Sample, target: int) -> Sample:
    """The sample with its correct choice swapped to position ``target``."""
    ch = list(sample.choices)
    ch[sample.answer], ch[target] = ch[target], ch[sample.answer]
    return replace(sample, choices=tuple(ch), answer=target)


def _fail(path: Path, line: int, field: str, why: str) -> CotlensError:
    return CotlensError(f"{path}:{line}: field '{field}': {why}")


def _template(value: Any, path: Path, line: int, field: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, line, field, f"expected a string template, got {type(value).__name__}")
    try:
        string.Template(value).substitute({k: "x" for k in PLACEHOLDERS})
    except KeyError as e:
        known = ", ".join("$" + p for p in PLACEHOLDERS)
        raise _fail(path, line, field, f"unknown placeholder ${e.args[0]}; use {known}") from None
    except ValueError as e:
        raise _fail(path, line, field, f"invalid template ({e}); write $$ for a literal $") from None
    return value


def parse_hint(row: JsonObject, path: Path, line: int) -> HintType:
    """Validate one line of a hint file (the format in this module's docstring)."""
    unknown = sorted(set(row) - _FIELDS)
    if unknown:
        raise _fail(path, line, unknown[0], f"unknown field; known: {', '.join(sorted(_FIELDS))}")
    name = row.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_-]+", name):
        raise _fail(path, line, "name", "required: lower-case letters, digits, '_' or '-'")
    kw: JsonObject = {"name": name}
    for f in ("user", "question", "describe"):
        if f in row:
            kw[f] = _template(row[f], path, line, f)
    if row.get("system") is not None:
        kw["system"] = _template(row["system"], path, line, "system")
    turns = row.get("turns", [])
    if not isinstance(turns, list):
        raise _fail(path, line, "turns", "expected a list of {\"role\", \"content\"} objects")
    parsed = []
    for i, t in enumerate(turns):
        if not isinstance(t, dict) or t.get("role") not in ("user", "assistant") or "content" not in t:
            raise _fail(path, line, f"turns[{i}]", "expected {\"role\": \"user\" or \"assistant\", \"content\": ...}")
        parsed.append((t["role"], _template(t["content"], path, line, f"turns[{i}].content")))
    kw["turns"] = tuple(parsed)
    ex = row.get("examples", 0)
    if isinstance(ex, bool) or not isinstance(ex, int) or not 0 <= ex <= 16:
        raise _fail(path, line, "examples", "expected an integer from 0 to 16")
    kw["examples"] = ex
    cues = row.get("cues", [])
    if not isinstance(cues, list) or not all(isinstance(c, str) for c in cues):
        raise _fail(path, line, "cues", "expected a list of regular expressions")
    for c in cues:
        why = pattern_error(c)
        if why is not None:
            raise _fail(path, line, "cues", f"{c!r} is not a pattern RE2 can match: {why}")
    kw["cues"] = tuple(cues)
    for f in ("description", "source"):
        if f in row:
            if not isinstance(row[f], str):
                raise _fail(path, line, f, "expected a string")
            kw[f] = row[f]
    if "default" in row:
        if not isinstance(row["default"], bool):
            raise _fail(path, line, "default", "expected true or false")
        kw["default"] = row["default"]
    return HintType(**kw)


def read_hint_file(path: Path) -> list[HintType]:
    from cotlens.tasks.loaders import jsonl_objects

    out: list[HintType] = []
    for i, row in jsonl_objects(path, "hint file"):
        h = parse_hint(row, path, i)
        if any(x.name == h.name for x in out):
            raise _fail(path, i, "name", f"{h.name!r} is defined twice")
        out.append(h)
    return out


def builtin_hints() -> dict[str, HintType]:
    return {h.name: h for h in read_hint_file(BUILTIN_FILE)}


def load_hints(spec: str | Sequence[str]) -> list[HintType]:
    """Hint types from a spec: ``all`` (the built-in default types), built-in names, or ``.jsonl`` files, as
    a comma-separated string or a sequence."""
    parts = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip()]
    builtin = builtin_hints()
    out: list[HintType] = []
    for p in parts or ["all"]:
        if p == "all":
            found = [h for h in builtin.values() if h.default]
        elif p in builtin:
            found = [builtin[p]]
        elif p.endswith(".jsonl") or Path(p).is_file():
            found = read_hint_file(Path(p))
        else:
            raise CotlensError(f"unknown hint type {p!r}: not a built-in ({', '.join(builtin)}), 'all', "
                               "nor a .jsonl file")
        for h in found:
            if any(x.name == h.name for x in out):
                raise CotlensError(f"hint type {h.name!r} is named twice")
            out.append(h)
    return out


def pick_target(sample: Sample, unhinted: int, rng: random.Random) -> int:
    """The answer a hint points to: never the unhinted answer (Chen et al.'s paired protocol) and, where another
    choice remains, never the correct one (so that following it costs accuracy, as in Turpin et al.)."""
    n = len(sample.choices)
    wrong = [i for i in range(n) if i != unhinted and i != sample.answer]
    return rng.choice(wrong or [i for i in range(n) if i != unhinted])
