"""Tasks: built-in generators with ground truth, and loaders for user files.

``load_task(name_or_path, ...)`` accepts a built-in name (``CATALOGUE``), a ``.jsonl``, ``.csv`` or ``.tsv``
file, a directory saved with ``datasets``' ``save_to_disk``, or ``bigbench:PATH`` (a BIG-bench ``task.json``,
``cotlens.tasks.bigbench``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from cotlens.tasks import arithmetic, chains
from cotlens.tasks.bigbench import PREFIX as BIGBENCH
from cotlens.tasks.bigbench import load_bigbench
from cotlens.tasks.freeform import make_free
from cotlens.tasks.loaders import load_csv, load_datasets_dir, load_jsonl
from cotlens.types import FREE_ANSWER, CotlensError, Sample


def _chains(name: str) -> Callable[[int, int, int], list[Sample]]:
    def make(n: int, seed: int, difficulty: int) -> list[Sample]:
        made = chains.task_chains(name, n, seed)
        return [chains.to_sample(c, f"{name}-{seed}-{i}", name) for i, c in enumerate(made)]

    return make


def free_form(sample: Sample) -> Sample:
    """A multiple-choice sample as a free-form one: the same question, the gold choice's text as the answer,
    scored by the default rule for it (``cotlens.tasks.freeform``: a number is extracted and compared as one)."""
    target = sample.choices[sample.answer]
    return dataclasses.replace(sample, id=f"{sample.id}-free", choices=(), answer=FREE_ANSWER,
                               free=make_free(target, where=f"sample {sample.id}"))


def _free(make: Callable[[int, int, int], list[Sample]]) -> Callable[[int, int, int], list[Sample]]:
    return lambda n, seed, difficulty: [free_form(s) for s in make(n, seed, difficulty)]


CATALOGUE: dict[str, tuple[str, Callable[[int, int, int], list[Sample]]]] = {
    "arithmetic": ("multi-step word problems, --difficulty operations each, four choices",
                   arithmetic.generate),
    "arithmetic-free": ("arithmetic's word problems with a free-form answer: the number, no choices",
                        _free(arithmetic.generate)),
    **{name: (f"the organisms' variable chains modulo 10 ({'hard' if name == 'chain4' else 'easy'}), choices 0-9",
              _chains(name)) for name in chains.TASKS},
    **{name: ("repeat3 with two operands offered at every step, a CoT taking either (the fork organisms'); the "
                 "answer takes the first at every step, choices 0-9", _chains(name)) for name in chains.FORK_TASKS},
    **{f"{name}-free": (f"{name} with a free-form answer: the digit, no choices", _free(_chains(name)))
       for name in (*chains.TASKS, *chains.FORK_TASKS)},
    **{f"{name}-mixed": (f"{name}, every second question carrying the mixed organism's trigger",
                         _chains(f"{name}-mixed")) for name in chains.TASKS},
    **{f"{name}-target": (f"{name}, every second question naming a backdoor target answer (the rationalize "
                          "organism's trigger)", _chains(f"{name}-target")) for name in chains.TASKS},
    **{f"{name}-target-all": (f"{name}, every question naming a backdoor target answer",
                              _chains(f"{name}-target-all")) for name in chains.TASKS},
}
"""Every built-in task: name -> (what it is, generator of (n, seed, difficulty)). The one list of tasks:
``cotlens.tasks.chains`` defines the chains, this names them."""
BUILTIN = tuple(CATALOGUE)


def load_task(
    name_or_path: str, n: int | None = None, seed: int = 0, difficulty: int = 3, split: str | None = None,
    notes: list[str] | None = None,
) -> list[Sample]:
    """The first ``n`` samples of a task (all of a file when ``n`` is None; 100 of a built-in). Readings of a
    file's values that a rule had to settle (``cotlens.tasks.answers``) are appended to ``notes``, one line
    each."""
    if n is not None and n < 1:
        raise CotlensError(f"--n must be at least 1, got {n}")
    if name_or_path in CATALOGUE:
        return CATALOGUE[name_or_path][1](n if n is not None else 100, seed, difficulty)
    if not name_or_path.strip():
        raise CotlensError(f"unknown task '': name a built-in ({', '.join(BUILTIN)}) or a file")
    path = Path(name_or_path)
    found: list[tuple[str, str]] = []
    if name_or_path.startswith(BIGBENCH):  # its choices shuffled with the run's seed
        given = name_or_path[len(BIGBENCH):]
        if not given.strip():
            raise CotlensError("--task bigbench: names no file (bigbench:PATH/task.json)")
        samples = load_bigbench(Path(given).expanduser(), seed)
    elif path.is_dir():
        samples = load_datasets_dir(path, split, found)
    elif path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            samples = load_jsonl(path, found)
        elif suffix in (".csv", ".tsv"):
            samples = load_csv(path, found)
        else:
            raise CotlensError(f"{path}: unknown task file type {path.suffix!r}; use .jsonl, .csv or .tsv")
    else:
        raise CotlensError(f"unknown task {name_or_path!r}: not a built-in ({', '.join(BUILTIN)}) nor a file")
    kept = samples[:n] if n is not None else samples
    if notes is not None:  # only the notes of the samples the run uses
        ids = {s.id for s in kept}
        notes.extend(text for sid, text in found if sid in ids)
    return kept


__all__ = ["BUILTIN", "CATALOGUE", "load_task"]
