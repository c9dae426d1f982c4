"""What a fake job "prints": scripted outputs and a tiny source-code emulation.

Nothing is ever executed. :func:`emulate` reads the source text and guesses the output of
straight-line programs:

* ``stdout`` is the concatenation of single-literal print calls (``print("hi")``,
  ``print(42)``, ``console.log('x')``, ``fmt.Println("x")``, ``puts "x"``, ``echo x``,
  ``println!("x")``, ``System.out.println("x")``, ``printf("x\\n")``, ...), in source order.
  Calls whose argument is anything other than one string or integer literal (f-strings,
  concatenations, variables) are ignored. Calls that write to stderr (``console.error``,
  ``eprintln!``, ``print(..., file=sys.stderr)``) go to ``stderr``.
* Output stops at the first ``exit(N)``-style call (``sys.exit``, ``process.exit``,
  ``os.Exit``, ``System.exit``, bash ``exit N``, ...), whose ``N`` becomes the exit code, or
  at the first ``raise``/``throw``/``panic``, which gives exit code 1 and an error line on
  stderr. Control flow is not modelled: the first such statement in the text wins.
* ``sleep(N)`` / ``time.sleep(N)`` / bash ``sleep N`` add ``N`` seconds to the run time.

A non-zero exit code is still status ``completed`` (with ``success`` false), as on the real
service.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["ScriptedOutput", "emulate"]


def _freeze_artifacts(value: Mapping[str, bytes | str] | None) -> Mapping[str, bytes]:
    if not value:
        return {}
    return {
        name: data.encode() if isinstance(data, str) else bytes(data)
        for name, data in value.items()
    }


@attrs.frozen(kw_only=True)
class ScriptedOutput:
    """The outcome of one simulated execution.

    ``duration`` is the run time in seconds (queue time excluded); ``None`` lets the server
    pick it (its duration model or ``default_duration``). ``status`` is the terminal status
    reported once the run is over; any string is allowed so tests can feed clients unknown
    statuses. ``artifacts`` maps file names to contents, returned when the request asked for
    ``return_artifact``.
    """

    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = 0
    status: str = "completed"
    error: str | None = None
    duration: float | None = None
    artifacts: Mapping[str, bytes] = attrs.field(factory=dict, converter=_freeze_artifacts)


# --- print calls -----------------------------------------------------------------------

# call name -> (adds a newline, stream). Names are matched with no identifier or "." before.
_CALLS: dict[str, tuple[bool, str]] = {
    "print": (True, "stdout"),
    "println": (True, "stdout"),
    "puts": (True, "stdout"),
    "say": (True, "stdout"),
    "echo": (True, "stdout"),
    "printf": (False, "stdout"),
    "console.log": (True, "stdout"),
    "console.info": (True, "stdout"),
    "console.error": (True, "stderr"),
    "console.warn": (True, "stderr"),
    "fmt.Println": (True, "stdout"),
    "fmt.Print": (False, "stdout"),
    "fmt.Printf": (False, "stdout"),
    "println!": (True, "stdout"),
    "print!": (False, "stdout"),
    "eprintln!": (True, "stderr"),
    "eprint!": (False, "stderr"),
    "System.out.println": (True, "stdout"),
    "System.out.print": (False, "stdout"),
    "System.err.println": (True, "stderr"),
    "Console.WriteLine": (True, "stdout"),
    "Console.Write": (False, "stdout"),
    "printfn": (True, "stdout"),
    "putStrLn": (True, "stdout"),
    "IO.puts": (True, "stdout"),
    "print_endline": (True, "stdout"),
    "print_string": (False, "stdout"),
    "writeln": (True, "stdout"),
    "std::cout <<": (False, "stdout"),
    "cout <<": (False, "stdout"),
}

# Languages whose plain ``print`` adds no newline.
_PRINT_WITHOUT_NEWLINE = frozenset({"ruby", "perl", "php", "julia", "go", "crystal", "raku"})
# Languages where echo is not a shell echo (php's echo adds no newline).
_ECHO_WITHOUT_NEWLINE = frozenset({"php"})
# Languages whose single-quoted strings do not interpret escapes.
_RAW_SINGLE_QUOTES = frozenset({"bash", "php", "perl", "ruby", "raku", "powershell"})

_LITERAL = r"""(?P<lit>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|-?\d+)"""
_CALL_NAMES = "|".join(
    re.escape(name).replace(r"\ ", r"\s*") for name in sorted(_CALLS, key=len, reverse=True)
)
_PRINT_RE = re.compile(
    rf"(?<![\w.:])(?P<call>{_CALL_NAMES})(?:\s*\(\s*|\s+){_LITERAL}"
    r"(?P<tail>\s*,\s*file\s*=\s*sys\.stderr)?"
    r"(?P<endl>\s*<<\s*(?:std::)?endl)?"
    r"(?=\s*(?:\)|;|$|\n|<<))",
    re.MULTILINE,
)
_BARE_ECHO_RE = re.compile(r"^[ \t]*echo[ \t]+(?P<words>[^\"'\s;|&>#$][^;|&>#\n]*)", re.MULTILINE)

_EXIT_RE = re.compile(
    r"(?<![\w.])(?:sys\.exit|os\.Exit|process\.exit|System\.exit|std::process::exit|"
    r"Environment\.Exit|os\._exit|exit|quit)\s*(?:\(\s*(?P<paren>-?\d+)|[ \t]+(?P<bare>-?\d+))"
)
_RAISE_RE = re.compile(r"(?<![\w.])(?:raise|throw|panic!?|die)\b[ \t(]*(?P<what>[^\n;]*)")
_EXC_RE = re.compile(
    r"""(?:new\s+)?(?P<name>[A-Za-z_][\w.:]*)\s*\(\s*(?P<msg>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')?"""
)
_SLEEP_RE = re.compile(
    r"(?<![\w.])(?:time\.sleep|sleep)\s*"
    r"(?:\(\s*(?P<paren>\d+(?:\.\d+)?)\s*\)|[ \t]+(?P<bare>\d+(?:\.\d+)?)\b)"
)
_STRING_RE = re.compile(r"""\"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'""")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
_ESCAPE_RE = re.compile(r"\\(.)")


def _unquote(literal: str, language: str) -> str:
    if literal[0] not in "\"'":
        return literal  # integer literal
    body = literal[1:-1]
    if literal[0] == "'" and language in _RAW_SINGLE_QUOTES:
        return body.replace("\\'", "'").replace("\\\\", "\\")
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def _newline_for(call: str, language: str) -> bool:
    adds_newline = _CALLS[re.sub(r"\s*<<", " <<", call)][0]
    if call == "print" and language in _PRINT_WITHOUT_NEWLINE:
        return False
    if call == "echo" and language in _ECHO_WITHOUT_NEWLINE:
        return False
    return adds_newline


def _first_stop(code: str) -> tuple[int, int | None, str]:
    """Position of the first exit/raise statement, its exit code and stderr text."""
    stop, exit_code, stderr = len(code), None, ""
    exit_match = _EXIT_RE.search(code)
    if exit_match:
        stop = exit_match.start()
        exit_code = int(exit_match.group("paren") or exit_match.group("bare"))
    raise_match = _RAISE_RE.search(code)
    if raise_match and raise_match.start() < stop:
        stop, exit_code = raise_match.start(), 1
        what = raise_match.group("what").strip()
        exc = _EXC_RE.match(what)
        if exc:
            message = _unquote(exc.group("msg"), "") if exc.group("msg") else ""
            stderr = f"{exc.group('name')}: {message}".rstrip(": ") + "\n"
        else:
            literal = _STRING_RE.match(what)
            stderr = (_unquote(literal.group(0), "") if literal else what) + "\n"
        if stderr == "\n":
            stderr = "Error\n"
    return stop, exit_code, stderr


@functools.lru_cache(maxsize=4096)
def emulate(language: str, code: str) -> ScriptedOutput:
    """Guess what ``code`` would print; see the module docstring for the rules (cached)."""
    stop, exit_code, error_text = _first_stop(code)
    pieces: list[tuple[int, str, str]] = []
    for match in _PRINT_RE.finditer(code, 0, stop):
        call = match.group("call")
        text = _unquote(match.group("lit"), language)
        stream = "stderr" if match.group("tail") else _CALLS[re.sub(r"\s*<<", " <<", call)][1]
        if _newline_for(call, language) or match.group("endl"):
            text += "\n"
        pieces.append((match.start(), stream, text))
    if language in ("bash", "powershell"):
        for match in _BARE_ECHO_RE.finditer(code, 0, stop):
            pieces.append((match.start(), "stdout", match.group("words").rstrip() + "\n"))
    pieces.sort(key=lambda piece: piece[0])
    stdout = "".join(text for _, stream, text in pieces if stream == "stdout")
    stderr = "".join(text for _, stream, text in pieces if stream == "stderr") + error_text
    sleeps = [float(m.group("paren") or m.group("bare")) for m in _SLEEP_RE.finditer(code, 0, stop)]
    fields: dict[str, Any] = {"stdout": stdout, "stderr": stderr}
    fields["exit_code"] = exit_code if exit_code is not None else 0
    if sleeps:
        fields["duration"] = sum(sleeps)
    return ScriptedOutput(**fields)
