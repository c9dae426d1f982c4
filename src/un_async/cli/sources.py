"""What ``run`` and ``batch`` execute: programs, input files and environment variables
from the command line.

A program comes from a file (language from ``-l``, else the file name's extension, else
its shebang), from ``-c CODE`` (``-l`` required) or from stdin (``-``). ``-l`` is
lower-cased and common aliases are accepted (:data:`LANGUAGE_ALIASES`: ``py``,
``js``/``node``, ``sh``, ``c++``, ``ts``, ``rs``). Problems with these arguments are usage
errors (exit status 2).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs
import click

__all__ = [
    "LANGUAGE_ALIASES",
    "Program",
    "environment_from",
    "input_files_from",
    "language_name",
    "program_from",
    "read_program",
]

LANGUAGE_ALIASES: Mapping[str, str] = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "sh": "bash",
    "c++": "cpp",
    "ts": "typescript",
    "rs": "rust",
}
"""Other names ``-l`` accepts, and the language each means."""

Detect = Callable[[str, "str | None"], "str | None"]
"""``detect(filename, source)``: the language, or ``None`` when unknown."""


@attrs.frozen(kw_only=True)
class Program:
    """Source code to run, its language and where it came from (for messages)."""

    language: str
    code: str
    origin: str


def _decode(data: bytes, origin: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise click.UsageError(f"{origin} is not UTF-8 text") from None


def language_name(given: str) -> str:
    """``-l``'s value as the language name backends use: stripped, lower-cased, aliases
    resolved (``Python`` -> ``python``, ``js`` -> ``javascript``)."""
    name = given.strip().lower()
    return LANGUAGE_ALIASES.get(name, name)


def _language(language: str | None, name: str, code: str, detect: Detect, origin: str) -> str:
    if language:
        return language_name(language)
    found = detect(name, code)
    if not found:
        raise click.UsageError(
            f"cannot tell the language of {origin} (from its extension or a shebang); "
            "pass -l LANGUAGE"
        )
    return found


def read_program(path: str, language: str | None, detect: Detect) -> Program:
    """The program in the file at ``path`` (``-``: stdin)."""
    if path == "-":
        code = _decode(sys.stdin.buffer.read(), "stdin")
        chosen = _language(language, "", code, detect, "stdin")
        return Program(language=chosen, code=code, origin="stdin")
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    code = _decode(data, path)
    return Program(
        language=_language(language, file.name, code, detect, path), code=code, origin=path
    )


def program_from(
    file: str | None, language: str | None, code: str | None, detect: Detect
) -> Program:
    """The program ``run`` was given: ``FILE``, ``-c CODE`` or ``-`` (stdin)."""
    if code is not None:
        if file is not None:
            raise click.UsageError("give either FILE or -c CODE, not both")
        if not language:
            raise click.UsageError("-c CODE needs -l LANGUAGE")
        return Program(language=language_name(language), code=code, origin="-c")
    if file is None:
        raise click.UsageError("give a FILE to run, -c CODE, or - to read the program from stdin")
    return read_program(file, language, detect)


def input_files_from(paths: Iterable[str]) -> dict[str, bytes]:
    """``-f PATH`` files by their base names (two with one base name: a usage error)."""
    files: dict[str, bytes] = {}
    for path in paths:
        name = os.path.basename(os.path.normpath(path))
        if name in files:
            raise click.UsageError(f"two input files are named {name!r}")
        try:
            files[name] = Path(path).read_bytes()
        except OSError as exc:
            raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return files


def environment_from(
    pairs: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``-e KEY=VALUE`` pairs; a bare ``-e KEY`` takes the value from this environment."""
    source = os.environ if environ is None else environ
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise click.UsageError(f"-e expects KEY=VALUE, got {pair!r}")
        if not sep:
            if key not in source:
                raise click.UsageError(f"-e {key}: no such variable in this environment")
            value = source[key]
        env[key] = value
    return env
