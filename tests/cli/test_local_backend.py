"""``--backend local``: the newcomer path runs real code with no account and no server."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli_process import base_env, imported_modules, run_cli_many

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello.py"

AWKWARD = (
    "import sys\n"
    "sys.stdout.write('nul:\\x00 esc:\\x1b[1m cr:\\r é ✓ no newline')\n"
    "sys.stderr.write('to stderr\\n\\tindented, no newline')\n"
    "sys.exit(3)\n"
)


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_the_newcomer_path(tmp_path: Path) -> None:
    hello, languages, quiet = run_cli_many(
        [
            ["run", "--backend", "local", str(HELLO)],
            ["languages", "--backend", "local", "--json"],
            ["run", "--backend", "local", "-q", "-l", "python", "-c", "print(6 * 7)"],
        ],
        env=base_env(),
        cwd=tmp_path,
    )
    assert hello.returncode == 0, hello.stderr
    lines = hello.stdout.decode().splitlines()
    assert lines[0].startswith("Hello from Python 3.")
    assert lines[1] == "Fibonacci: " + " ".join(str(fib(n)) for n in range(11))
    assert hello.stderr == b""
    assert languages.returncode == 0
    assert "python" in json.loads(languages.stdout)
    assert quiet.stdout == b"42\n"
    assert quiet.stderr == b""


def test_real_output_exit_codes_and_time_limits(tmp_path: Path) -> None:
    (tmp_path / "awkward.py").write_text(AWKWARD)
    (tmp_path / "sleepy.py").write_text("import time\ntime.sleep(30)\n")
    awkward, sleepy = run_cli_many(
        [
            ["run", "--backend", "local", "awkward.py"],
            ["run", "--backend", "local", "--ttl", "1", "sleepy.py"],
        ],
        env=base_env(),
        cwd=tmp_path,
    )
    assert awkward.returncode == 3
    assert awkward.stdout == "nul:\x00 esc:\x1b[1m cr:\r é ✓ no newline".encode()
    assert awkward.stderr == b"to stderr\n\tindented, no newline"
    assert sleepy.returncode == 124
    assert sleepy.stdout == b""
    assert b"timed out" in sleepy.stderr


def test_startup_imports_neither_aiohttp_nor_rich(tmp_path: Path) -> None:
    env = base_env(PYTHONPROFILEIMPORTTIME="1")
    helped, ran = run_cli_many(
        [["--help"], ["run", "--backend", "local", "-l", "python", "-c", "print(1)"]],
        env=env,
        cwd=tmp_path,
    )
    assert helped.returncode == 0
    assert b"run" in helped.stdout
    assert ran.returncode == 0
    assert ran.stdout == b"1\n"
    for process in (helped, ran):
        modules = imported_modules(process.stderr)
        assert "un_async.cli.app" in modules  # the profile is of the CLI process
        assert not {name for name in modules if name.split(".")[0] in {"aiohttp", "rich"}}
        assert "un_async.core.service_errors" not in modules
