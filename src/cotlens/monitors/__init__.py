"""Monitors: read an episode's CoT, action, or both, and score how suspicious it is (``base``); labelled episodes
as JSONL (``episodes``); how well a monitor separates misbehaving episodes (``evaluate``). ``cotlens monitor``
(``cotlens.runs.monitor``) runs them over a file of episodes or a finished run."""

from cotlens.monitors.base import SCOPES, ModelMonitor, Monitor, RuleMonitor, Suspicion, make_monitor

__all__ = ["SCOPES", "ModelMonitor", "Monitor", "RuleMonitor", "Suspicion", "make_monitor"]
