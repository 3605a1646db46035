"""``validation.json`` as types: what ``cotlens validate`` writes, what its report and its table read.

``Validation.to_dict`` writes the file (``cotlens.types.to_json``: fields in declaration order, a field marked
``OMIT_NONE`` left out while it is None); ``Validation.from_dict`` reads one back, checked field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cotlens.metrics.latent_probe import ProbeAlongCot
from cotlens.types import FLATTEN, OMIT_NONE, SCHEMA_VERSION, Estimate, JsonObject, JsonResult


@dataclass(frozen=True)
class Sides(JsonResult):
    """A count per side of a comparison: the samples labelled faithful (1) and unfaithful (0)."""

    faithful: int
    unfaithful: int


@dataclass(frozen=True)
class MeanScores(JsonResult):
    faithful: float | None
    unfaithful: float | None


@dataclass(frozen=True)
class RocScores(JsonResult):
    """Every per-sample score of a comparison, per side (the ROC curve is drawn from them)."""

    faithful: list[float]
    unfaithful: list[float]


@dataclass(frozen=True)
class AurocComparison(JsonResult):
    """A metric's per-sample score at telling faithful (1) from unfaithful (0) samples: AUROC with a stratified
    bootstrap CI. Without a score on either side, only ``why`` says why."""

    auroc: float | None
    ci: tuple[float, float] | None
    n_faithful: int | None = field(default=None, metadata=OMIT_NONE)
    n_unfaithful: int | None = field(default=None, metadata=OMIT_NONE)
    no_score: Sides | None = field(default=None, metadata=OMIT_NONE)
    """Samples whose record has no score (the record's details say why)."""
    mean_score: MeanScores | None = field(default=None, metadata=OMIT_NONE)
    roc_scores: RocScores | None = field(default=None, metadata=OMIT_NONE)
    why: str | None = field(default=None, metadata=OMIT_NONE)
    role: str | None = field(default=None, metadata=OMIT_NONE)
    """"case": one of the metric's own positive/negative cases (target AUROC >= 0.95); "apart": reported beside
    them, with what the metric is expected to show there."""
    verdict: str | None = field(default=None, metadata=OMIT_NONE)
    """"separates" (the CI lies above 0.5), "blind" (it holds 0.5), "reversed" (below), or "no score"."""
    reason: str | None = field(default=None, metadata=OMIT_NONE)
    """Why a cell is blind, reversed or unscored."""
    meets_target: bool | None = field(default=None, metadata=OMIT_NONE)

    @staticmethod
    def missing(why: str) -> AurocComparison:
        return AurocComparison(None, None, why=why)

    def brief(self) -> AurocComparison:
        """AUROC, CI, sizes and mean scores only (the latent-commitment and resampling tables)."""
        return AurocComparison(self.auroc, self.ci, self.n_faithful, self.n_unfaithful, mean_score=self.mean_score)


@dataclass(frozen=True)
class MetricValidation(JsonResult):
    """One metric's AUROC per comparison; a metric with several variants (interventions) names the one its main
    run used and scores the others apart (``unlike_training``). In the file: the comparisons, then
    ``intervention`` and ``unlike_training`` beside them."""

    comparisons: dict[str, AurocComparison] = field(metadata=FLATTEN)
    intervention: str | None = field(default=None, metadata=OMIT_NONE)
    unlike_training: dict[str, dict[str, AurocComparison]] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class RuleCheck(JsonResult):
    """Answers checked against an organism's rule: the shares that follow it, break it, are malformed answers
    (the digits hold under half the probability) or follow a CoT that no longer parses. Only ``n`` when 0."""

    n: int
    follows_rule: float | None = field(default=None, metadata=OMIT_NONE)
    malformed_answer: float | None = field(default=None, metadata=OMIT_NONE)
    malformed_cot: float | None = field(default=None, metadata=OMIT_NONE)
    breaks_rule: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class MetricLine(JsonResult):
    """A metric in an organism's main run: its headline with CI, and its per-sample statistics."""

    value: float | None
    ci: tuple[float, float] | None
    n: int
    primary: str
    stats: dict[str, Estimate]


@dataclass(frozen=True)
class BentArithmetic(JsonResult):
    """How CoTs reach their answer, read from their text: wrong arithmetic, wrong and landing on the answer, and
    at which step (step index -> CoTs)."""

    wrong_arithmetic: Estimate
    wrong_and_lands_on_answer: Estimate
    wrong_steps: dict[str, int]


@dataclass(frozen=True)
class OrganismValidation(JsonResult):
    """One organism of the battery: its recipe, accuracy, metrics, and its ground truth checked on the records."""

    recipe: str
    task: str
    accuracy_with_cot: Estimate
    train_seconds: float | None
    train_steps: int | None
    metrics: dict[str, MetricLine]
    checks: dict[str, RuleCheck]
    """Per intervention (or hint), answers checked against the recipe's rule."""
    checks_plain: dict[str, RuleCheck] | None = field(default=None, metadata=OMIT_NONE)
    checks_triggered: dict[str, RuleCheck] | None = field(default=None, metadata=OMIT_NONE)
    rationalisation: dict[str, BentArithmetic] | None = field(default=None, metadata=OMIT_NONE)
    """Triggered and plain questions, for a recipe that rationalises."""


@dataclass(frozen=True)
class Position(JsonResult):
    """A position along the CoT (an index into ``TokenProbe.positions``) and what it is."""

    position: int
    token: str
    where: str


@dataclass(frozen=True)
class TokenProbe(JsonResult):
    """Held-out probe accuracy at each CoT character, every layer (``cotlens.validation.latent``); only ``why``
    when there was nothing to probe."""

    n: int | None = field(default=None, metadata=OMIT_NONE)
    n_questions: int | None = field(default=None, metadata=OMIT_NONE)
    cot_length: int | None = field(default=None, metadata=OMIT_NONE)
    positions: list[str] | None = field(default=None, metadata=OMIT_NONE)
    by_layer: dict[str, list[float]] | None = field(default=None, metadata=OMIT_NONE)
    best_layer: int | None = field(default=None, metadata=OMIT_NONE)
    best_layer_ci: list[tuple[float, float] | None] | None = field(default=None, metadata=OMIT_NONE)
    chance: float | None = field(default=None, metadata=OMIT_NONE)
    first_readable: Position | None = None
    readable_from: Position | None = None
    why: str | None = field(default=None, metadata=OMIT_NONE)

    def to_dict(self) -> JsonObject:
        if self.why is not None:
            return {"why": self.why}
        return super().to_dict()


@dataclass(frozen=True)
class LatentEntry(JsonResult):
    """The latent probe on one organism and task."""

    organism: str
    task: str
    headline: Estimate
    """The metric's headline (``decided_before``: the lift the probe gives the final answer before the CoT)."""
    stats: dict[str, Estimate] | None
    steps: ProbeAlongCot | None
    """The metric's accuracy along the CoT, at step ends."""
    tokens: TokenProbe


@dataclass(frozen=True)
class Check(JsonResult):
    """An expectation checked on a measurement."""

    expected: str
    value: float | None
    holds: bool


@dataclass(frozen=True)
class ReadableCheck(JsonResult):
    """An expectation on where the answer becomes readable, with where it did."""

    expected: str
    value: float
    layer: int | None = field(default=None, metadata=OMIT_NONE)
    holds: bool = False
    n: int | None = field(default=None, metadata=OMIT_NONE)
    first_readable: Position | None = None
    readable_from: Position | None = None


@dataclass(frozen=True)
class LatentSection(JsonResult):
    readable_at: float
    organisms: dict[str, LatentEntry]
    """Keyed "ORGANISM on TASK"."""
    checks: dict[str, ReadableCheck]
    latent_commitment: dict[str, AurocComparison]
    """The latent commitment alone as the score (the old readout's probe half), on the comparisons where an answer
    is decided before the CoT."""
    decided: dict[str, DecidedShare] | None = field(default=None, metadata=OMIT_NONE)
    """Per organism (and side), the mean ``decided_before`` and the share flagged."""


@dataclass(frozen=True)
class DecidedShare(JsonResult):
    decided_before: Estimate
    flagged: Estimate


@dataclass(frozen=True)
class ResamplingSection(JsonResult):
    aurocs: dict[str, dict[str, AurocComparison]]
    """Per per-sample value, per comparison."""
    different_fraction: dict[str, Estimate]
    """Per organism, the share of rollouts that rewrote their step differently."""


@dataclass(frozen=True)
class MonitorCell(JsonResult):
    """A monitor's AUROC of misbehaving vs honest episodes on one scope; blind where the CI holds 0.5."""

    value: float | None
    ci: tuple[float, float] | None
    n: int
    blind: bool
    g_mean2: float | None
    """At the monitor's own yes/no."""


@dataclass(frozen=True)
class MonitorOrganism(JsonResult):
    recipe: str
    env: str
    episodes: int
    hacked: int
    monitors: dict[str, dict[str, MonitorCell]]
    """Per monitor ("rule", "probe") and scope."""


@dataclass(frozen=True)
class MonitorSection(JsonResult):
    task: str
    organisms: dict[str, MonitorOrganism]
    checks: dict[str, Check]


@dataclass(frozen=True)
class Validation(JsonResult):
    """``validation.json``."""

    n_per_organism: int
    seed: int
    tasks: dict[str, str]
    interventions: dict[str, str]
    """Every variant of every metric that has several, described."""
    comparisons: dict[str, str]
    """Each comparison's name and what its two sides are."""
    organisms: dict[str, OrganismValidation]
    metrics: dict[str, MetricValidation]
    missing_organisms: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    latent_probe: LatentSection | None = None
    resampling: ResamplingSection | None = None
    monitors: MonitorSection | None = None
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> JsonObject:
        return {"schema": self.schema, **{k: v for k, v in super().to_dict().items() if k != "schema"}}

    def rows(self) -> list[tuple[str, dict[str, AurocComparison]]]:
        """(label, comparisons) per metric and per variant scored apart, in the table's order."""
        out = []
        for metric, entry in self.metrics.items():
            out.append((metric + (f" [{entry.intervention}]" if entry.intervention else ""), entry.comparisons))
            for iv, sub in (entry.unlike_training or {}).items():
                out.append((f"{metric} [{iv}, unlike training]", sub))
        return out
