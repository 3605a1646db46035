"""The ``cotlens`` command: one module per command (its parser, its handler, the table it prints), listed in
``COMMANDS``.

Options are built from config dataclasses and each metric's arguments dataclass, with their docstrings as help
(``cotlens.options``). User errors (a bad argument, a malformed task file, an unknown model) print one line and
exit with code 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cotlens.cli import (
    claims,
    compare,
    episodes,
    experiment,
    guard_demo,
    inspect_episodes,
    monitor,
    report,
    run,
    serve,
    train,
    validate,
)
from cotlens.cli.common import Command, Parser
from cotlens.types import CotlensError

COMMANDS: tuple[Command, ...] = (
    run.COMMAND, report.COMMAND, compare.COMMAND, train.COMMAND, validate.COMMAND, monitor.COMMAND,
    inspect_episodes.COMMAND, episodes.COMMAND, guard_demo.COMMAND, experiment.COMMAND, claims.COMMAND,
    serve.COMMAND,
)
"""Every command, in the order ``cotlens --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="cotlens", description="Chain-of-thought faithfulness tests with confidence intervals.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for c in COMMANDS:
        c.add_arguments(sub.add_parser(c.name, help=c.help))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {c.name: c.handle for c in COMMANDS}[args.command]
    try:
        code = handler(args)
    except (CotlensError, OSError) as e:  # OSError: an unwritable --out, a vanished file: the user's setup
        print(f"cotlens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cotlens: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
