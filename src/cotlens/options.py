"""Options from dataclasses: each field of an options dataclass is a command-line option, documented once.

A field's documentation is the string literal under it (an attribute docstring), read from the class's source;
its flag is ``--`` and the field name with ``-`` for ``_``; its type (int, float, str, ``str | None`` or a
tuple of one of these, given comma-separated) parses the value. Field metadata says the rest:

- ``{"cli": False}``: not an option (a version number the code sets);
- ``{"identity": False}``: not part of a run's identity nor of its records' ``args`` (a file read only to
  summarise, such as human labels, which a user may add to a finished run).

``RunConfig`` and every metric's arguments are built this way, so ``cotlens run --help`` says what each
docstring says.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cotlens.types import JsonObject

_DOCS: dict[type[Any], dict[str, str]] = {}


def field_docs(cls: type[Any]) -> dict[str, str]:
    """The attribute docstrings of a class's fields (the string under each annotated assignment), as one line
    each; {} when the source is not available."""
    if cls not in _DOCS:
        _DOCS[cls] = _read_docs(cls)
    return _DOCS[cls]


def _read_docs(cls: type[Any]) -> dict[str, str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # no source (a frozen build): options go without help
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:], strict=False):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.replace("``", "").split())
    return docs


def _scalar(tp: Any) -> Any:
    """``X | None`` -> X."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _tuple_of(elem: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(s: str) -> tuple[Any, ...]:
        return tuple(elem(x.strip()) for x in s.split(",") if x.strip())

    parse.__name__ = f"comma-separated {getattr(elem, '__name__', 'value')}"
    return parse


@dataclass(frozen=True)
class Option:
    name: str
    """The dataclass field."""
    flag: str
    """``--name-with-dashes``."""
    parse: Callable[[str], Any]
    """From the command line's text to the field's type."""
    default: Any
    """The field's default; ``dataclasses.MISSING`` for a required option."""
    help: str

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def options(cls: type[Any]) -> list[Option]:
    """The command-line options of an options dataclass, in field order."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init or not f.metadata.get("cli", True):
            continue
        tp = _scalar(hints[f.name])
        parse = f.metadata.get("parse") or (_tuple_of(typing.get_args(tp)[0]) if typing.get_origin(tp) is tuple
                                            else tp)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        out.append(Option(f.name, "--" + f.name.replace("_", "-"), parse, default, docs.get(f.name, "")))
    return out


def auto_int(s: str) -> int:
    """An option's count, or ``auto`` (0: the command chooses, as the option's help says)."""
    if s.strip().lower() == "auto":
        return 0
    return int(s)


auto_int.__name__ = "count or auto"


def as_dict(obj: Any, keep: Callable[[dataclasses.Field[Any]], bool] = lambda f: True) -> JsonObject:
    """An options dataclass as JSON-ready data (tuples as lists), the fields ``keep`` keeps."""
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if keep(f)}


def in_identity(f: dataclasses.Field[Any]) -> bool:
    """Whether a field is part of a run's identity (not marked ``identity: False``)."""
    return bool(f.metadata.get("identity", True))


def identity(obj: Any) -> JsonObject:
    """An options dataclass as JSON-ready data, without its ``identity: False`` fields (tuples as lists)."""
    return as_dict(obj, in_identity)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


__all__ = ["Option", "as_dict", "auto_int", "field_docs", "identity", "in_identity", "options"]
