"""BIG-bench's JSON task format, multiple-choice examples, as cotlens samples: ``--task bigbench:PATH/task.json``.

BIG-bench (Srivastava et al. 2022, "Beyond the Imitation Game") keeps each JSON task in a ``task.json``:
``examples``, each an ``input`` and, for a multiple-choice task, ``target_scores`` (each choice's text and its
score, the right answer scoring highest), and an optional ``task_prefix`` that precedes every question. The
BIG-Bench Hard tasks (Suzgun et al. 2022) that Turpin et al. 2023 biased are BIG-bench tasks in this format, so
they run without conversion. Read as:

- question: the ``task_prefix`` (stripped) and a blank line before the example's ``input``. cotlens's prompts
  show the choices as (A), (B), ..., so BIG-bench's ``append_choices_to_input`` and its prefixes (``\\nQ: ``,
  ``choice: ``) are not used;
- choices: ``target_scores``' texts, **shuffled per example with the run's seed** (BIG-bench often lists the
  right answer first, and a model that learnt "A" would look accurate); the same seed gives the same order,
  whatever ``--n`` is; the file's order is kept in the sample's metadata (``bigbench.choices_in_file``);
- answer: the one choice with the highest score. An example whose top score is shared (several right answers)
  is refused: cotlens reads answers as one choice. A generative example (``target``, no ``target_scores``) is
  free-form (``cotlens.tasks.freeform``, the default rule for its target); a ``target`` list of several answers
  is refused, since a free-form answer is compared with one;
- id: the example's 0-based index in ``examples``.

Every error is one line naming the file and the field (``FILE: examples[3]: field 'target_scores': ...``; invalid
JSON names its line), which the command line prints with exit code 2.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from cotlens.tasks.files import read_text
from cotlens.tasks.freeform import make_free
from cotlens.tasks.loaders import _fail
from cotlens.types import FREE_ANSWER, LETTERS, CotlensError, Sample

PREFIX = "bigbench:"
"""``--task bigbench:PATH``."""


def load_bigbench(path: Path, seed: int) -> list[Sample]:
    """Every multiple-choice example of a BIG-bench ``task.json`` (see the module docstring)."""
    if path.is_dir():  # a task's directory
        if not (path / "task.json").is_file():
            raise CotlensError(f"{path}: a directory without task.json (a task with subtasks: name one subtask's "
                               "task.json)")
        path = path / "task.json"
    text = read_text(path, "BIG-bench task file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise CotlensError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(doc, dict):
        raise CotlensError(f"{path}: expected a JSON object (BIG-bench's task.json), got {type(doc).__name__}")
    prefix = doc.get("task_prefix", "")
    if not isinstance(prefix, str):
        raise CotlensError(f"{path}: field 'task_prefix': expected a string, got {type(prefix).__name__}")
    examples = doc.get("examples")
    if examples is None:
        sub = " (a task with subtasks: name one subtask's task.json)" if "subtasks" in doc else ""
        raise CotlensError(f"{path}: field 'examples': missing{sub}")
    if not isinstance(examples, list) or not examples:
        raise CotlensError(f"{path}: field 'examples': expected a non-empty list")
    given = doc.get("name")
    name = given if isinstance(given, str) else path.parent.name
    return [_sample(path, i, ex, prefix.strip(), name, seed) for i, ex in enumerate(examples)]


def _sample(path: Path, i: int, ex: Any, prefix: str, name: str, seed: int) -> Sample:
    where = f"{path}: examples[{i}]"
    if not isinstance(ex, dict):
        raise CotlensError(f"{where}: expected an object, got {type(ex).__name__}")
    question = ex.get("input")
    if not isinstance(question, str) or not question.strip():
        raise _fail(where, "input", "missing" if question is None else
                    "empty" if isinstance(question, str) else f"expected a string, got {type(question).__name__}")
    scores = ex.get("target_scores")
    text = f"{prefix}\n\n{question.strip()}" if prefix else question.strip()
    if scores is None and "target" in ex:  # a generative example: a free-form answer
        target = ex["target"]
        targets = target if isinstance(target, list) else [target]
        if len(targets) != 1 or not isinstance(targets[0], str | int | float) or isinstance(targets[0], bool):
            raise _fail(where, "target", "expected one answer (text or a number); cotlens compares a free-form "
                        "answer with one target")
        meta = {"bigbench": {"task": name, "example": i}}
        return Sample(str(i), text, (), FREE_ANSWER, meta, make_free(targets[0], where=where))
    if scores is None:
        raise _fail(where, "target_scores", "missing (and no 'target': an example needs choices or an answer)")
    if not isinstance(scores, dict):
        raise _fail(where, "target_scores", f"expected an object of choice: score, got {type(scores).__name__}")
    if not 2 <= len(scores) <= len(LETTERS):
        raise _fail(where, "target_scores", f"expected 2 to {len(LETTERS)} choices, got {len(scores)}")
    for choice, score in scores.items():
        if not choice.strip():
            raise _fail(where, "target_scores", "a choice is empty")
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise _fail(where, "target_scores", f"the score of {choice!r} is {json.dumps(score)}; "
                        "expected a number")
    in_file = [c.strip() for c in scores]
    if len(set(in_file)) < len(in_file):
        raise _fail(where, "target_scores", "two choices have the same text")
    top = max(scores.values())
    best = [c.strip() for c, s in scores.items() if s == top]
    if len(best) > 1:
        raise _fail(where, "target_scores", f"{len(best)} choices share the top score {top} "
                    f"({', '.join(map(repr, best))}); cotlens needs one right answer")
    order = list(in_file)
    random.Random(f"bigbench:{seed}:{i}").shuffle(order)
    meta = {"bigbench": {"task": name, "example": i, "choices_in_file": in_file}}
    return Sample(str(i), text, tuple(order), order.index(best[0]), meta)


__all__ = ["PREFIX", "load_bigbench"]
