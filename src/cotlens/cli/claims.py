"""``cotlens claims --out DIR``: every seed-claim experiment at its defaults (or resumed), and a verdict per claim
(``cotlens.claims``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotlens.cli.common import Command, add_quiet


def add_arguments(p: argparse.ArgumentParser) -> None:
    from cotlens.claims.run import EXPERIMENTS

    p.add_argument("--out", required=True, help="output directory (an existing one is resumed)")
    p.add_argument("--quick", action="store_true",
                   help="every experiment tiny (2 seeds, a few steps): checks the machinery; its verdicts mean nothing")
    p.add_argument("--skip", default="", help=f"comma-separated experiments not to run ({', '.join(EXPERIMENTS)}); "
                                              "their claims are not tested")
    p.add_argument("--workers", type=int, default=0,
                   help="(arm, seed) jobs run at once, each on one thread (0: one per CPU core)")
    p.add_argument("--launcher", default="local",
                   help="where the jobs run: local (worker processes here) or submitit (Slurm, or its local executor)")
    add_quiet(p)


def handle(args: argparse.Namespace) -> None:
    from cotlens.claims.run import ClaimsConfig, claims, format_claims

    cfg = ClaimsConfig(out=args.out, quick=args.quick, skip=tuple(s.strip() for s in args.skip.split(",") if s.strip()),
                       workers=args.workers, launcher=args.launcher)
    print(format_claims(claims(cfg, not args.quiet)))
    print(f"wrote {Path(cfg.out) / 'claims.json'} and {Path(cfg.out) / 'claims.html'}")


COMMAND = Command("claims", "the seed's claims, each tested by its experiment (ten seeds an arm) and given a verdict "
                            "by a rule fixed in code", add_arguments, handle)
