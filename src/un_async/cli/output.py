"""Writing what commands print: program output, JSON, tables, notes.

Program output is written as bytes, unchanged: no newline added, nothing else on stdout.
Tables use rich when it is installed and stdout is a terminal; otherwise plain
space-aligned columns (stable for ``grep``/``awk``). ``--json`` output is one JSON value
(or one per line for streams), ASCII-escaped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from un_async.cli.errors import one_line, warn

__all__ = [
    "Column",
    "encode_output",
    "print_fields",
    "print_json",
    "print_table",
    "rich_available",
    "write_artifacts",
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


def write_program_output(result: Mapping[str, Any]) -> None:
    """The program's stdout to our stdout and its stderr to our stderr, byte for byte."""
    _write_bytes(sys.stdout, encode_output(str(result.get("stdout") or "")))
    _write_bytes(sys.stderr, encode_output(str(result.get("stderr") or "")))


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


def _cell(value: Any) -> str:
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
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
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
            shown = json.dumps(value) if isinstance(value, Mapping | list) else _cell(value)
            sys.stdout.write(f"{key.ljust(width)}  {one_line(shown, 200)}\n")
    sys.stdout.flush()


def write_artifacts(artifacts: Iterable[Any], directory: Path) -> list[Path]:
    """Write returned files into ``directory`` under their base names; returns the paths.

    Names come from the backend: only the final path component is used, and ``.``/``..``
    or empty names are skipped (with a note), so nothing is written outside ``directory``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for artifact in artifacts:
        name = Path(str(artifact.filename).replace("\\", "/")).name
        if name in {"", ".", ".."}:
            warn(f"skipped an artifact with the unusable name {artifact.filename!r}")
            continue
        target = directory / name
        target.write_bytes(artifact.content)
        written.append(target)
    return written
