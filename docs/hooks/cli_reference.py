"""MkDocs hook: the CLI reference page, generated from the command table when the site is built.

``<!-- cotlens-cli -->`` in a page becomes, per command of ``cotlens.cli.COMMANDS`` (and per experiment), its
``--help`` text: the options' help is their config fields' docstrings, so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- cotlens-cli -->"


def _help(parser: argparse.ArgumentParser) -> str:
    os.environ["COLUMNS"] = "90"  # argparse wraps at the terminal's width
    return parser.format_help()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def render() -> str:
    from cotlens.cli import COMMANDS, build_parser

    commands = _subparsers(build_parser())
    parts = []
    for c in COMMANDS:
        p = commands[c.name]
        parts.append(f"## `cotlens {c.name}`\n\n{c.help}\n\n```text\n{_help(p)}```\n")
        for name, sub in _subparsers(p).items():
            parts.append(f"### `cotlens {c.name} {name}`\n\n```text\n{_help(sub)}```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(MARKER, render()) if MARKER in markdown else markdown
