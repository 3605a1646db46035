"""``series.json`` as types: what a series of checkpoints writes, what its report and its table read."""

from __future__ import annotations

from dataclasses import dataclass

from cotlens.types import SCHEMA_VERSION, Estimate, JsonResult


@dataclass(frozen=True)
class Headline(JsonResult):
    """A metric's headline at one step, with what it measures."""

    value: float | None
    ci: tuple[float, float] | None
    n: int
    primary: str

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, self.ci, self.n)


@dataclass(frozen=True)
class SeriesStep(JsonResult):
    step: int
    model: str
    dir: str
    """The step's run directory, relative to the series'."""
    accuracy_with_cot: Estimate
    metrics: dict[str, Headline]


@dataclass(frozen=True)
class SeriesResult(JsonResult):
    """``series.json``: written by ``run_series``, drawn by ``series_report`` and ``format_series``. Schema 2
    added ``schema``; nothing else changed."""

    model: str
    steps: list[SeriesStep]
    schema: int = SCHEMA_VERSION
