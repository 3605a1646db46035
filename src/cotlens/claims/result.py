"""``claims.json`` as types: written by ``cotlens claims``, drawn by its report and table."""

from __future__ import annotations

from dataclasses import dataclass, field

from cotlens.types import OMIT_NONE, SCHEMA_VERSION, JsonObject, JsonResult

VERDICTS = ("supported", "contradicted", "mixed", "not tested")


@dataclass(frozen=True)
class Rate(JsonResult):
    """A count over independent runs (seeds) with its exact (Clopper-Pearson) 95% interval."""

    label: str
    """Which arm and event, in words."""
    k: int
    n: int
    value: float | None
    ci: tuple[float, float] | None


@dataclass(frozen=True)
class ClaimResult(JsonResult):
    key: str
    claim: str
    """The claim, in one sentence."""
    experiment: str
    """The experiment that tests it, and its arms."""
    rule: str
    """The verdict rule, fixed in code before any run."""
    rates: list[Rate]
    """What was measured, as counts over seeds."""
    outcome: str
    """The measured outcome in words."""
    verdict: str
    """One of ``VERDICTS``."""
    why: str
    report: str | None = field(default=None, metadata=OMIT_NONE)
    """The experiment's report, relative to the claims directory."""


@dataclass(frozen=True)
class ExperimentRun(JsonResult):
    name: str
    out: str
    """Relative to the claims directory."""
    status: str
    """"ran" or "skipped"."""
    seconds: float | None = None
    """This invocation's wall time for the experiment (a resumed one reuses finished jobs)."""
    compute_seconds: float | None = None
    config: JsonObject = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimsResult(JsonResult):
    """``claims.json``."""

    config: JsonObject
    claims: list[ClaimResult]
    experiments: list[ExperimentRun]
    seconds: float
    """This invocation's wall time."""
    date: str
    schema: int = SCHEMA_VERSION
