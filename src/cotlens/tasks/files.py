"""Reading the text files users hand to cotlens: task files, hint types, human labels, word lists.

One reader for all of them, so that each accepts files as people have them:

- UTF-8, with or without a byte-order mark (spreadsheet programs write one when they export "CSV UTF-8");
  UTF-16 with its byte-order mark (Excel's "Unicode text") is decoded too, since the mark says what it is.
- Any other encoding (Latin-1, Windows-1252, ...) is refused, naming the file, the line, the column and the
  byte offset of the first byte that is not UTF-8, and how to convert it. Guessing an encoding would silently
  change the text a model is asked about, so cotlens never guesses.
- A spreadsheet workbook or other binary file given where text is expected is named as such.
- Lines end with ``\\n``, ``\\r\\n`` or ``\\r``. Nothing else ends a line: ``str.splitlines`` would also split on
  U+2028, U+0085 and form feeds, which a JSON string may hold unescaped.

Every error is a ``CotlensError`` of one line (``FILE:LINE: ...``), which the command line prints with exit
code 2.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from cotlens.types import CotlensError

_LINE_END = re.compile(r"\r\n|\r|\n")
_BINARY = (
    (b"PK\x03\x04", "a zip archive (an .xlsx or .ods workbook?): export the sheet as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls?): export the sheet as CSV UTF-8"),
    (b"PAR1", "a Parquet file: convert it to JSONL, or save it with datasets' save_to_disk"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
)


def read_text(path: Path, what: str = "file") -> str:
    """The text of a user's file (see the module docstring); ``what`` names the file in errors."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise CotlensError(f"{path}: is a directory, not a {what}") from None
    except OSError as e:
        raise CotlensError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    for magic, why in _BINARY:
        if data.startswith(magic):
            raise CotlensError(f"{path}: not a text {what}: {why}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise CotlensError(f"{path}: starts with a UTF-16 byte-order mark but is not UTF-16 "
                               f"(byte offset {e.start}); save it as UTF-8") from None
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = skip + e.start
        line = data.count(b"\n", 0, off) + 1
        col = off - (data.rfind(b"\n", 0, off) + 1) + 1
        raise CotlensError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[off]:02X} at byte offset {off}, column {col}); "
            f"save the {what} as UTF-8 (from Latin-1: iconv -f latin1 -t utf-8 '{path}' > '{path.stem}.utf8"
            f"{path.suffix}'; from Windows-1252: -f cp1252)") from None


def split_lines(text: str) -> list[str]:
    """``text`` split at ``\\n``, ``\\r\\n`` and ``\\r`` only; a last line ending is not a further empty line."""
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def text_lines(path: Path, what: str = "file") -> list[str]:
    """The lines of a user's text file (see ``read_text``), without their line ends."""
    return split_lines(read_text(path, what))


__all__ = ["read_text", "split_lines", "text_lines"]
