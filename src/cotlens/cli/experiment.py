"""``cotlens experiment NAME``: the experiments, one line each in ``EXPERIMENTS``. Each folder under
``cotlens.experiments`` says what it is through its ``EXPERIMENT`` (``cotlens.experiments.spec``)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from cotlens.cli.common import Command, Parser, add_config, given
from cotlens.experiments.spec import Experiment

EXPERIMENTS = ("pressure", "bad_finetune", "encoding", "bad_finetune_lora", "guard_demo")
"""The experiment folders under ``cotlens.experiments``, in the order ``--help`` lists them."""


def experiments() -> dict[str, Experiment]:
    """Each experiment by its command name."""
    specs = [importlib.import_module(f"cotlens.experiments.{m}").EXPERIMENT for m in EXPERIMENTS]
    return {e.name: e for e in specs}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="experiment", required=True, parser_class=Parser)
    for e in experiments().values():
        add_config(sub.add_parser(e.name, help=e.help), e.config, quiet=e.progress)


def run_experiment(e: Experiment, args: argparse.Namespace) -> None:
    """Run ``e`` with the options the command line gave, print its table and the files it wrote."""
    cfg = e.config(**given(args, e.config))
    print(e.format(e.run(cfg, not getattr(args, "quiet", False))))
    print("wrote " + " and ".join(str(Path(cfg.out) / f) for f in e.outputs))


def handle(args: argparse.Namespace) -> None:
    run_experiment(experiments()[args.experiment], args)


COMMAND = Command("experiment", "experiments that put models under a pressure and measure their CoTs",
                  add_arguments, handle)
