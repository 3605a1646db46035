"""Rollouts for resampling importance: one prefix tree for every cut of a CoT vs re-prefilling, on SmolLM2.

Usage: python bench/resampling.py [--dtype float32] [--lengths 100,300] [--rollouts 4,16] [--cuts 8]
                                  [--rollout-tokens 32]

For each CoT length (sentences of arithmetic, about ``--lengths`` tokens) and each number N of rollouts, the CoT is
cut before ``--cuts`` evenly spaced steps (what ``--resample-steps`` chooses) and N continuations of at most
``--rollout-tokens`` new tokens are sampled from every cut (temperature 0.6, top-p 0.95, seeds 0..N-1), three ways
through ``HFModel``:

- ``tree``: every (cut, seed) a row, all rows decoded together in batches of 64 in lexicographic order, each batch
  read as one prefix tree (each cut's prompt extends the one before; a cut's rows share it whole): what
  ``HFModel.rollouts`` does, so what ``cotlens run --metrics resampling_importance`` does on a local model;
- ``re-prefill, same batch``: the same rows in the same decoding batches, each row reading its own prompt in one
  padded forward pass;
- ``per cut``: each cut read once and its KV cache copied to its N rollouts, one cut at a time (cotlens before the
  tree).

Each way starts with an empty prefix store (``HFModel.clear_prefix_store``): what is timed is the sharing within
one way's calls. The rollouts of each (cut, seed) are compared across the three: identical, parted where a draw was
a near-tie (the uniform within 1e-4 of a CDF edge), or parted otherwise (unexplained). Times on this shared
machine are noise: read the ratios, measured side by side in one run. Prints a table and writes
``bench/results/resampling.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cotlens.elicit import join_steps, split_steps
from cotlens.metrics.adding_mistakes import positions
from cotlens.models.hf import HFModel
from cotlens.models.spec import load_model
from cotlens.prompts import continue_prompt
from cotlens.tasks import load_task
from cotlens.types import GenerationSettings
from cots import arithmetic_cot

NEAR = 1e-4
"""A draw whose margin (``cotlens.batching.draw``) is below this could go either way under rounding."""
BATCH = 64
Trace = list[list[tuple[int, float]]]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def compare(a: Trace, b: Trace) -> dict[str, int]:
    """Rows of two runs of the same seeds: identical, parted at a near-tie, or parted otherwise."""
    same = near = other = 0
    for x, y in zip(a, b, strict=True):
        tx, ty = [t for t, _ in x], [t for t, _ in y]
        if tx == ty:
            same += 1
            continue
        at = next((i for i, (p, q) in enumerate(zip(tx, ty, strict=False)) if p != q), min(len(tx), len(ty)))
        margins = [m[at][1] for m in (x, y) if at < len(m)]
        if margins and min(margins) < NEAR:
            near += 1
        else:
            other += 1
    return {"identical": same, "near_tie": near, "unexplained": other}


def batched(m: HFModel, ids: list[list[int]], seeds: list[int], s: GenerationSettings, share: bool) -> Trace:
    """Every (cut, seed) row in ``HFModel.rollouts``' decoding batches; each row's (token, margin) per step, in the
    order of ``ids`` x ``seeds``."""
    m.clear_prefix_store()  # each way reads its prompts itself: no keys and values from the way before
    rows = [(i, sd) for i in range(len(ids)) for sd in seeds]
    order = sorted(range(len(rows)), key=lambda j: ids[rows[j][0]])
    out: Trace = [[] for _ in rows]
    for lo in range(0, len(order), BATCH):
        chunk = order[lo : lo + BATCH]
        trace: Trace = []
        m.sample_rows([ids[rows[j][0]] for j in chunk], s, [rows[j][1] for j in chunk], share=share, trace=trace)
        for j, t in zip(chunk, trace, strict=True):
            out[j] = t
    return out


def per_cut(m: HFModel, ids: list[list[int]], seeds: list[int], s: GenerationSettings) -> Trace:
    out: Trace = []
    for x in ids:
        m.clear_prefix_store()  # each cut read whole, as before the tree
        trace: Trace = []
        m.sample(x, s, seeds, trace=trace)
        out += trace
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32", help="as cotlens run (float32 on every CPU)")
    ap.add_argument("--lengths", default="100,300", help="CoT lengths in tokens")
    ap.add_argument("--rollouts", default="4,16", help="rollouts per cut (N)")
    ap.add_argument("--cuts", type=int, default=8, help="cuts per CoT, evenly spaced over its steps")
    ap.add_argument("--rollout-tokens", type=int, default=32)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "resampling.json"))
    args = ap.parse_args()
    import torch

    m = load_model("smollm2", dtype=args.dtype, batch_size=BATCH)
    assert isinstance(m, HFModel)
    sample = load_task("arithmetic", 1, 0)[0]
    s = GenerationSettings(max_new_tokens=args.rollout_tokens, temperature=0.6, top_p=0.95)
    m.sample(m.encode_prompt(continue_prompt(sample, "")), GenerationSettings(4, 0.6, 0.95), [0, 1])  # warm-up
    print(f"SmolLM2 {m.identity.dtype}, torch threads {torch.get_num_threads()}, {args.cuts} cuts, rollouts up to "
          f"{args.rollout_tokens} new tokens, decoding batches of {BATCH}")
    head = (f"{'CoT':>4} {'N':>3} {'rows':>5} | {'tree':>7} {'re-prefill':>10} {'per cut':>8} | "
            f"{'re-prefill/tree':>15} {'per cut/tree':>12} | agreement with the tree (re-prefill; per cut)")
    print(head)
    print("-" * len(head))
    rows: list[dict[str, Any]] = []
    for length in [int(x) for x in args.lengths.split(",")]:
        cot = arithmetic_cot(m.count_tokens, length)
        steps = split_steps(cot)
        cuts = positions(len(steps), args.cuts)
        ids = [m.encode_prompt(continue_prompt(sample, join_steps(cot, steps, k))) for k in cuts]
        for n in [int(x) for x in args.rollouts.split(",")]:
            seeds = list(range(n))
            t_tree, tree = timed(partial(batched, m, ids, seeds, s, True))
            t_re, re = timed(partial(batched, m, ids, seeds, s, False))
            t_cut, cut = timed(partial(per_cut, m, ids, seeds, s))
            row = {"cot_tokens": m.count_tokens(cot), "steps": len(steps), "cuts": cuts, "rollouts": n,
                   "rows": len(cuts) * n, "prompt_tokens": [len(x) for x in ids],
                   "new_tokens": sum(len(r) for r in tree),
                   "seconds": {"tree": t_tree, "reprefill_same_batch": t_re, "per_cut_reuse": t_cut},
                   "speedup": {"vs_reprefill_same_batch": t_re / t_tree, "vs_per_cut_reuse": t_cut / t_tree},
                   "agreement": {"reprefill_same_batch": compare(tree, re), "per_cut_reuse": compare(tree, cut)}}
            rows.append(row)
            ag = row["agreement"]
            print(f"{row['cot_tokens']:>4} {n:>3} {row['rows']:>5} | {t_tree:>6.1f}s {t_re:>9.1f}s {t_cut:>7.1f}s | "
                  f"{t_re / t_tree:>14.2f}x {t_cut / t_tree:>11.2f}x | "
                  f"{ag['reprefill_same_batch']}; {ag['per_cut_reuse']}")
    out = {"model": m.identity.to_dict(), "torch_threads": torch.get_num_threads(), "machine": platform.processor(),
           "rollout_tokens": args.rollout_tokens, "temperature": 0.6, "top_p": 0.95, "batch": BATCH,
           "near_tie_margin": NEAR, "date": time.strftime("%Y-%m-%d"), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
