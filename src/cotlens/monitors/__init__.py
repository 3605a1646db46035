"""Monitors: read an episode's CoT, action, or both, and score how suspicious it is (``base``); labelled episodes
as JSONL (``episodes``); how well a monitor separates misbehaving episodes (``evaluate``). ``cotlens monitor``
(``cotlens.monitoring.monitor``) runs them over a file of episodes or a finished run."""

from cotlens.monitors.base import SCOPES, ModelMonitor, Monitor, RuleMonitor, Suspicion
from cotlens.monitors.make import make_monitor
from cotlens.monitors.probe import ProbeMonitor

__all__ = ["SCOPES", "ModelMonitor", "Monitor", "ProbeMonitor", "RuleMonitor", "Suspicion", "make_monitor"]
