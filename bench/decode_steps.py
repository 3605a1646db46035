"""The decoding-step curve behind ``--batch-size auto``: SmolLM2's cost of one decoding step at 1 to 96 rows.

Usage: python bench/decode_steps.py [--dtype float32] [--prompt-tokens 300] [--steps 20] [--rows 1,2,4,8,16,32,64,96]

Each row reads a ``--prompt-tokens`` prompt (random token ids), then ``--steps`` decoding steps are timed (the
growing KV cache ``HFModel.prefill`` builds, explicit positions and key mask, as ``HFModel.greedy`` decodes). A
step costs about the same for a few rows as for one batch of many, since reading the weights dominates on a CPU;
the cost per row falls until the rows' own arithmetic takes over. Prints a table and writes
``bench/results/decode_steps.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from cotlens.models.hf import HFModel
from cotlens.models.spec import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--prompt-tokens", type=int, default=300)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rows", default="1,2,4,8,16,32,64,96")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "decode_steps.json"))
    args = ap.parse_args()
    import torch

    m = load_model("smollm2", dtype=args.dtype, batch_size=128)
    assert isinstance(m, HFModel)
    g = torch.Generator().manual_seed(0)
    rows = []
    print(f"SmolLM2 {m.identity.dtype}, torch threads {torch.get_num_threads()}, prompts of {args.prompt_tokens} "
          f"tokens, {args.steps} steps")
    print(f"{'rows':>5} {'ms/step':>8} {'ms/row/step':>12} {'tokens/s':>9}")
    for b in [int(x) for x in args.rows.split(",")]:
        ids = torch.randint(100, 1000, (b, args.prompt_tokens), generator=g).tolist()
        with torch.inference_mode():
            cache, logits, mask, last = m.prefill(ids, room=args.steps)
            tok = logits.argmax(-1)[:, None]
            t0 = time.perf_counter()
            for _ in range(args.steps):
                mask = torch.cat([mask, mask.new_ones(b, 1)], 1)
                last = last + 1
                cache, logits = m._step(tok, cache, last, mask)
                tok = logits.argmax(-1)[:, None]
            ms = (time.perf_counter() - t0) / args.steps * 1000
        rows.append({"rows": b, "ms_per_step": ms, "ms_per_row_step": ms / b, "tokens_per_s": b * 1000 / ms})
        print(f"{b:>5} {ms:>8.0f} {ms / b:>12.1f} {b * 1000 / ms:>9.0f}", flush=True)
    out = {"model": m.identity.to_dict(), "torch_threads": torch.get_num_threads(), "machine": platform.processor(),
           "prompt_tokens": args.prompt_tokens, "steps": args.steps, "date": time.strftime("%Y-%m-%d"), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
