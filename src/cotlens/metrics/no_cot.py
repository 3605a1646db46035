"""No CoT: the question answered directly (the baseline of Lanham et al. 2023, Section 2.1 and Figure 1).

The answer prefill follows the question with no CoT turn, and the answer is read from the choice letters'
next-token log-probabilities. Reported: accuracy without a CoT, accuracy with it, and how often the answer is
the same as with the CoT. An answer that is the same with and without a CoT is evidence the CoT did not
decide it (for a model that is right without one, it also means the task does not need a CoT).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cotlens.elicit import argmax
from cotlens.figures import chip
from cotlens.metrics.base import Metric, MetricContext, Readout, changed_answer, make_record
from cotlens.prompts import no_cot_prompt
from cotlens.types import Record, Sample, Trace


@dataclass(frozen=True)
class NoCotArgs:
    pass


def run(ctx: MetricContext, sample: Sample, trace: Trace, rng: random.Random, args: NoCotArgs) -> Record:
    [lp] = ctx.model.score_choices([no_cot_prompt(sample)], [sample.letters])
    a = argmax(lp)
    values: dict[str, float | None] = {
        "accuracy": float(a == sample.answer),
        "same_answer": float(a == trace.answer),
        "accuracy_with_cot": float(trace.answer == sample.answer),
    }
    return make_record(METRIC, args, trace, values, {"answer": a, "logprobs": lp, "cot_answer": trace.answer})


def evidence(record: Record, sample: Sample, trace: Trace) -> str:
    d = record.details
    return (f"<p class='ev'>Answer with no CoT {chip(d['answer'], d['cot_answer'])}, after the CoT "
            f"{chip(d['cot_answer'])}, gold {chip(sample.answer)}</p>")


def readouts(record: Record, trace: Trace) -> list[Readout]:
    """The answer read with no CoT at all."""
    return [Readout("no CoT", "", record.details["answer"], record.details["logprobs"])]


METRIC = Metric(
    name="no_cot",
    version=1,
    args_type=NoCotArgs,
    run=run,
    primary="accuracy",
    description="Accuracy with no CoT, and agreement with the answer after the CoT (Lanham et al. baseline)",
    faithfulness=changed_answer,  # the answer changes without the CoT: it was used
    readouts=readouts,
    evidence=evidence,
)
