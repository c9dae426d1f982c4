"""``--backend local``: the newcomer path runs real code with no account and no server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

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


ALL_BYTES = (
    "import sys\n"
    "sys.stdout.buffer.write(bytes(range(256)))\n"
    "sys.stderr.buffer.write(bytes(range(255, -1, -1)))\n"
)


def test_invalid_utf8_passes_through_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(ALL_BYTES)
    expected = subprocess.run(
        ["python3", "prog.py"], cwd=tmp_path, capture_output=True, timeout=60, check=True
    )
    ran, as_json = run_cli_many(
        [
            ["run", "--backend", "local", "prog.py"],
            ["run", "--backend", "local", "--json", "prog.py"],
        ],
        env=base_env(),
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    for name, wanted, got in (
        ("out", expected.stdout, ran.stdout),
        ("err", expected.stderr, ran.stderr),
    ):
        (tmp_path / f"expected.{name}").write_bytes(wanted)
        (tmp_path / f"got.{name}").write_bytes(got)
        same = subprocess.run(["cmp", f"expected.{name}", f"got.{name}"], cwd=tmp_path, check=False)
        assert same.returncode == 0
    result = json.loads(as_json.stdout)
    assert base64.b64decode(result["stdout_base64"]) == expected.stdout
    assert base64.b64decode(result["stderr_base64"]) == expected.stderr
    assert result["stdout"] == expected.stdout.decode("utf-8", "replace")


def test_a_client_deadline_keeps_what_the_program_wrote(tmp_path: Path) -> None:
    (tmp_path / "stuck.py").write_text(
        "import sys, time\n"
        "print('started', flush=True)\n"
        "print('on stderr', file=sys.stderr, flush=True)\n"
        "time.sleep(600)\n"
    )
    args = ["run", "--backend", "local", "-t", "3", "stuck.py"]
    text, as_json = run_cli_many([args, [*args, "--json"]], env=base_env(), cwd=tmp_path)
    assert text.returncode == 124, text.stderr
    assert text.stdout == b"started\n"
    lines = text.stderr.decode().splitlines()
    assert lines[0] == "on stderr"
    assert lines[1:] == [
        f"un-async: job {lines[1].split()[2]} was cancelled: the client deadline (-t 3 s) passed"
    ]
    assert as_json.returncode == 124
    assert as_json.stdout.count(b"\n") == 1
    state = json.loads(as_json.stdout)
    assert (state["status"], state["stdout"], state["stderr"]) == (
        "timeout",
        "started\n",
        "on stderr\n",
    )


def test_isolation_warnings_are_printed_once(tmp_path: Path) -> None:
    env = base_env(UN_ASYNC_LOCAL_ISOLATION="none")
    args = ["run", "--backend", "local", "-l", "python", "-c", "print('unisolated')"]
    shown, as_json, quiet = run_cli_many(
        [args, [*args, "--json"], [*args, "-q"]], env=env, cwd=tmp_path
    )
    warnings = json.loads(as_json.stdout)["isolation"]["warnings"]
    assert warnings  # level none has something to say
    assert shown.returncode == 0
    assert shown.stdout == b"unisolated\n"
    assert shown.stderr.decode().splitlines() == [f"un-async: warning: {w}" for w in warnings]
    assert quiet.stdout == b"unisolated\n"
    assert quiet.stderr == b""


def test_a_sandbox_that_cannot_start_the_program_is_error_4(tmp_path: Path) -> None:
    from support.local_backend import LEVELS

    bwrap = shutil.which("bwrap")
    if bwrap is None or "bubblewrap" not in LEVELS:
        pytest.skip("bubblewrap does not work here")
    # A bwrap that works for the isolation probe but fails to start the program itself
    # (the run's command line names the program's source file, main.py).
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    (wrappers / "bwrap").write_text(
        "#!/bin/sh\n"
        'case "$*" in *main.py*) echo "bwrap: simulated failure" >&2; exit 1;; esac\n'
        f'exec {bwrap} "$@"\n'
    )
    (wrappers / "bwrap").chmod(0o755)
    env = base_env(
        PATH=f"{wrappers}:{os.environ['PATH']}",
        HOME=str(tmp_path),
        UN_ASYNC_LOCAL_PROBE_CACHE="0",
        UN_ASYNC_LOCAL_ISOLATION="bubblewrap",
    )
    args = ["run", "--backend", "local", "-l", "python", "-c", "print('never')"]
    text, as_json, doctor = run_cli_many(
        [args, [*args, "--json"], ["doctor", "--backend", "local"]], env=env, cwd=tmp_path
    )
    message = "the sandbox failed to start the program: bwrap: simulated failure"
    assert text.returncode == 4
    assert text.stdout == b""
    assert text.stderr == f"un-async: error: {message}\n".encode()
    assert as_json.returncode == 4
    reply = json.loads(as_json.stdout)
    assert reply["error"] == {"type": "SandboxError", "message": message, "exit_status": 4}
    assert reply["result"]["reason"] == "sandbox"
    assert doctor.returncode == 1
    assert f"✗ runs code: python: failed: {message}" in doctor.stdout.decode()
