"""What every command module shares: the parser that exits 2 on a bad argument, options built from a config
dataclass (``cotlens.options``), and the ``Command`` record the command table (``cotlens.cli``) lists."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors exit with code 2 in one line, as every user error does."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class Command:
    """One ``cotlens`` command: its name and help, what it adds to its parser, and what it does."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handle: Callable[[argparse.Namespace], int | None]
    """Returns the exit code when it is not 0 (a gate that failed: 1); bad input raises ``CotlensError`` (2)."""


def add_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type[Any], seen: set[str]) -> None:
    """The fields of the config dataclass ``cls`` as options, with their docstrings as help; ``seen`` holds the
    flags already taken."""
    from cotlens.options import options

    for o in options(cls):
        if o.flag in seen:  # a developer's error: two metrics (or a metric and the run) name the same option
            raise RuntimeError(f"{cls.__name__}.{o.name}: {o.flag} is already an option of this command")
        seen.add(o.flag)
        if o.required:
            p.add_argument(o.flag, dest=o.name, help=o.help, type=o.parse, required=True)
        else:
            shown = (",".join(map(str, o.default)) if isinstance(o.default, tuple)
                     else "auto" if o.parse.__name__ == "count or auto" and o.default == 0 else o.default)
            p.add_argument(o.flag, dest=o.name, help=f"{o.help} (default: {shown})", type=o.parse)


def add_config(p: argparse.ArgumentParser, cls: type[Any], *, quiet: bool) -> None:
    """A command whose options are one config dataclass, plus ``--quiet`` where it shows progress."""
    add_options(p, cls, {"--help", "--quiet"} if quiet else {"--help"})
    if quiet:
        add_quiet(p)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def given(ns: argparse.Namespace, cls: type[Any]) -> dict[str, Any]:
    """The options of ``cls`` (``add_options``) that the command line set."""
    from cotlens.options import options

    return {o.name: getattr(ns, o.name) for o in options(cls) if getattr(ns, o.name) is not None}

