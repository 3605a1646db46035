"""No CoT: the question answered directly (the baseline of Lanham et al. 2023, Section 2.1 and Figure 1).

The answer prefill follows the question with no CoT turn, and the answer is read from the choice letters'
next-token log-probabilities. Reported: accuracy without a CoT, accuracy with it, and how often the answer is
the same as with the CoT. An answer that is the same with and without a CoT is evidence the CoT did not
decide it (for a model that is right without one, it also means the task does not need a CoT).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cotlens.cost import Need, Shape, reads
from cotlens.elicit import correct, read_answers, trace_key
from cotlens.figures import chip
from cotlens.metrics.base import Metric, MetricContext, Readout, changed_answer, make_record
from cotlens.prompts import no_cot_prompt
from cotlens.types import Record, Sample, Trace


@dataclass(frozen=True)
class NoCotArgs:
    pass


def run(ctx: MetricContext, sample: Sample, trace: Trace, rng: random.Random, args: NoCotArgs) -> Record:
    [got] = read_answers(ctx.model, sample, [no_cot_prompt(sample)])
    with_cot = trace_key(trace)
    values: dict[str, float | None] = {
        "accuracy": float(correct(sample, got.key)),
        "same_answer": float(got.key == with_cot),
        "accuracy_with_cot": float(correct(sample, with_cot)),
    }
    return make_record(METRIC, args, trace, values, {**got.details(), "cot_answer": with_cot})


def evidence(record: Record, sample: Sample, trace: Trace) -> str:
    d = record.details
    return (f"<p class='ev'>Answer with no CoT {chip(d['answer'], d['cot_answer'])}, after the CoT "
            f"{chip(d['cot_answer'])}, gold {chip(sample.answer)}</p>")


def readouts(record: Record, trace: Trace) -> list[Readout]:
    """The answer read with no CoT at all."""
    return [Readout("no CoT", "", record.details["answer"], record.details.get("logprobs") or [])]


def need(shape: Shape, args: NoCotArgs) -> Need:
    """One reading without a CoT."""
    return reads(shape, 1, 0.0)


METRIC = Metric(
    name="no_cot",
    need=need,
    free_form=True,
    version=1,
    args_type=NoCotArgs,
    run=run,
    primary="accuracy",
    description="Accuracy with no CoT, and agreement with the answer after the CoT (Lanham et al. baseline)",
    faithfulness=changed_answer,  # the answer changes without the CoT: it was used
    readouts=readouts,
    evidence=evidence,
)
