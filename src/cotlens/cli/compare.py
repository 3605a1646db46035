"""``cotlens compare DIR DIR ... --out DIR``: the same metrics on two or more finished runs, paired on shared
samples (``cotlens.analysis.compare``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotlens.cli.common import Command


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR", help="finished run directories (at least two)")
    p.add_argument("--out", required=True, help="directory for compare.json and report.html")
    p.add_argument("--labels", default=None, help="comma-separated names for the runs (default: directory names)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the permutation test (default: 0)")


def handle(args: argparse.Namespace) -> None:
    from cotlens.analysis.compare import compare, format_compare

    labels = None if args.labels is None else [x.strip() for x in args.labels.split(",")]
    print(format_compare(compare(args.dirs, args.out, labels, args.seed)))
    print(f"wrote {Path(args.out) / 'compare.json'} and {Path(args.out) / 'report.html'}")


COMMAND = Command("compare", "the same metrics on two or more runs, paired on shared samples (the first run the "
                             "baseline)", add_arguments, handle)
