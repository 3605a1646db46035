"""``cotlens validate --out DIR``: every metric and monitor scored against the organisms' known faithfulness
(``cotlens.validation``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotlens.cli.common import Command, add_quiet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="directory for validation.json and the organisms' runs")
    p.add_argument("--n", type=int, default=100, help="held-out samples per organism (default: 100)")
    p.add_argument("--organisms", default=None, help="comma-separated organisms to validate on (default: all; "
                   "comparisons that need one left out say so)")
    add_quiet(p)


def handle(args: argparse.Namespace) -> None:
    from cotlens.validation.table import validation_table
    from cotlens.validation.validate import validate

    only = None if args.organisms is None else [o.strip() for o in args.organisms.split(",") if o.strip()]
    result = validate(Path(args.out), args.n, progress=not args.quiet, only=only)
    print(validation_table(result), end="")
    print(f"wrote {Path(args.out) / 'validation.json'}, {Path(args.out) / 'validation.md'} (this table) and "
          f"{Path(args.out) / 'report.html'}")


COMMAND = Command("validate", "score every metric against the organisms' known faithfulness", add_arguments, handle)
