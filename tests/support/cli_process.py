"""Running the installed ``un-async`` console script, and a fake server it can talk to.

The command line is tested as users run it: the console script that ``pip install``
put next to this interpreter, in a subprocess. The fake server runs on an event loop in
a background thread (:class:`ThreadedFake`), so tests can drive subprocesses with plain
blocking calls (``subprocess``, ``pty``) while it serves.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

__all__ = [
    "UN_ASYNC",
    "Run",
    "ThreadedFake",
    "base_env",
    "fake_env",
    "imported_modules",
    "read_stdout_lines",
    "run_cli",
    "run_cli_each",
    "run_cli_many",
    "run_in_process",
    "stop_process",
    "wait_for",
]

UN_ASYNC = Path(sys.executable).parent / "un-async"
"""The installed console script (``pip install -e .`` puts it beside the interpreter)."""

Run = subprocess.CompletedProcess[bytes]


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without unsandbox/un-async variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UNSANDBOX_", "UN_ASYNC_", "PYTHONPROFILEIMPORTTIME"))
    }
    env.update(extra)
    return env


def fake_env(fake: FakeUnsandbox, **extra: str) -> dict[str, str]:
    """:func:`base_env` pointing at ``fake`` with the test account's keys."""
    keys = {
        "UNSANDBOX_API_URL": fake.url,
        "UNSANDBOX_PUBLIC_KEY": TEST_PUBLIC_KEY,
        "UNSANDBOX_SECRET_KEY": TEST_SECRET_KEY,
    }
    return base_env(**{**keys, **extra})


def run_cli(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes = b"",
    timeout: float = 60,
) -> Run:
    """``un-async *args`` to completion; stdout and stderr captured as bytes."""
    return subprocess.run(
        [str(UN_ASYNC), *args],
        input=stdin,
        capture_output=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def run_in_process(*args: str, env: Mapping[str, str], stdin: bytes = b"") -> Run:
    """``un-async *args`` run in this process (no interpreter start-up: for covering many
    commands quickly); the environment is set to ``env`` for the call."""
    from click.testing import CliRunner

    from un_async.cli.app import main

    changes: dict[str, str | None] = {key: None for key in os.environ if key not in env}
    changes.update(env)
    with CliRunner().isolation(input=stdin, env=changes) as (stdout, stderr, _):
        status = main(list(args))
    return subprocess.CompletedProcess(list(args), status, stdout.getvalue(), stderr.getvalue())


def run_cli_many(
    cases: Sequence[Sequence[str]], *, env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> list[Run]:
    """Several ``un-async`` runs at once (they spend most of their time starting up)."""
    return run_cli_each([(args, env) for args in cases], cwd=cwd, timeout=timeout)


def run_cli_each(
    cases: Sequence[tuple[Sequence[str], Mapping[str, str]]], *, cwd: Path, timeout: float = 60
) -> list[Run]:
    """:func:`run_cli_many` with an environment per run: ``[(args, env), ...]``."""
    with ThreadPoolExecutor(max_workers=max(1, len(cases))) as pool:
        futures = [
            pool.submit(run_cli, *args, env=env, cwd=cwd, timeout=timeout) for args, env in cases
        ]
        return [future.result() for future in futures]


def imported_modules(importtime_stderr: bytes) -> set[str]:
    """Module names from ``PYTHONPROFILEIMPORTTIME`` lines (other stderr lines ignored)."""
    names: set[str] = set()
    for line in importtime_stderr.decode("utf-8", "replace").splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def wait_for(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Block until ``condition()`` is true; :class:`AssertionError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        time.sleep(0.005)


def read_stdout_lines(
    process: subprocess.Popen[bytes], count: int, timeout: float = 30
) -> list[str]:
    """The first ``count`` stdout lines of ``process``, within ``timeout`` seconds (read
    unbuffered, so nothing is left waiting in a buffer that ``select`` cannot see)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while data.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"serve printed only {data!r}"
            if selector.select(remaining):
                chunk = os.read(fd, 65536)
                assert chunk, f"serve exited with {process.wait()}: printed {data!r}"
                data += chunk
    return data.decode().splitlines()[:count]


def stop_process(process: subprocess.Popen[bytes], signum: int) -> tuple[int, bytes]:
    """Send ``signum`` and return the exit status and the rest of stderr."""
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr


class ThreadedFake:
    """A :class:`FakeUnsandbox` serving from an event loop in a background thread.

    ``with ThreadedFake(mode="job") as fake:`` yields the started server. Tests may call
    its helpers (``script``, ``count_requests``) from their own thread: they only set or
    read dictionaries and lists.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.fake: FakeUnsandbox | None = None

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    async def _start(self) -> FakeUnsandbox:
        fake = FakeUnsandbox(**self.options)
        await fake.start()
        return fake

    def __enter__(self) -> FakeUnsandbox:
        self.thread.start()
        self.fake = self._run(self._start())
        assert self.fake is not None
        return self.fake

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.fake is not None:
                self._run(self.fake.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()
