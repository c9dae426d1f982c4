"""Language detection: extension map (spec §7.2), case handling, shebangs (§7.3)."""

from __future__ import annotations

import pytest

from un_async.core.plugin_host import PluginHost
from un_async.plugins.detection import EXTENSIONS, detect, language_from_shebang

UNION_MAP = {
    "py": "python", "js": "javascript", "ts": "typescript", "rb": "ruby", "php": "php",
    "pl": "perl", "sh": "bash", "r": "r", "R": "r", "lua": "lua", "go": "go", "rs": "rust",
    "c": "c", "cpp": "cpp", "cc": "cpp", "cxx": "cpp", "java": "java", "kt": "kotlin",
    "m": "objc", "cs": "csharp", "fs": "fsharp", "hs": "haskell", "ml": "ocaml",
    "clj": "clojure", "scm": "scheme", "ss": "scheme", "erl": "erlang", "ex": "elixir",
    "exs": "elixir", "jl": "julia", "d": "d", "nim": "nim", "zig": "zig", "v": "v",
    "cr": "crystal", "dart": "dart", "groovy": "groovy", "f90": "fortran", "f95": "fortran",
    "lisp": "commonlisp", "lsp": "commonlisp", "cob": "cobol", "tcl": "tcl", "raku": "raku",
    "pro": "prolog", "p": "prolog", "4th": "forth", "forth": "forth", "fth": "forth",
}
ADDITIONS = {"scala": "scala", "ps1": "powershell", "awk": "awk"}


@pytest.mark.parametrize(("ext", "language"), sorted(UNION_MAP.items()))
def test_union_extension_map(ext: str, language: str) -> None:
    assert detect(f"program.{ext}") == language


@pytest.mark.parametrize(("ext", "language"), sorted(ADDITIONS.items()))
def test_additional_extensions(ext: str, language: str) -> None:
    assert detect(f"program.{ext}") == language


def test_exported_map_is_exactly_the_union_plus_additions() -> None:
    expected = {ext.lower(): lang for ext, lang in {**UNION_MAP, **ADDITIONS}.items()}
    assert dict(EXTENSIONS) == expected


def test_exported_map_is_read_only() -> None:
    with pytest.raises(TypeError):
        EXTENSIONS["foo"] = "bar"  # type: ignore[index]


@pytest.mark.parametrize(
    ("filename", "language"),
    [
        ("main.PY", "python"),
        ("x.Cpp", "cpp"),
        ("x.CXX", "cpp"),
        ("x.R", "r"),
        ("x.r", "r"),
        ("Script.Rb", "ruby"),
        ("RUN.SH", "bash"),
        ("Main.Java", "java"),
        ("x.PS1", "powershell"),
        ("x.Scala", "scala"),
    ],
)
def test_extension_case_insensitive(filename: str, language: str) -> None:
    assert detect(filename) == language


@pytest.mark.parametrize(
    ("filename", "language"),
    [
        ("app.js", "javascript"),
        ("main.go", "go"),
        ("unknown", None),
        ("archive.tar.py", "python"),
        ("/home/me/src/tool.rs", "rust"),
        ("dir.py/file", None),
        ("dir.py/", None),
        ("C:\\work\\prog.hs", "haskell"),
        (".bashrc", None),
        (".py", "python"),  # the reference SDK's answer (issue 9)
        ("file.", None),
        ("notes.txt", None),
        ("header.h", None),
        ("module.mjs", None),
        ("script.bash", None),
        ("", None),
    ],
)
def test_filenames(filename: str, language: str | None) -> None:
    assert detect(filename) == language


def test_extension_wins_over_shebang() -> None:
    assert detect("tool.rb", "#!/usr/bin/env python3\n") == "ruby"


@pytest.mark.parametrize(
    ("line", "language"),
    [
        ("#!/usr/bin/python3", "python"),
        ("#!/usr/bin/python3.11", "python"),
        ("#!/usr/bin/env python3", "python"),
        ("#!/usr/bin/env python", "python"),
        ("#! /usr/bin/env python3", "python"),
        ("#!/usr/bin/env node", "javascript"),
        ("#!/usr/bin/nodejs", "javascript"),
        ("#!/usr/bin/env bash", "bash"),
        ("#!/bin/bash -e", "bash"),
        ("#!/bin/sh", "bash"),
        ("#!/bin/dash", "bash"),
        ("#!/usr/bin/zsh", "bash"),
        ("#!/usr/bin/env -S node --experimental-vm-modules", "javascript"),
        ("#!/usr/bin/env -Snode --flag", "javascript"),
        ("#!/usr/bin/env -i PATH=/bin python3", "python"),
        ("#!/usr/bin/env -u HOME ruby", "ruby"),
        ("#!/usr/bin/env -- perl", "perl"),
        ("#!/usr/local/bin/ruby -w", "ruby"),
        ("#!/usr/bin/perl -w", "perl"),
        ("#!/usr/bin/perl6", "raku"),
        ("#!/usr/bin/env raku", "raku"),
        ("#!/usr/bin/php8.2", "php"),
        ("#!/usr/bin/env lua5.4", "lua"),
        ("#!/usr/bin/tclsh8.6", "tcl"),
        ("#!/usr/bin/wish", "tcl"),
        ("#!/usr/bin/env julia", "julia"),
        ("#!/usr/bin/env Rscript", "r"),
        ("#!/usr/bin/env groovy", "groovy"),
        ("#!/usr/bin/env scala", "scala"),
        ("#!/usr/bin/env elixir", "elixir"),
        ("#!/usr/bin/env ocaml", "ocaml"),
        ("#!/usr/bin/guile-3.0 -s", "scheme"),
        ("#!/usr/bin/env scheme", "scheme"),
        ("#!/usr/bin/sbcl --script", "commonlisp"),
        ("#!/usr/bin/clisp", "commonlisp"),
        ("#!/usr/bin/env pwsh", "powershell"),
        ("#!/usr/bin/awk -f", "awk"),
        ("#!/usr/bin/gawk -f", "awk"),
        ("#!/usr/bin/env deno", "deno"),
        ("#!/usr/bin/env escript", "erlang"),
        ("#!/usr/bin/env crystal", "crystal"),
        ("#!/usr/bin/env dart", "dart"),
        ("\ufeff#!/usr/bin/env python3", "python"),
        ("#!/usr/bin/env python3\r", "python"),
        ("#!/usr/bin/env", None),
        ("#!/usr/bin/env -S", None),
        ("#!", None),
        ("#!/usr/bin/unknown-interp", None),
        ("#!/usr/bin/swift", None),
        ("# not a shebang /usr/bin/python", None),
        ("  #!/usr/bin/python", None),
    ],
)
def test_shebang(line: str, language: str | None) -> None:
    assert language_from_shebang(line + "\nbody\n") == language
    assert detect("script", line + "\nbody\n") == language


def test_only_the_first_line_counts() -> None:
    # The C client searched the whole file and labelled this Ruby script as Python.
    ruby = "#!/usr/bin/env ruby\n# see /usr/bin/python for the old version\nputs 1\n"
    assert detect("script", ruby) == "ruby"
    no_shebang = "puts 1\n# see /usr/bin/python\n#!/usr/bin/python\n"
    assert detect("script", no_shebang) is None


def test_unknown_without_source_is_none() -> None:
    assert detect("Makefile") is None
    assert detect("Makefile", "") is None
    assert detect("data.xyz", "hello world\n") is None


@pytest.mark.parametrize(
    ("filename", "source", "language"),
    [
        ("main.PY", None, "python"),
        ("run", "#!/usr/bin/env node\n", "javascript"),
        ("x", None, None),
    ],
)
def test_through_the_plugin_host(filename: str, source: str | None, language: str | None) -> None:
    host = PluginHost(load_entry_points=False)
    assert host.detect_language(filename, source) == language
