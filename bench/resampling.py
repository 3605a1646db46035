"""Rollouts for resampling importance: prefix KV reuse vs re-prefilling each rollout, on the embedded SmolLM2.

Usage: python bench/resampling.py [--dtype float32] [--rollouts 16] [--cot-tokens 300] [--rollout-tokens 64]
                                  [--cuts 0.5,1.0]

A CoT of about ``--cot-tokens`` tokens (sentences of arithmetic) is cut before a step at each fraction in
``--cuts`` (1.0: before its last step); from each cut, ``--rollouts`` continuations (at most ``--rollout-tokens``
new tokens each) are drawn, with the same seeds, three ways through ``HFModel.sample``:

- ``reuse``: the prompt and CoT prefix read once, their KV cache copied to the rollouts, decoded in one batch
  (what ``cotlens run --metrics resampling_importance`` does on a local backend);
- ``re-prefill, batched``: the same batch of rollouts, each row reading the prefix itself;
- ``re-prefill, one at a time``: one rollout per call, each reading the prefix (what sampling a prompt once per
  seed costs: ``generate`` samples one prompt at a time).

Each is run once after a warm-up, greedy (temperature 0) and sampled (0.6, top-p 0.95). The rollouts of each
seed are compared across the three ways: greedy ones must be identical; a sampled one may part where a draw was
a near-tie (the uniform within 1e-4 of a CDF edge, or a greedy gap under 1e-4), which is counted; any other
difference is reported as unexplained. Times on this shared machine are noise: read the ratios, measured side by
side in one run. Prints a table and writes ``bench/results/resampling.json``.
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
from cotlens.models.hf import HFModel
from cotlens.models.spec import load_model
from cotlens.prompts import continue_prompt
from cotlens.tasks import load_task
from cotlens.types import GenerationSettings

NEAR = 1e-4
"""A draw whose margin (``cotlens.batching.draw``) is below this could go either way under rounding."""


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def one_by_one(m: HFModel, ids: list[int], s: GenerationSettings, seeds: list[int],
               trace: list[list[tuple[int, float]]]) -> None:
    for sd in seeds:
        m.sample(ids, s, [sd], share_prefix=False, trace=trace)


def compare(a: list[list[tuple[int, float]]], b: list[list[tuple[int, float]]]) -> dict[str, int]:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32", help="as cotlens run (this CPU has no native bf16)")
    ap.add_argument("--rollouts", type=int, default=16)
    ap.add_argument("--cot-tokens", type=int, default=300)
    ap.add_argument("--rollout-tokens", type=int, default=64)
    ap.add_argument("--cuts", default="0.5,1.0", help="where to cut the CoT, as fractions of its steps")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "resampling.json"))
    args = ap.parse_args()
    import torch

    n = args.rollouts
    m = load_model("smollm2", dtype=args.dtype, batch_size=n)
    assert isinstance(m, HFModel)
    sample = load_task("arithmetic", 1, 0)[0]
    sentences: list[str] = []
    while m.count_tokens(" ".join(sentences)) < args.cot_tokens:
        i = len(sentences)
        sentences.append(f"Next we add {i} and {i + 3}, which gives {2 * i + 3}.")
    cot = " ".join(sentences)
    steps = split_steps(cot)
    seeds = list(range(n))
    m.sample(m.encode_prompt(continue_prompt(sample, "")), GenerationSettings(4, 0.6, 0.95), [0, 1])  # warm-up
    rows: list[dict[str, Any]] = []
    print(f"SmolLM2 {m.identity.dtype}, torch threads {torch.get_num_threads()}, {n} rollouts, CoT "
          f"{m.count_tokens(cot)} tokens in {len(steps)} steps, rollouts up to {args.rollout_tokens} new tokens")
    head = f"{'cut':>5} {'prefix':>6} {'T':>4} | {'reuse':>7} {'batched':>8} {'one-by-one':>10} | " \
           f"{'batched/reuse':>13} {'one/reuse':>9} | agreement with reuse (batched; one-by-one)"
    print(head)
    print("-" * len(head))
    for frac in [float(x) for x in args.cuts.split(",")]:
        k = min(len(steps) - 1, round(frac * len(steps)))
        ids = m.encode_prompt(continue_prompt(sample, join_steps(cot, steps, k)))
        for temp in (0.0, 0.6):
            s = GenerationSettings(max_new_tokens=args.rollout_tokens, temperature=temp, top_p=0.95)
            runs: dict[str, list[list[tuple[int, float]]]] = {"reuse": [], "batched": [], "one": []}
            t_reuse, _ = timed(partial(m.sample, ids, s, seeds, share_prefix=True, trace=runs["reuse"]))
            t_batch, _ = timed(partial(m.sample, ids, s, seeds, share_prefix=False, trace=runs["batched"]))
            t_one, _ = timed(partial(one_by_one, m, ids, s, seeds, runs["one"]))
            new_tokens = sum(len(r) for r in runs["reuse"])
            row = {"cut_fraction": frac, "cut_step": k, "prefix_tokens": len(ids), "temperature": temp,
                   "rollouts": n, "new_tokens": new_tokens,
                   "seconds": {"reuse": t_reuse, "reprefill_batched": t_batch, "reprefill_one_by_one": t_one},
                   "speedup": {"vs_reprefill_batched": t_batch / t_reuse, "vs_reprefill_one_by_one": t_one / t_reuse},
                   "agreement": {"reprefill_batched": compare(runs["reuse"], runs["batched"]),
                                 "reprefill_one_by_one": compare(runs["reuse"], runs["one"])}}
            rows.append(row)
            ag = row["agreement"]
            print(f"{frac:>5} {len(ids):>6} {temp:>4} | {t_reuse:>6.1f}s {t_batch:>7.1f}s {t_one:>9.1f}s | "
                  f"{t_batch / t_reuse:>12.2f}x {t_one / t_reuse:>8.2f}x | "
                  f"{ag['reprefill_batched']}; {ag['reprefill_one_by_one']}")
    out = {"model": m.identity.to_dict(), "torch_threads": torch.get_num_threads(), "machine": platform.processor(),
           "cot_tokens": m.count_tokens(cot), "steps": len(steps), "rollout_tokens": args.rollout_tokens,
           "near_tie_margin": NEAR, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
