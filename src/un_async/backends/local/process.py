"""Start one sandboxed program, capture its output, and end it on time.

Output is drained for as long as the program writes (it is never killed for output):
each stream keeps its first and last ``limit / 2`` bytes and counts what it drops. The
program ends by itself, at the deadline, or when the cancel event is set; in the last two
cases the whole process group — and, at the sandbox levels, the PID namespace with every
descendant — is killed with ``SIGKILL``. Once the program is gone, ``after_exit`` runs (to
kill leftovers by uid) and the pipes get a short grace to reach end-of-file: a descendant
that escaped and still holds them does not keep the call waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Literal

import attrs

__all__ = ["Capture", "Outcome", "run_program"]

DRAIN_GRACE = 1.0
"""Seconds allowed for the pipes to close once the program has exited."""

READ_CHUNK = 1 << 16
Ending = Literal["exit", "deadline", "cancel"]


class Capture:
    """One output stream: head and tail kept, the middle counted and dropped."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        """Take the next chunk the program wrote."""
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def dropped(self) -> int:
        """Bytes written but not kept."""
        return self.total - len(self.head) - min(len(self.tail), self.tail_limit)

    def text(self) -> str:
        """The kept output decoded as UTF-8 (invalid bytes replaced), with a marker where
        bytes were dropped."""
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail_limit else b""
        if not self.dropped:
            return (bytes(self.head) + tail).decode("utf-8", "replace")
        marker = f"\n[... {self.dropped} bytes omitted: output limit reached ...]\n"
        return self.head.decode("utf-8", "replace") + marker + tail.decode("utf-8", "replace")


@attrs.frozen(kw_only=True)
class Outcome:
    """How a program ended. ``returncode`` is Python's (negative: killed by that signal);
    None when it could not be started (``spawn_error`` says why)."""

    returncode: int | None
    ended_by: Ending
    stdout: Capture
    stderr: Capture
    seconds: float
    spawn_error: str | None = None

    @property
    def truncated(self) -> bool:
        return bool(self.stdout.dropped or self.stderr.dropped)


async def _drain(stream: asyncio.StreamReader | None, capture: Capture) -> None:
    if stream is None:
        return
    while chunk := await stream.read(READ_CHUNK):
        capture.feed(chunk)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


async def run_program(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    deadline: float,
    cancel: asyncio.Event,
    output_limit: int,
    after_exit: Callable[[], Awaitable[None]] | None = None,
) -> Outcome:
    """Run ``argv`` until it exits, ``deadline`` (event-loop time) passes or ``cancel``
    is set. Never leaves the process running or unreaped, also when the calling task is
    cancelled."""
    stdout, stderr = Capture(output_limit), Capture(output_limit)
    began = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(
            returncode=None,
            ended_by="exit",
            stdout=stdout,
            stderr=stderr,
            seconds=0.0,
            spawn_error=f"cannot start {argv[0]}: {exc.strerror or exc}",
        )
    loop = asyncio.get_running_loop()
    readers = [
        loop.create_task(_drain(process.stdout, stdout)),
        loop.create_task(_drain(process.stderr, stderr)),
    ]
    exited = loop.create_task(process.wait())
    cancelled = loop.create_task(cancel.wait())
    ended_by: Ending = "exit"
    try:
        timeout = max(0.0, deadline - loop.time())
        done, _ = await asyncio.wait(
            {exited, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if exited not in done:
            ended_by = "cancel" if cancel.is_set() else "deadline"
            _kill_group(process.pid)
        await asyncio.shield(exited)
    finally:
        cancelled.cancel()
        if not exited.done():  # the calling task was cancelled: end the program anyway
            _kill_group(process.pid)
            await _finish_quietly(process, exited, readers, after_exit)
    seconds = time.monotonic() - began
    _kill_group(process.pid)  # leftovers in the group (level ``none``)
    await _finish_quietly(process, exited, readers, after_exit)
    return Outcome(
        returncode=process.returncode,
        ended_by=ended_by,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
    )


async def _finish_quietly(
    process: asyncio.subprocess.Process,
    exited: asyncio.Task[int],
    readers: list[asyncio.Task[None]],
    after_exit: Callable[[], Awaitable[None]] | None,
) -> None:
    """Reap the process, run ``after_exit``, then give the pipes :data:`DRAIN_GRACE`."""
    with contextlib.suppress(Exception):
        await asyncio.shield(exited)
    if after_exit is not None:
        with contextlib.suppress(Exception):
            await after_exit()
    pending = [reader for reader in readers if not reader.done()]
    if pending:
        await asyncio.wait(pending, timeout=DRAIN_GRACE)
        for reader in pending:
            reader.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        # An escaped descendant still holds a pipe: stop listening to it.
        transport = getattr(process, "_transport", None)
        if isinstance(transport, asyncio.BaseTransport):
            transport.close()
