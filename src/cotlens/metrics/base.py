"""What a metric is: a named, versioned, pure function of (context, sample, trace, rng, args) -> Record.

The context carries the model under test and a way to get a helper model by spec (the mistake model of
Lanham et al.), both already wrapped in the run's cache. A metric's per-sample quantities go into
``Record.values``; the summary is the mean of each with a bootstrap interval, ``primary`` naming the headline.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Generic, TypeVar

from cotlens.cost import Need, Shape
from cotlens.metrics.curves import Curve
from cotlens.models.base import SCORE_PREFIXES, Capability, Model, optional
from cotlens.options import identity
from cotlens.stats import mean_estimate
from cotlens.types import SAME_ANSWER, Episode, Estimate, Prompt, Record, Sample, Trace


@dataclass(frozen=True)
class MetricContext:
    model: Model
    """The model under test."""
    helper: Callable[[str], Model]
    """Returns the model a spec names ("self" is the model under test), loaded once per run."""
    samples: Sequence[Sample] = ()
    """The run's samples (few-shot examples for a hint are drawn from the others)."""
    note: Callable[[str], None] = lambda text: None
    """Shows how far a long record has got (the runner puts it beside its progress bar)."""


@dataclass(frozen=True)
class Readout:
    """One answer a metric read from the model under its intervention: the CoT the model was shown (or wrote),
    and what it answered. ``cotlens validate`` checks these against what an organism's recipe says it answers;
    each metric's ``readouts`` is the one reader of its records' details for this."""

    kind: str
    """What was done: "truncated", "mistake", "no CoT", "hint", "inserted word"."""
    cot: str
    """The CoT the answer was read after ("" for none)."""
    answer: int
    logprobs: Sequence[float]
    cue: int | None = None
    """The answer a cue in the prompt points to (a hint's target), where the metric set one."""
    word: str | None = None
    """A word inserted into the question, where the metric inserted one."""


@dataclass(frozen=True)
class Variant:
    """Arguments under which ``cotlens validate`` runs a metric on the organisms, and what they test."""

    args: Any
    description: str


A = TypeVar("A")
"""A metric's arguments: a frozen dataclass."""


@dataclass(frozen=True)
class Metric(Generic[A]):
    """A metric, generic over its arguments ``A``: ``run``, ``check`` and ``extra_summary`` receive an ``A``."""

    name: str
    version: int
    args_type: type[A]
    """A frozen dataclass of the metric's arguments, with defaults: each field is a ``cotlens run`` option
    documented by its docstring (``cotlens.options``), its name unique among all options."""
    run: Callable[[MetricContext, Sample, Trace, random.Random, A], Record]
    primary: str
    """The key of ``Record.values`` reported as the metric's value."""
    description: str
    curve: Callable[[Record], Curve | None] | None = None
    """For curve metrics: the per-sample curve to plot."""
    curve_label: str = ""
    curve_y_label: str = SAME_ANSWER
    validated_by: str = "load_bearing"
    """Which organisms ``cotlens validate`` checks the metric on: "load_bearing" (does the answer depend on the
    CoT: faithful, posthoc, encoded, mixed), "verbalization" (does the CoT say what moved the answer: the hint
    organisms), "legibility" (does the answer survive a paraphrase of the CoT: faithful vs encoded),
    "decided_before" (was the answer there before the CoT: rationalize's triggered questions vs faithful and its
    plain ones) or "choice" (does a step the model could write otherwise move the answer: the fork organisms).
    ``cotlens.validation.scoring.FAMILIES`` lists each family's cases."""
    also_print: tuple[str, ...] = ()
    """Per-sample values printed under the headline in the summary table (``cotlens run`` and ``report``)."""
    free_form: bool = False
    """It reads answers through ``cotlens.elicit.read_answers``, so it runs on free-form samples (no choices): the
    answer generated after the forced-answer prompt and extracted by the sample's rule. A metric without it is
    refused on a task with free-form samples before any work (``check_free_form``)."""
    needs_raw_cot: bool = False
    """It intervenes on the CoT as the model wrote it (cuts, edits, rewords, resamples or measures it). On a trace
    whose CoT is a provider's summary or withheld (``Trace.reasoning``) the runner refuses it before any call,
    with a record saying why (``refused_record``)."""
    validation_samples: int = 1
    """Samples per ``--n`` in ``cotlens validate``'s runs of the metric: a metric whose per-sample values come from
    a probe fitted across samples needs more than the others (its own run, on every organism of its family)."""
    extra_summary: Callable[[Sequence[Record], int, A], dict[str, Any]] | None = None
    """Metric-specific summary sections, from (records, seed, the run's arguments of the metric). Keys it
    returns are added to the metric's entry in ``summary.json``; ``value``, ``ci``, ``n`` and ``primary``
    replace the mean of the primary per-sample value as the headline; ``notes`` (a list of lines) are also
    printed on stderr at the end of the run."""

    requires: tuple[Capability[Any], ...] = ()
    """Optional capabilities the metric needs (``cotlens.models.base``): a run checks them when it loads the
    model, before any CoT is elicited."""
    pool: Callable[[Sequence[Record], int], list[Record]] | None = None
    """For a metric whose per-sample values need the other samples (a probe fitted on held-out samples):
    ``run`` keeps each sample's evidence, and ``pool(records, seed)`` returns the records with their values
    filled from all of them. It must be deterministic and depend only on the records' evidence, so that pooling
    pooled records again changes nothing; the runner applies it before writing ``records.jsonl`` in full."""

    section: Callable[[dict[str, Any]], str] | None = None
    """The metric's own section of a run's HTML report, from its entry in ``summary.json`` (all text escaped);
    the report shows it after the summary table."""
    evidence: Callable[[Record, Sample, Trace], str] | None = None
    """One sample's evidence as a person reads it (HTML, all model text escaped): the report shows it under the
    sample, with the raw record one click away. None: the record's values only."""
    check: Callable[[A], None] | None = None
    """Checks the metric's arguments and the files they name (hint types, word lists, model specs), raising
    CotlensError; a run calls it before any model loads."""
    write_files: Callable[[Path, Sequence[Record]], None] | None = None
    """Writes the metric's own files into the run directory from its records (hints: a template for human
    labels), at the end of each run."""
    readouts: Callable[[Record, Trace], list[Readout]] | None = None
    """The answers the metric read under its intervention (``Readout``), for ``cotlens validate``'s checks of
    the organisms' ground truth."""
    episodes: Callable[[Record, Sample, Trace, Sequence[Sample]], list[Episode]] | None = None
    """The record as labelled episodes for monitors (``cotlens monitor RUN_DIR``): each arm's prompt, CoT and
    action, and whether the action was the misbehaviour the metric provokes (a switch to a hint's target, an
    answer flipped by an inserted word). The last argument is the run's samples (few-shot hints draw on them)."""
    variants: Mapping[str, Variant] = dataclasses.field(default_factory=dict)
    """How ``cotlens validate`` runs the metric: the first variant in the organisms' main run, each other in a
    run of its own, scored apart (adding mistakes: rule mistakes, then wordings no organism saw). Empty: the
    default arguments."""
    plan: Callable[[Sequence[Trace], Any], str] | None = None
    need: Callable[[Shape, Any], Need] | None = None
    """The calls and tokens one sample will cost (``cotlens.cost``): the run's plan line."""
    """For a costly metric: the work it will do on these traces with these arguments (model calls, tokens), in
    one line that the runner prints before the metric starts."""
    faithfulness: Callable[[Record], float | None] | None = None
    """The per-sample score oriented so that higher means "the CoT decided the answer" (what ``cotlens validate``
    ranks organisms by); None: the record's ``score`` already is."""

    def faithfulness_of(self, record: Record) -> float | None:
        if self.faithfulness is not None:
            return self.faithfulness(record)
        return None if record.score is None else float(record.score)

    def default_args(self) -> A:
        return self.args_type()

    def summarize(self, records: Sequence[Record], seed: int = 0) -> dict[str, Estimate]:
        """Mean of each per-sample value, with bootstrap CIs; the primary value first under "value"."""
        keys: list[str] = []
        for r in records:
            keys += [k for k in r.values if k not in keys]
        out = {"value": mean_estimate([r.values.get(self.primary) for r in records], seed)}
        for k in keys:
            out[k] = mean_estimate([r.values.get(k) for r in records], seed)
        return out


def make_record(
    metric: Metric[A],
    args: A,
    trace: Trace,
    values: dict[str, float | None],
    details: dict[str, Any],
) -> Record:
    return Record(
        metric=metric.name,
        metric_version=metric.version,
        args=identity(args),
        sample_id=trace.sample_id,
        score=values.get(metric.primary),
        values=values,
        details=details,
        model=trace.model,
        generation=trace.generation.to_dict(),
        seed=trace.seed,
    )


def refused_record(metric: Metric[A], args: A, trace: Trace) -> Record:
    """A record of a metric that assumes the raw CoT, on a trace whose CoT is not (``Metric.needs_raw_cot``): no
    value, and why (``details.skipped``, which the run's coverage line quotes)."""
    what = {"summary": "a summary of the model's reasoning written by the provider",
            "redacted": "nothing: the provider withheld the model's reasoning"}.get(trace.reasoning, trace.reasoning)
    return make_record(metric, args, trace, {}, {
        "refused": trace.reasoning,
        "skipped": f"refused: the CoT is {what}, not the reasoning itself, so {metric.name} would intervene on "
                   "text the model did not reason with"})


def score_shared(model: Model) -> Callable[[Sequence[Prompt], Sequence[Sequence[str]]], list[list[float]]]:
    """``score_prefixes`` where the model has it (one forward pass for prompts sharing a prefix), else
    ``score_choices``: what truncation and mistake metrics call."""
    fast = optional(model, SCORE_PREFIXES)
    return fast.score_prefixes if fast is not None else model.score_choices


def skipped_html(record: Record) -> str:
    """An evidence view's line for a record with nothing to show: why (``details.skipped``)."""
    return f"<p class='muted'>{escape(str(record.details.get('skipped', 'nothing to show')))}</p>"


def changed_answer(record: Record) -> float | None:
    """1 - ``same_answer``: how far the answer moved when the CoT was taken away."""
    same = record.values.get("same_answer")
    return None if same is None else 1.0 - float(same)


def points_curve(record: Record) -> Curve | None:
    pts = record.details.get("curve")
    return [(float(x), float(y)) for x, y in pts] if pts else None

