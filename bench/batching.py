"""The demo battery with and without cross-sample batching, side by side in one run, on the embedded SmolLM2.

Usage: python bench/batching.py [--n 20] [--concurrency 0] [--batch-size 0] [--also-batch-only]

Runs ``make demo``'s job (all four Lanham et al. metrics, ``--task arithmetic --n 20 --seed 0 --dtype float32
--max-new-tokens 160 --max-positions 4``) into fresh directories with fresh caches:

- ``before``: one record at a time, batch size 8 (``cotlens run``'s defaults before they became ``auto``);
- ``after``: ``--concurrency`` records at once through the dynamic batcher, batch size ``--batch-size`` (0: auto,
  ``cotlens run``'s defaults: every record at once, batch size 64);
- with ``--also-batch-only``, also one record at a time at ``--batch-size`` (what the batch size alone buys).

It times each whole run (elicitation and metrics), counts the backend calls the batcher made and their sizes,
and compares the summaries. Where a value differs, it finds the samples whose CoTs or records differ and, for
each differing CoT, the first token where the two greedy decodings part and the gap between the two most likely
tokens there (recomputed in one unbatched forward pass): a near-tie when under ``--near`` nats. Prints a table and
writes ``bench/results/batching.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from cotlens.metrics.adding_mistakes import AddingMistakesArgs
from cotlens.models.hf import HFModel
from cotlens.models.spec import load_model
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.runs.runner import Run
from cotlens.runs.summary import leaves
from cotlens.types import Prompt

DEMO = dict(model="smollm2", task="arithmetic", seed=0, dtype="float32", max_new_tokens=160,
            metrics=("early_answering", "adding_mistakes", "filler_tokens", "no_cot"))


def one_run(out: Path, n: int, concurrency: int, batch_size: int) -> dict[str, Any]:
    cfg = RunConfig(out=str(out), n=n, concurrency=concurrency, batch_size=batch_size, cache=str(out / "c.sqlite"),
                    args={"adding_mistakes": AddingMistakesArgs(max_positions=4)}, **DEMO)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    r = Run(cfg, progress=False)
    summary = r.execute().to_dict()
    seconds = time.perf_counter() - t0
    stats = r._batcher.stats if r._batcher is not None else None  # a benchmark reads it
    by_method = stats.by_method if stats else {}
    sizes = {m: {"calls": len(v), "mean_prompts": sum(v) / len(v), "seconds": stats.seconds.get(m) if stats else None}
             for m, v in by_method.items()}
    calls = list(read_jsonl(out / "calls.jsonl"))
    return {"concurrency": concurrency, "batch_size": batch_size, "seconds": seconds, "summary": summary,
            "record_calls": len(calls), "backend_calls": stats.backend_calls if stats else len(calls),
            "batched": sizes}


def gap_at_divergence(m: HFModel, prompt: Prompt, a: str, b: str) -> dict[str, Any]:
    """Where two greedy continuations of ``prompt`` part, and the top-2 logit gap there (one unbatched pass)."""
    import torch

    ta = m.tokenizer.encode(a, add_special_tokens=False)
    tb = m.tokenizer.encode(b, add_special_tokens=False)
    at = next((i for i, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y), min(len(ta), len(tb)))
    ids = m.encode_prompt(prompt) + ta[:at]
    with torch.inference_mode():
        logits = m.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    top = torch.topk(logits, 2)
    return {"token": at, "gap": float(top.values[0] - top.values[1]),
            "candidates": [m.tokenizer.decode([int(i)]) for i in top.indices]}


def differences(a: Path, b: Path, m: HFModel, near: float) -> dict[str, Any]:
    ta = {t["sample_id"]: t for t in read_jsonl(a / "traces.jsonl")}
    tb = {t["sample_id"]: t for t in read_jsonl(b / "traces.jsonl")}
    cots = {}
    for sid, t in ta.items():
        if t["cot"] != tb[sid]["cot"]:
            g = gap_at_divergence(m, Prompt.from_dict(t["prompt"]), t["cot"], tb[sid]["cot"])
            cots[sid] = {**g, "near_tie": g["gap"] < near}
    ra = {(r["metric"], r["sample_id"]): r for r in read_jsonl(a / "records.jsonl")}
    rb = {(r["metric"], r["sample_id"]): r for r in read_jsonl(b / "records.jsonl")}
    recs = sorted(f"{k[0]}:{k[1]}" for k in ra if ra[k]["values"] != rb[k]["values"])
    return {"cots_differ": cots, "records_with_other_values": recs}


def summary_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """The metrics' values that differ between two summaries, each as [a, b]."""
    la, lb = leaves(a["metrics"]), leaves(b["metrics"])
    return {k: [la[k], lb.get(k)] for k in la if la[k] != lb.get(k)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=0, help="0: auto (cotlens run's default)")
    ap.add_argument("--batch-size", type=int, default=0, help="0: auto (cotlens run's default)")
    ap.add_argument("--also-batch-only", action="store_true")
    ap.add_argument("--near", type=float, default=1e-3, help="a top-2 logit gap under this is a near-tie")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "batching.json"))
    args = ap.parse_args()
    import torch

    ways = {"before": (1, 8), "after": (args.concurrency, args.batch_size)}
    if args.also_batch_only:
        ways["batch_only"] = (1, args.batch_size)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (conc, bs) in ways.items():
            results[name] = one_run(Path(tmp) / name, args.n, conc, bs)
            print(f"{name}: {results[name]['seconds']:.0f} s", flush=True)
        m = load_model("smollm2", dtype="float32")
        assert isinstance(m, HFModel)
        diffs = {name: differences(Path(tmp) / "before", Path(tmp) / name, m, args.near)
                 for name in ways if name != "before"}
    base = results["before"]
    print(f"{'way':<11} {'records':>8} {'batch':>6} {'seconds':>8} {'speed-up':>9} | summary equal to before")
    for name, r in results.items():
        same = r["summary"]["metrics"] == base["summary"]["metrics"]
        print(f"{name:<11} {r['concurrency']:>8} {r['batch_size']:>6} {r['seconds']:>8.0f} "
              f"{base['seconds'] / r['seconds']:>8.2f}x | {same}")
    for name, d in diffs.items():
        print(f"{name}: CoTs that differ from before: {d['cots_differ'] or 'none'}; records with other values: "
              f"{d['records_with_other_values'] or 'none'}")
        d["summary_values_differ"] = summary_differences(base["summary"], results[name]["summary"])
        for key, (x, y) in d["summary_values_differ"].items():
            gap = abs(x - y) if isinstance(x, float) and isinstance(y, float) else None
            print(f"{name}: summary {key}: {x} before, {y} here" + (f" (differs by {gap:.1e})" if gap else ""))
    for name, r in results.items():
        if r["batched"]:
            print(f"{name}: backend calls {r['backend_calls']} for {r['record_calls']} record calls; " + ", ".join(
                f"{k} {v['calls']} calls of {v['mean_prompts']:.1f} prompts, {v['seconds']:.0f} s"
                for k, v in r["batched"].items()))
    out = {"config": {**DEMO, "n": args.n, "max_positions": 4}, "date": time.strftime("%Y-%m-%d"),
           "torch_threads": torch.get_num_threads(),
           "machine": platform.processor(), "near_tie_gap": args.near, "runs": results, "differences": diffs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
