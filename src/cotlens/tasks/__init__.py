"""Tasks: built-in generators with ground truth, and loaders for user files.

``load_task(name_or_path, ...)`` accepts a built-in name (``arithmetic``), a ``.jsonl`` or ``.csv`` file, or a
directory saved with ``datasets``' ``save_to_disk``.
"""

from __future__ import annotations

from pathlib import Path

from cotlens.tasks import arithmetic
from cotlens.tasks.loaders import load_csv, load_datasets_dir, load_jsonl
from cotlens.types import CotlensError, Sample

BUILTIN = ("arithmetic", "chain4", "repeat3", "chain4-mixed", "repeat3-mixed")
"""``chain4`` and ``repeat3``: the organisms' variable chains, hard and easy (see ``cotlens.organisms.tasks``);
choices 0-9. ``-mixed``: every second question carries the ``mixed`` organism's trigger."""


def load_task(
    name_or_path: str, n: int | None = None, seed: int = 0, difficulty: int = 3, split: str | None = None,
    notes: list[str] | None = None,
) -> list[Sample]:
    """The first ``n`` samples of a task (all of a file when ``n`` is None). Readings of a file's values that a
    rule had to settle (``cotlens.tasks.answers``) are appended to ``notes``, one line each."""
    if n is not None and n < 1:
        raise CotlensError(f"--n must be at least 1, got {n}")
    if name_or_path == "arithmetic":
        return arithmetic.generate(n if n is not None else 100, seed, difficulty)
    if name_or_path in BUILTIN[1:]:
        from cotlens.organisms.tasks import task_chains, to_sample

        chains = task_chains(name_or_path, n or 100, seed)
        return [to_sample(c, f"{name_or_path}-{seed}-{i}", name_or_path) for i, c in enumerate(chains)]
    if not name_or_path.strip():
        raise CotlensError(f"unknown task '': name a built-in ({', '.join(BUILTIN)}) or a file")
    path = Path(name_or_path)
    found: list[tuple[str, str]] = []
    if path.is_dir():
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


__all__ = ["BUILTIN", "load_task"]
