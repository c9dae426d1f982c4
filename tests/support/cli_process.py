"""Running the installed ``un-async`` console script, and a fake server it can talk to.

The command line is tested as users run it: the console script that ``pip install``
put next to this interpreter, in a subprocess. The fake server runs on an event loop in
a background thread (:class:`ThreadedFake`), so tests can drive subprocesses with plain
blocking calls (``subprocess``, ``pty``) while it serves.
"""

from __future__ import annotations

import asyncio
import os
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
    "run_cli",
    "run_cli_many",
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


def run_cli_many(
    cases: Sequence[Sequence[str]], *, env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> list[Run]:
    """Several ``un-async`` runs at once (they spend most of their time starting up)."""
    with ThreadPoolExecutor(max_workers=max(1, len(cases))) as pool:
        futures = [
            pool.submit(run_cli, *args, env=env, cwd=cwd, timeout=timeout) for args in cases
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
