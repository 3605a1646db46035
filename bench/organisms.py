"""Each organism's accuracy with and without a CoT on each task, and its training time.

Usage: python bench/organisms.py [--n 300] [--checkpoint NAME=DIR ...]

By default it measures the shipped checkpoints (``cotlens/organisms/checkpoints``). Everything goes through the
organism backend and the same prompts as any model (``cotlens.elicit``). Prints a table and writes
``bench/results/organisms.json``.

- with CoT: greedy CoT, then the answer after it (the answer every metric compares against);
- no CoT: the answer right after the question;
- "no CoT = start": how often the no-CoT answer is the start value (what ``faithful`` is trained to say
  when its CoT has written nothing yet).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cotlens.elicit import argmax, elicit
from cotlens.models.organism import OrganismModel
from cotlens.organisms.model import CHECKPOINTS, shipped
from cotlens.prompts import no_cot_prompt
from cotlens.tasks import load_task
from cotlens.types import GenerationSettings

SEED = 31337


def measure(path: Path, spec: str, n: int) -> dict[str, object]:
    model = OrganismModel(str(path), spec=spec)
    meta = model.meta
    rows: dict[str, object] = {"train_seconds": meta.get("train_seconds"), "steps": meta.get("steps"),
                               "tasks_trained": meta.get("recipe", {}).get("tasks")}
    for task in ("repeat3", "chain4", "repeat3-mixed"):
        samples = load_task(task, n, SEED)
        t0 = time.time()
        traces = elicit(model, samples, GenerationSettings(max_new_tokens=60), SEED)
        nocot = model.score_choices([no_cot_prompt(s) for s in samples], [s.letters for s in samples])
        rows[task] = {
            "accuracy_with_cot": sum(t.answer == s.answer for t, s in zip(traces, samples, strict=True)) / n,
            "accuracy_no_cot": sum(argmax(lp) == s.answer for lp, s in zip(nocot, samples, strict=True)) / n,
            "no_cot_is_start": sum(argmax(lp) == s.metadata["start"] for lp, s in zip(nocot, samples,
                                                                                     strict=True)) / n,
            "seconds": round(time.time() - t0, 2),
        }
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--checkpoint", action="append", default=[], help="NAME=DIR (default: the shipped ones)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "organisms.json"))
    args = ap.parse_args()
    targets = dict(c.split("=", 1) for c in args.checkpoint) or {
        r: str(CHECKPOINTS / r) for r in shipped()}
    results = {name: measure(Path(p), f"organism:{name}", args.n) for name, p in targets.items()}
    print(f"{'organism':10s} {'train s':>8s} {'steps':>6s}  task           with CoT  no CoT  no CoT=start")
    for name, r in results.items():
        secs = r["train_seconds"]
        for task in ("repeat3", "chain4", "repeat3-mixed"):
            t = r[task]
            assert isinstance(t, dict)
            print(f"{name:10s} {'-' if secs is None else f'{secs:.0f}':>8s} {r['steps']!s:>6s}  {task:14s} "
                  f"{t['accuracy_with_cot']:8.3f} {t['accuracy_no_cot']:7.3f} {t['no_cot_is_start']:13.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"n": args.n, "seed": SEED, "organisms": results}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
