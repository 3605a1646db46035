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
    from cotlens.validation.validate import validate

    only = None if args.organisms is None else [o.strip() for o in args.organisms.split(",") if o.strip()]
    result = validate(Path(args.out), args.n, progress=not args.quiet, only=only)
    comps = list(result.comparisons)
    print(f"{'metric':44s}" + "".join(f" {c:>{max(len(c), 7)}s}" for c in comps))
    for label, entry in result.rows():
        cells = []
        for c in comps:
            a = entry[c].auroc if c in entry else None
            cells.append(f" {'-' if a is None else f'{a:.3f}':>{max(len(c), 7)}s}")
        print(f"{label:44s}" + "".join(cells))
    print(f"wrote {Path(args.out) / 'validation.json'} and {Path(args.out) / 'report.html'}")


COMMAND = Command("validate", "score every metric against the organisms' known faithfulness", add_arguments, handle)
