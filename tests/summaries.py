"""Tests read a run's summary as ``summary.json`` holds it: ``run_json`` is ``cotlens.runs.runner.run`` returning
``Summary.to_dict()`` (``test_runner`` checks that this equals the file)."""

from __future__ import annotations

from typing import Any

from cotlens.runs.config import RunConfig
from cotlens.runs.runner import run


def run_json(config: RunConfig, progress: bool = True) -> dict[str, Any]:
    return run(config, progress).to_dict()
