"""What an experiment tells the CLI about itself: ``cotlens experiment NAME`` builds its options from ``config``
(a dataclass whose field docstrings are the help), calls ``run``, prints ``format`` of the result and names the
files written under the config's ``out``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Experiment:
    """One experiment, as the command table lists it."""

    name: str
    """The command: ``cotlens experiment NAME``."""
    help: str
    config: type[Any]
    """The options dataclass (``cotlens.options``); it has an ``out`` directory."""
    run: Callable[[Any, bool], Any]
    """(config, show progress) -> the result, written under ``config.out`` as ``outputs`` name."""
    format: Callable[[Any], str]
    """The result as the table the command prints."""
    outputs: tuple[str, ...]
    """The files the run writes under ``out``."""
    progress: bool = True
    """The run shows progress bars (the command then takes ``--quiet``)."""
