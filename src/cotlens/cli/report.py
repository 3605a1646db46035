"""``cotlens report DIR``: print a finished run's summary table and write its ``report.html`` again."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotlens.cli.common import Command


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="run directory")


def handle(args: argparse.Namespace) -> None:
    from cotlens.report.html import write_report
    from cotlens.report.table import format_table
    from cotlens.runs.finished import load_finished

    run = load_finished(Path(args.dir))
    print(format_table(run.summary))
    write_report(run.dir, run.summary, list(run.samples.values()), run.traces, run.records)


COMMAND = Command("report", "print a run's summary table and rewrite its report.html", add_arguments, handle)
