"""Start one sandboxed program, capture its output, and end it on time.

Output is drained for as long as the program writes (it is never killed for output):
each stream keeps its first and last ``limit / 2`` bytes and counts what it drops. The
program ends by itself, at the deadline, or when the cancel event is set; in the last two
cases the whole process group — and, at the sandbox levels, the PID namespace with every
descendant — is killed with ``SIGKILL``. Once the program is gone, ``after_exit`` runs (to
kill leftovers by uid) and the pipes get a short grace to reach end-of-file: a descendant
that escaped and still holds them does not keep the call waiting.

The helpers start with a fixed minimal environment in ``/``; their standard input is a
pipe on which the last of them reports that the sandbox is set up
(:attr:`Outcome.started`), a channel the program never holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import attrs

from un_async.backends.local.sandbox import HELPER_ENV

__all__ = ["Capture", "CapturedText", "Outcome", "run_program"]

DRAIN_GRACE = 1.0
"""Seconds allowed for the pipes to close once the program has exited."""

Ending = Literal["exit", "deadline", "cancel"]


class CapturedText(str):
    """A stream's output decoded as UTF-8 (invalid bytes replaced), which also keeps
    :attr:`exact`: the bytes themselves when decoding replaced any, else ``None``.

    It is a ``str`` everywhere a ``str`` is expected; only
    :func:`un_async.backends.local.results.local_result` looks at :attr:`exact`.
    """

    exact: bytes | None

    def __new__(cls, data: bytes) -> CapturedText:
        try:
            text = super().__new__(cls, data.decode("utf-8"))
            text.exact = None
        except UnicodeDecodeError:
            text = super().__new__(cls, data.decode("utf-8", "replace"))
            text.exact = data
        return text


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

    def kept(self) -> bytes:
        """The kept output as bytes, with a marker line where bytes were dropped."""
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail_limit else b""
        if not self.dropped:
            return bytes(self.head) + tail
        marker = f"\n[... {self.dropped} bytes omitted: output limit reached ...]\n"
        return bytes(self.head) + marker.encode("ascii") + tail

    def text(self) -> CapturedText:
        """The kept output decoded as UTF-8 (invalid bytes replaced; the exact bytes kept
        in :attr:`CapturedText.exact`), with a marker where bytes were dropped."""
        return CapturedText(self.kept())


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
    started: bool = False
    """The sandbox reported itself set up, on a pipe the program never holds (see
    :class:`_Started`): False means the program never ran."""

    @property
    def truncated(self) -> bool:
        return bool(self.stdout.dropped or self.stderr.dropped)


class _Protocol(asyncio.SubprocessProtocol):
    """Feeds the captures and reports the exit as soon as it happens — not, as
    :meth:`asyncio.subprocess.Process.wait` does, only once every pipe has closed (a
    descendant holding a pipe would keep that waiting)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stdout: Capture, stderr: Capture) -> None:
        self.captures = {1: stdout, 2: stderr}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        capture = self.captures.get(fd)
        if capture is not None and isinstance(data, bytes):
            capture.feed(data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


class _Started:
    """The pipe the confinement chain reports "set up" on: its write end is the helpers'
    standard input, where the last helper writes ``x`` and then gives the program
    ``/dev/null`` instead (see :func:`~un_async.backends.local.sandbox.confinement`).
    The byte is read as soon as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.read_fd, self.write_fd = os.pipe()
        self.seen = False
        os.set_blocking(self.read_fd, False)
        loop.add_reader(self.read_fd, self.drain)
        self.watching = True

    def drain(self) -> None:
        try:
            data = os.read(self.read_fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.seen = True
        elif self.watching:  # end of file
            self.loop.remove_reader(self.read_fd)
            self.watching = False

    def close_write_end(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        self.close_write_end()
        self.drain()
        if self.watching:
            self.loop.remove_reader(self.read_fd)
            self.watching = False
        os.close(self.read_fd)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


async def run_program(
    argv: Sequence[str],
    *,
    deadline: float,
    cancel: asyncio.Event,
    output_limit: int,
    after_exit: Callable[[], Awaitable[None]] | None = None,
) -> Outcome:
    """Run ``argv`` (a :func:`~un_async.backends.local.sandbox.command`: its helpers get
    :data:`~un_async.backends.local.sandbox.HELPER_ENV` and ``/`` as current directory,
    never the program's environment) until it exits, ``deadline`` (event-loop time)
    passes or ``cancel`` is set. Never leaves the process running or unreaped, also when
    the calling task is cancelled."""
    stdout, stderr = Capture(output_limit), Capture(output_limit)
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    started = _Started(loop)
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _Protocol(loop, stdout, stderr),
            *argv,
            stdin=started.write_fd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(HELPER_ENV),
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:
        started.close()
        return Outcome(
            returncode=None,
            ended_by="exit",
            stdout=stdout,
            stderr=stderr,
            seconds=0.0,
            spawn_error=f"cannot start {argv[0]}: {exc.strerror or exc}",
        )
    except BaseException:
        started.close()
        raise
    started.close_write_end()
    pid = transport.get_pid()
    cancelled = loop.create_task(cancel.wait())
    ended_by: Ending = "exit"
    try:
        timeout = max(0.0, deadline - loop.time())
        waits: set[asyncio.Future[Any]] = {protocol.exited, cancelled}
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if protocol.exited not in done:
            ended_by = "cancel" if cancel.is_set() else "deadline"
            _kill_group(pid)
        await asyncio.shield(protocol.exited)
        seconds = time.monotonic() - began
        _kill_group(pid)  # leftovers in the group (level ``none``)
    finally:
        cancelled.cancel()
        if not protocol.exited.done():  # the calling task was cancelled: end it anyway
            _kill_group(pid)
        try:
            await _finish(transport, protocol, after_exit)
        finally:
            started.close()
    returncode = transport.get_returncode()
    return Outcome(
        returncode=returncode,
        ended_by=ended_by,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        started=started.seen,
    )


async def _finish(
    transport: asyncio.SubprocessTransport,
    protocol: _Protocol,
    after_exit: Callable[[], Awaitable[None]] | None,
) -> None:
    """Reap the process, run ``after_exit``, give the pipes :data:`DRAIN_GRACE` to reach
    end-of-file, then close the transport (whatever still holds a pipe is not waited
    for)."""
    try:
        with contextlib.suppress(Exception):
            await asyncio.shield(protocol.exited)
        if after_exit is not None:
            with contextlib.suppress(Exception):
                await after_exit()
        if not protocol.finished.done():
            await asyncio.wait({protocol.finished}, timeout=DRAIN_GRACE)
    finally:
        transport.close()
