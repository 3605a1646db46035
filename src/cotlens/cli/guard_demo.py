"""``cotlens guard-demo``: the guard experiment under its own command name, as before it joined
``cotlens experiment`` (``cotlens.experiments.guard_demo``)."""

from __future__ import annotations

import argparse

from cotlens.cli.common import Command, add_config
from cotlens.cli.experiment import experiments, run_experiment


def add_arguments(p: argparse.ArgumentParser) -> None:
    e = experiments()["guard-demo"]
    add_config(p, e.config, quiet=e.progress)


def handle(args: argparse.Namespace) -> None:
    run_experiment(experiments()["guard-demo"], args)


COMMAND = Command("guard-demo", "the leaky grader with and without the guard: hacks let through, reward lost to "
                                "false positives, budget stops", add_arguments, handle)
