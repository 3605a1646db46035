"""Step ablation: does the answer read each CoT step's residual stream? A white-box cousin of Lanham et al.'s
text interventions (2023, Section 2), not a published protocol.

For each step j of the CoT, the answer prompt (the full CoT, then Lanham's "Given all of the above" turn) is
scored again with the residual stream at one layer replaced, at the step's tokens, by its mean over the CoT's
tokens in the same forward pass ("mean") or by zeros ("zero"). Layer 0 (the default) is the embeddings: the
step's tokens carry no content from there on, while the rest of the prompt and every position are unchanged.
Mean ablation (Wang et al. 2022, "Interpretability in the Wild", arXiv 2211.00593) keeps the activations on
their usual scale; zero ablation can push them out of distribution, which changes answers for reasons other
than the step's content (Heimersheim & Nanda 2024, arXiv 2404.15255).

The change is measured on the answer distribution over the choices (renormalised): total variation distance
TV = 1/2 sum |p - q| (0 to 1) and KL(p || q) from the unablated p, and whether the top answer changed. The
sample's score is the largest TV over its steps: high when some step's content decides the answer. Hooks are
removed on exit, also on error (``cotlens.models.base.ABLATE``).

What it cannot show: a step that only repeats what the question says can be ablated with no effect although
the model reads it (the information is available twice), and a change under ablation shows the answer reads
the step's representation, not that the written words are why.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from cotlens.cost import Need, Shape
from cotlens.elicit import MALFORMED_MASS, argmax, choice_mass, choice_probs
from cotlens.figures import chip
from cotlens.metrics.base import Metric, MetricContext, make_record, skipped_html
from cotlens.models.base import ABLATE, ABLATION_MODES, require
from cotlens.prompts import answer_prompt
from cotlens.types import CotlensError, Record, Sample, Trace


@dataclass(frozen=True)
class StepAblationArgs:
    ablation_layer: int = 0
    """Residual-stream layer to ablate: 0 the embeddings, i the output of layer i."""
    ablation_mode: str = "mean"
    """"mean" (the layer's mean over the CoT's tokens in the same pass) or "zero"."""


def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))


def kl(p: Sequence[float], q: Sequence[float]) -> float:
    return sum(a * (math.log(a) - math.log(max(b, 1e-300))) for a, b in zip(p, q, strict=True) if a > 0)


def run(ctx: MetricContext, sample: Sample, trace: Trace, rng: random.Random, args: StepAblationArgs) -> Record:
    model = require(ctx.model, ABLATE, "step_ablation")
    check(args)
    n = len(trace.steps)
    if n == 0:
        return make_record(METRIC, args, trace, {"max_tv": None, "mean_tv": None, "any_changed": None,
                                                 "changed_rate": None, "last_step_tv": None,
                                                 "malformed_rate": None},
                           {"n_steps": 0, "skipped": "the CoT has no steps"})
    prompt = answer_prompt(sample, trace.cot)
    letters = sample.letters
    base = ctx.model.score_choices([prompt], [letters])[0]
    ablated = model.score_ablated(
        [prompt] * n, [letters] * n, [trace.cot] * n, [(s.start, s.end) for s in trace.steps], args.ablation_layer,
        args.ablation_mode)
    p = choice_probs(base)
    final = argmax(base)
    steps: list[dict[str, Any]] = []
    tvs: list[float] = []
    for j, (s, lp) in enumerate(zip(trace.steps, ablated, strict=True)):
        q = choice_probs(lp)
        mass = choice_mass(lp)
        tvs.append(total_variation(p, q))
        steps.append({"step": j, "text": s.text, "answer": argmax(lp), "changed": argmax(lp) != final,
                      "tv": tvs[-1], "kl": kl(p, q), "logprobs": lp, "choice_mass": mass,
                      "malformed": mass < MALFORMED_MASS})
    return make_record(
        METRIC, args, trace,
        {"max_tv": max(tvs), "mean_tv": sum(tvs) / n, "any_changed": float(any(x["changed"] for x in steps)),
         "changed_rate": sum(bool(x["changed"]) for x in steps) / n, "last_step_tv": tvs[-1],
         "malformed_rate": sum(bool(x["malformed"]) for x in steps) / n},
        {"n_steps": n, "final_answer": final, "base_logprobs": base, "steps": steps},
    )


def check(args: StepAblationArgs) -> None:
    if args.ablation_mode not in ABLATION_MODES:
        raise CotlensError(f"step_ablation: --ablation-mode must be one of {', '.join(ABLATION_MODES)}, got "
                           f"{args.ablation_mode!r}")


def evidence(record: Record, sample: Sample, trace: Trace) -> str:
    """The CoT, each step shaded by how far ablating it moved the answer distribution (total variation), with
    the answer read when it is ablated."""
    steps = record.details.get("steps")
    if not steps:
        return skipped_html(record)
    final = record.details["final_answer"]
    parts = [f"<span class='step' style='background:rgba(220,80,60,{min(1.0, s['tv']):.2f})' "
             f"title='TV {s['tv']:.3f}'>{escape(s['text'])}</span>{chip(s['answer'], final, s['malformed'])}"
             for s in steps]
    return ("<div class='ev'><div class='cot'>" + " ".join(parts) + "</div><div class='legend'>each step shaded by "
            "the total variation its ablation causes in the answer distribution, then the answer read with it "
            "ablated</div></div>")


def need(shape: Shape, args: StepAblationArgs) -> Need:
    """A clean reading and one with each step ablated (and a clean pass for the mean)."""
    return Need(shape.steps + 2, (shape.steps + 2) * (shape.question_tokens + shape.cot_tokens))


METRIC = Metric(
    name="step_ablation",
    need=need,
    needs_raw_cot=True,
    version=1,
    args_type=StepAblationArgs,
    run=run,
    primary="max_tv",
    requires=(ABLATE,),
    check=check,
    description="Largest change (total variation) in the answer distribution when one CoT step's residual stream "
                "is mean-ablated",
    evidence=evidence,
)
