"""``cotlens run``: a battery of metrics on a model and task, resuming an existing ``--out``; a directory of
checkpoints runs as a series."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from cotlens.cli.common import Command, add_options, add_quiet, given
from cotlens.types import CotlensError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``RunConfig``'s options, then each metric's arguments in a group of its own."""
    from cotlens.metrics import METRICS
    from cotlens.runs.config import RunConfig

    seen = {"--help", "--quiet"}
    add_options(p, RunConfig, seen)
    for m in METRICS.values():
        if dataclasses.fields(m.args_type):
            add_options(p.add_argument_group(f"{m.name} options"), m.args_type, seen)
    add_quiet(p)


def config(ns: argparse.Namespace) -> Any:
    """The ``RunConfig`` the command line gives, with each metric's arguments; refuses empty or impossible ones."""
    from cotlens.metrics import METRICS
    from cotlens.runs.config import RunConfig

    args = {name: m.args_type(**kw) for name, m in METRICS.items() if (kw := given(ns, m.args_type))}
    cfg = RunConfig(**given(ns, RunConfig), args=args)
    if cfg.n < 1:
        raise CotlensError(f"--n must be at least 1, got {cfg.n}")
    if cfg.max_new_tokens < 1:
        raise CotlensError(f"--max-new-tokens must be at least 1, got {cfg.max_new_tokens}")
    for flag, value in (("--batch-size", cfg.batch_size), ("--concurrency", cfg.concurrency),
                        ("--max-tokens-total", cfg.max_tokens_total)):
        if value < 0:
            raise CotlensError(f"{flag} must be auto, 0 or more, got {value}" if flag != "--max-tokens-total"
                               else f"{flag} must be 0 (no limit) or more, got {value}")
    if cfg.max_memory and not cfg.device_map:
        raise CotlensError("--max-memory needs --device-map (auto, or a map)")
    if not cfg.metrics:
        raise CotlensError("--metrics is empty")
    if not cfg.out.strip():
        raise CotlensError("--out is empty: name a directory for the run")
    return cfg


def handle(args: argparse.Namespace) -> None:
    from cotlens.report.table import format_table
    from cotlens.runs.runner import run
    from cotlens.runs.series import format_series, run_series, series_specs

    cfg = config(args)
    if series_specs(cfg.model):
        print(format_series(run_series(cfg, progress=not args.quiet)))
        print(f"wrote {Path(args.out) / 'series.json'} and {Path(args.out) / 'report.html'}")
    else:
        summary = run(cfg, progress=not args.quiet)
        print(format_table(summary))
        print(f"wrote {Path(args.out) / 'summary.json'} and {Path(args.out) / 'report.html'}")


COMMAND = Command("run", "run metrics on a model and task (resumes an existing --out)", add_arguments, handle)
