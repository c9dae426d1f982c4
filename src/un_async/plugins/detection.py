"""Built-in language detection: file extension first, then the shebang line.

The extension map is the union of the reference clients' maps (spec §7.2) plus ``.scala``,
``.ps1`` and ``.awk``, compared case-insensitively on the last suffix of the file's base
name (``.py`` alone counts, as in the reference clients; ``.bashrc`` maps to nothing). When
the extension is unknown, only the first line of ``source`` is consulted:
``#!/path/to/interp`` or ``#!/usr/bin/env [options] interp``, with version digits stripped
from the interpreter (``python3.11`` is ``python``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from un_async.core.hookspecs import hookimpl

__all__ = ["EXTENSIONS", "INTERPRETERS", "detect", "detect_language", "language_from_shebang"]

EXTENSIONS: Mapping[str, str] = MappingProxyType({
    "py": "python", "js": "javascript", "ts": "typescript", "rb": "ruby", "php": "php",
    "pl": "perl", "sh": "bash", "r": "r", "lua": "lua", "go": "go", "rs": "rust", "c": "c",
    "cpp": "cpp", "cc": "cpp", "cxx": "cpp", "java": "java", "kt": "kotlin", "m": "objc",
    "cs": "csharp", "fs": "fsharp", "hs": "haskell", "ml": "ocaml", "clj": "clojure",
    "scm": "scheme", "ss": "scheme", "erl": "erlang", "ex": "elixir", "exs": "elixir",
    "jl": "julia", "d": "d", "nim": "nim", "zig": "zig", "v": "v", "cr": "crystal",
    "dart": "dart", "groovy": "groovy", "f90": "fortran", "f95": "fortran",
    "lisp": "commonlisp", "lsp": "commonlisp", "cob": "cobol", "tcl": "tcl", "raku": "raku",
    "pro": "prolog", "p": "prolog", "4th": "forth", "forth": "forth", "fth": "forth",
    "scala": "scala", "ps1": "powershell", "awk": "awk",
})
"""Lower-case extension (without the dot) → service language."""

INTERPRETERS: Mapping[str, str] = MappingProxyType({
    "python": "python", "pypy": "python", "node": "javascript", "nodejs": "javascript",
    "deno": "deno", "ts-node": "typescript", "sh": "bash", "bash": "bash", "dash": "bash",
    "zsh": "bash", "ruby": "ruby", "perl": "perl", "perl6": "raku", "raku": "raku",
    "rakudo": "raku", "php": "php", "lua": "lua", "tclsh": "tcl", "wish": "tcl",
    "julia": "julia", "rscript": "r", "groovy": "groovy", "scala": "scala",
    "elixir": "elixir", "escript": "erlang", "ocaml": "ocaml", "guile": "scheme",
    "scheme": "scheme", "sbcl": "commonlisp", "clisp": "commonlisp", "pwsh": "powershell",
    "powershell": "powershell", "awk": "awk", "gawk": "awk", "mawk": "awk", "nawk": "awk",
    "crystal": "crystal", "dart": "dart", "runghc": "haskell", "runhaskell": "haskell",
})
"""Interpreter name (lower-case, version stripped) → service language."""

_VERSION_SUFFIX = re.compile(r"[0-9._-]+$")
_ENV_OPTIONS_WITH_ARGUMENT = frozenset({"-u", "--unset", "-C", "--chdir", "-P"})


def _extension(filename: str) -> str | None:
    """The lower-cased last suffix of the base name, or ``None``. A name that is only a
    suffix (``.py``) has one, as in the reference clients; ``.bashrc``'s is no language."""
    base = re.split(r"[\\/]", filename)[-1]
    _, dot, suffix = base.rpartition(".")
    if not dot or not suffix:
        return None
    return suffix.lower()


def _program(words: list[str]) -> str | None:
    """The interpreter path named by the shebang's words, looking through ``env``."""
    if not words:
        return None
    if _basename(words[0]) != "env":
        return words[0]
    rest = iter(words[1:])
    for arg in rest:
        if arg == "--":
            return next(rest, None)
        if arg in _ENV_OPTIONS_WITH_ARGUMENT:
            next(rest, None)
        elif arg.startswith("-S") and len(arg) > 2:
            return arg[2:]
        elif not arg.startswith("-") and "=" not in arg:
            return arg
    return None


def _basename(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2]


def language_from_shebang(source: str) -> str | None:
    """The language named by the shebang on the first line of ``source``, else ``None``.

    Nothing after the first line is read.
    """
    first_line = source.removeprefix("\ufeff").split("\n", 1)[0].rstrip("\r")
    if not first_line.startswith("#!"):
        return None
    program = _program(first_line[2:].split())
    if program is None:
        return None
    name = _basename(program).lower().removesuffix(".exe")
    return INTERPRETERS.get(name) or INTERPRETERS.get(_VERSION_SUFFIX.sub("", name))


def detect(filename: str, source: str | None = None) -> str | None:
    """The language of ``filename``: by extension, else by ``source``'s shebang, else None."""
    extension = _extension(filename)
    language = EXTENSIONS.get(extension) if extension else None
    if language is None and source:
        language = language_from_shebang(source)
    return language


@hookimpl(trylast=True)
def detect_language(filename: str, source: str | None) -> str | None:
    """The built-in detector (see :func:`detect`)."""
    return detect(filename, source)
