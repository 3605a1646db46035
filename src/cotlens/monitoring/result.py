"""``monitor.json`` as a type: what ``cotlens monitor`` writes, what its report and its table read."""

from __future__ import annotations

from dataclasses import dataclass, field

from cotlens.monitors.evaluate import MonitorEvaluation
from cotlens.types import OMIT_NONE, JsonObject, JsonResult


@dataclass(frozen=True)
class MonitorResult(JsonResult):
    """``monitor.json``: written by ``MonitorRun.execute``, drawn by ``cotlens.monitoring.report`` and the
    command's table."""

    schema: int
    config: JsonObject
    """The ``MonitorConfig`` as given (``cotlens.options.as_dict``)."""
    episodes: int
    misbehaved: int
    behaviors: list[str]
    arms: dict[str, int]
    """Episodes per intervention arm."""
    run_model: str | None
    """The run's model spec, where the episodes came from a run directory."""
    results: dict[str, dict[str, MonitorEvaluation]]
    """Per monitor and scope: a monitor's spec, or ``SPEC [BEHAVIOUR]`` for a rubric's."""
    rubric: JsonObject | None = field(default=None, metadata=OMIT_NONE)
    """The rubric the LLM monitors read (``--rubric``): file, name, SHA-256 and text, each behaviour's SHA-256,
    and the prompt's version (``cotlens.monitoring.monitor.rubric_record``)."""
