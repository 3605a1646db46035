"""Monitors by spec: ``rule``, ``probe:SPEC``, or a model spec for an LLM monitor."""

from __future__ import annotations

from collections.abc import Callable

from cotlens.models.base import HIDDEN_STATES, Model, require
from cotlens.monitors.base import ModelMonitor, Monitor, RuleMonitor
from cotlens.monitors.probe import ProbeMonitor
from cotlens.prompts import MONITOR_PROMPTS


def make_monitor(spec: str, helper: Callable[[str], Model], seed: int = 0) -> Monitor:
    """``rule``; ``probe:SPEC``, a linear probe on SPEC's residual stream (``cotlens.monitors.probe``); or a
    model spec for an LLM monitor, ``SPEC~PROMPT`` to pick one of ``MONITOR_PROMPTS``. Models are loaded by
    ``helper``."""
    if spec == "rule":
        return RuleMonitor()
    if spec.startswith("probe:"):
        inner = spec.removeprefix("probe:")
        return ProbeMonitor(spec, require(helper(inner), HIDDEN_STATES, f"monitor {spec}"), seed=seed)
    model_spec, _, prompt = spec.partition("~")
    return ModelMonitor(spec, helper(model_spec), prompt or next(iter(MONITOR_PROMPTS)))
