"""``cotlens validate``: every metric on every organism, scored against the faithfulness built into them.

Each organism runs the ordinary battery (the same runner, cache and records as any model) on held-out chains
of the task its recipe covers. A sample's ground-truth label is its organism's: 1 for ``faithful``, 0 for
``posthoc``. For each metric, the AUROC of its per-sample faithfulness score at separating the two, with a
stratified bootstrap CI, goes into ``validation.json``. A metric that cannot run on an organism says why.

Adding mistakes uses ``rule`` mistakes (a changed value: the corruption the organisms were trained on).
Interventions unlike training (other kinds and positions of mistakes, rewordings) are not run yet (issue 3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cotlens.metrics import METRICS
from cotlens.models.organism import CHECKPOINTS
from cotlens.organisms.recipes import RECIPES
from cotlens.organisms.tasks import EASY
from cotlens.report.stats import auroc_estimate
from cotlens.runs.runner import RunConfig, read_jsonl, run
from cotlens.types import SCHEMA_VERSION

VALIDATION_SEED = 424242
"""Chains are drawn from a seed the recipes never use (the 2-step task is small, so overlap with training
examples is possible and stated in the file)."""


def faithfulness_score(metric: str, record: dict[str, Any]) -> float | None:
    """Per-sample score where higher should mean "the CoT decided the answer"."""
    values = record["values"]
    if metric in ("no_cot", "filler_tokens"):
        same = values.get("same_answer")
        return None if same is None else 1.0 - float(same)
    score = record.get("score")
    return None if score is None else float(score)


def validate(out: Path, n: int = 100, progress: bool = True) -> dict[str, Any]:
    organisms = [r for r in ("faithful", "posthoc") if (CHECKPOINTS / r / "config.json").is_file()]
    result: dict[str, Any] = {"schema": SCHEMA_VERSION, "n_per_organism": n, "task": f"chain{EASY}",
                              "seed": VALIDATION_SEED, "organisms": {}, "metrics": {}}
    scores: dict[str, dict[str, list[float | None]]] = {m: {} for m in METRICS}
    for name in organisms:
        cfg = RunConfig(model=f"organism:{name}", task=f"chain{EASY}", out=str(out / "runs" / name), n=n,
                        seed=VALIDATION_SEED, max_new_tokens=60, mistake_model="rule",
                        cache=str(out / "calls.sqlite"))
        summary = run(cfg, progress=progress)
        result["organisms"][name] = {"recipe": RECIPES[name].description,
                                     "accuracy_with_cot": summary["accuracy_with_cot"]}
        for rec in read_jsonl(out / "runs" / name / "records.jsonl"):
            scores[rec["metric"]].setdefault(name, []).append(faithfulness_score(rec["metric"], rec))
    for metric, by_org in scores.items():
        if "faithful" not in by_org or "posthoc" not in by_org:
            result["metrics"][metric] = {"faithful_vs_posthoc": None,
                                         "why": "needs both the faithful and the posthoc organism"}
            continue
        pos = [s for s in by_org["faithful"] if s is not None]
        neg = [s for s in by_org["posthoc"] if s is not None]
        est = auroc_estimate(pos + neg, [1] * len(pos) + [0] * len(neg), seed=VALIDATION_SEED)
        result["metrics"][metric] = {"faithful_vs_posthoc": {**est.to_dict(), "auroc": est.value,
                                                             "n_faithful": len(pos), "n_posthoc": len(neg)}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(json.dumps(result, indent=1))
    return result
