"""Truncation curves: naive scoring (one forward pass per truncation point) vs shared-prefix scoring (all points
in one pass), on the embedded SmolLM2 and on an organism.

Usage: python bench/truncation.py [--dtype auto] [--lengths 128,256,512,1024] [--ks 5,10,20] [--no-organism]

For a CoT of about L tokens (sentences of arithmetic) and k truncation points evenly spaced over its steps, it
times ``score_choices`` on the k answer prompts (naive), ``score_prefixes`` on the same prompts (shared), and
one plain forward pass over as many tokens as the packed sequence holds (the floor for one pass), each the best
of 2 runs after a warm-up. It reports the times, naive / shared, shared / one pass, the largest difference in
log-probability, and how often the top answer agrees. Prints a table and writes
``bench/results/truncation.json``.

The organism (``faithful``, 0.6M parameters, one character a token) is scored the way its backend scores any
answer: each of the 10 choices' text after ``question|cot>``, so naive scoring runs 10 sequences per truncation
point. Its rotary tables are rebuilt for long sequences (they are computed, not learned): its CoTs here are
far longer than any it was trained on, so its answers mean nothing, but times and agreement are what is measured.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cotlens.batching import pack_shared_prefix
from cotlens.elicit import join_steps, split_steps
from cotlens.models.spec import load_model
from cotlens.prompts import answer_prompt
from cotlens.tasks import load_task
from cotlens.types import Prompt, Sample
from cots import arithmetic_cot


def best(fn: Callable[[], object], n: int = 2) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def truncation_prompts(sample: Sample, cot: str, k: int) -> tuple[list[Prompt], list[tuple[str, ...]]]:
    """The answer prompts after k truncation points spread evenly over the CoT's steps (fewer if it has fewer)."""
    steps = split_steps(cot)
    cuts = sorted({round(j * len(steps) / (k - 1)) for j in range(k)})
    prompts = [answer_prompt(sample, join_steps(cot, steps, c)) for c in cuts]
    return prompts, [sample.letters] * len(prompts)


def measure(label: str, m: Any, prompts: list[Prompt], letters: list[tuple[str, ...]], cot_tokens: int,
            packed: int, one_pass: Callable[[], None], digits: int) -> dict[str, object]:
    """Time naive scoring, shared-prefix scoring and one pass over the packed length; compare their answers;
    print the row."""
    m.score_prefixes(prompts[:2], letters[:2])  # warm-up
    naive_t = best(lambda: m.score_choices(prompts, letters))
    shared_t = best(lambda: m.score_prefixes(prompts, letters))
    one_t = best(one_pass)
    naive, shared = m.score_choices(prompts, letters), m.score_prefixes(prompts, letters)
    diff = max(abs(a - b) for x, y in zip(naive, shared, strict=True) for a, b in zip(x, y, strict=True))
    agree = sum(max(range(len(x)), key=x.__getitem__) == max(range(len(y)), key=y.__getitem__)
                for x, y in zip(naive, shared, strict=True)) / len(naive)
    d = digits - 1
    print(f"{label}L={cot_tokens:5d} k={len(prompts):3d} naive {naive_t:7.{d}f}s shared {shared_t:6.{d}f}s "
          f"one pass {one_t:6.{d}f}s  naive/shared {naive_t / shared_t:5.1f}x  shared/one "
          f"{shared_t / one_t:4.2f}  max diff {diff:.1e}  top agree {agree:.2f}", flush=True)
    return {"cot_tokens": cot_tokens, "k": len(prompts), "packed_tokens": packed, "naive_s": round(naive_t, digits),
            "shared_s": round(shared_t, digits), "one_pass_s": round(one_t, digits),
            "naive_over_shared": round(naive_t / shared_t, 2), "shared_over_one_pass": round(shared_t / one_t, 2),
            "max_logprob_diff": diff, "top_answer_agreement": agree}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="auto", help="as cotlens run (the dtype used is in the JSON)")
    ap.add_argument("--lengths", default="128,256,512,1024")
    ap.add_argument("--ks", default="5,10,20")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "truncation.json"))
    ap.add_argument("--no-organism", action="store_true", help="SmolLM2 only")
    args = ap.parse_args()
    import torch

    m = load_model("smollm2", dtype=args.dtype, batch_size=8)
    sample = load_task("arithmetic", 1, 0)[0]
    rows = []
    for length in [int(x) for x in args.lengths.split(",")]:
        cot = arithmetic_cot(m.count_tokens, length)
        for k in [int(x) for x in args.ks.split(",")]:
            prompts, letters = truncation_prompts(sample, cot, k)
            ids = m._encode([m.render(p) for p in prompts])  # type: ignore[attr-defined]
            packed = len(pack_shared_prefix(ids).ids)
            base = max(ids, key=len)
            flat = [base[i % len(base)] for i in range(packed)]

            def one_pass(flat: list[int] = flat) -> None:
                with torch.inference_mode():
                    m.model(input_ids=torch.tensor([flat]))  # type: ignore[attr-defined]

            rows.append(measure("", m, prompts, letters, m.count_tokens(cot), packed, one_pass, 3))
    result: dict[str, object] = {"model": "smollm2", "dtype": m.identity.dtype, "rows": rows}
    if not args.no_organism:
        result["organism"] = {"model": "organism:faithful", "dtype": "float32",
                              "rows": organism_rows([int(x) for x in args.lengths.split(",")],
                                                    [int(x) for x in args.ks.split(",")])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


def organism_rows(lengths: list[int], ks: list[int]) -> list[dict[str, object]]:
    import dataclasses

    import torch

    from cotlens.models.organism import OrganismModel
    from cotlens.organisms.model import GPT

    m = OrganismModel("faithful", spec="organism:faithful")
    long = GPT(dataclasses.replace(m.model.cfg, max_len=4 * max(lengths) + 256))
    long.load_state_dict(m.model.state_dict())
    m.model = long.eval()
    sample = load_task("repeat3", 1, 424242)[0]
    rows: list[dict[str, object]] = []
    for length in lengths:
        parts: list[str] = []
        while len(" ".join(parts)) < length:
            parts.append(f"D={len(parts) % 10}+4={(len(parts) + 4) % 10}.")
        cot = " ".join(parts)
        for k in ks:
            prompts, letters = truncation_prompts(sample, cot, k)
            packed = len(pack_shared_prefix([r[1] for r in m._rows(prompts, letters)]).ids)

            def one_pass(n: int = packed) -> None:
                with torch.no_grad():
                    m.model(torch.zeros(1, n, dtype=torch.long))

            rows.append(measure("organism ", m, prompts, letters, len(cot), packed, one_pass, 4))
    return rows


if __name__ == "__main__":
    main()
