"""``cotlens inspect-episodes LOG --out FILE``: an Inspect log as episodes JSONL for ``cotlens monitor``
(``cotlens.integrations.inspect.log``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotlens.cli.common import Command


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", help="Inspect log file")
    p.add_argument("--out", required=True, help="episodes JSONL file to write")
    p.add_argument("--label-scorer", default="", help="the scorer whose value (1, C, true) marks misbehaviour "
                   "(default: each sample's 'misbehaved' metadata; a cotlens/hints log needs neither)")


def handle(args: argparse.Namespace) -> None:
    from cotlens.integrations.inspect.log import episodes_from_inspect_log
    from cotlens.monitors.episodes import write_episodes

    eps, spec = episodes_from_inspect_log(Path(args.log), args.label_scorer)
    write_episodes(Path(args.out), eps)
    print(f"{len(eps)} episodes ({sum(e.misbehaved is True for e in eps)} misbehaved) of {spec}: wrote {args.out}")


COMMAND = Command("inspect-episodes", "an Inspect log (.eval, .json) as episodes JSONL for cotlens monitor",
                  add_arguments, handle)
