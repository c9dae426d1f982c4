"""Writing what commands print: program output, JSON, tables, notes.

Program output is written as bytes, unchanged: no newline added, nothing else on stdout;
when a result carries ``stdout_base64``/``stderr_base64`` (the exact bytes of a stream
that is not valid UTF-8) those bytes are written instead of the text. Tables use rich when
it is installed and stdout is a terminal; otherwise plain space-aligned columns (stable
for ``grep``/``awk``); times (``*_at`` keys holding epoch seconds) are shown as ISO-8601
UTC. ``--json`` output is one JSON value (or one per line for streams), ASCII-escaped,
with the values as received.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from un_async.cli.errors import one_line, warn

__all__ = [
    "Column",
    "encode_output",
    "format_time",
    "print_fields",
    "print_json",
    "print_table",
    "program_bytes",
    "rich_available",
    "write_program_output",
]

Column = tuple[str, str]
"""``(key, header)`` of a table column."""


def encode_output(text: str) -> bytes:
    """A program's output text as the bytes it wrote (UTF-8)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _binary(stream: IO[str]) -> IO[bytes] | None:
    return getattr(stream, "buffer", None)


def _write_bytes(stream: IO[str], data: bytes) -> None:
    if not data:
        return
    binary = _binary(stream)
    if binary is None:  # e.g. a test harness's text-only stream
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()
        return
    stream.flush()
    binary.write(data)
    binary.flush()


def program_bytes(result: Mapping[str, Any], stream: str) -> bytes:
    """What the program wrote to ``stream`` (``stdout``/``stderr``): the exact bytes of
    ``<stream>_base64`` when the result has them, else the text encoded as UTF-8."""
    exact = result.get(f"{stream}_base64")
    if isinstance(exact, str):
        try:
            return base64.b64decode(exact, validate=True)
        except (binascii.Error, ValueError):
            pass  # malformed: the text is the best there is
    return encode_output(str(result.get(stream) or ""))


def write_program_output(result: Mapping[str, Any], *, stderr: bool = True) -> None:
    """The program's stdout to our stdout and (unless ``stderr`` is False) its stderr to
    our stderr, byte for byte."""
    _write_bytes(sys.stdout, program_bytes(result, "stdout"))
    if stderr:
        _write_bytes(sys.stderr, program_bytes(result, "stderr"))


def print_json(value: Any, *, stream: IO[str] | None = None) -> None:
    """``value`` as one line of JSON."""
    out = stream or sys.stdout
    out.write(json.dumps(value, default=str) + "\n")
    out.flush()


def rich_available() -> bool:
    """True when the optional rich package can be imported."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


_MILLISECONDS_FROM = 10**11
"""Epoch values above this are milliseconds (10**11 s is the year 5138)."""


def format_time(value: Any) -> Any:
    """Epoch seconds (or milliseconds) as ISO-8601 UTC (``2025-01-02T03:04:05Z``);
    anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return value
    seconds = value / 1000 if value >= _MILLISECONDS_FROM else value
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return value
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any, key: str = "") -> str:
    if key.endswith("_at"):
        value = format_time(value)
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return one_line(str(value), 80)


def print_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, empty: str = "none"
) -> None:
    """``rows`` as a table of ``columns``; ``empty`` (on stderr) when there are none."""
    if not rows:
        warn(empty)
        return
    cells = [[_cell(row.get(key), key) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    if sys.stdout.isatty() and rich_available():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers, box=None, header_style="bold")
        for line in cells:
            table.add_row(*line)
        Console().print(table)
        return
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]
    for line in [headers, *cells]:
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        sys.stdout.write(text.rstrip() + "\n")
    sys.stdout.flush()


def print_fields(record: Mapping[str, Any], *, keys: Iterable[str] | None = None) -> None:
    """``key: value`` lines (``keys`` first, in order, then the rest)."""
    wanted = list(keys or ())
    ordered = wanted + [key for key in record if key not in wanted]
    width = max((len(key) for key in ordered if key in record), default=0)
    for key in ordered:
        if key in record:
            value = record[key]
            shown = json.dumps(value) if isinstance(value, Mapping | list) else _cell(value, key)
            sys.stdout.write(f"{key.ljust(width)}  {one_line(shown, 200)}\n")
    sys.stdout.flush()
