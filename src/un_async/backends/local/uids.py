"""Per-execution uids, and killing every process of one.

When the backend runs as root each execution runs as its own uid from the pool
(:class:`~un_async.backends.local.host.UidPool`): ``RLIMIT_NPROC`` then counts exactly the
execution's processes (it never binds root), and :func:`kill_uid` ends all of them —
also descendants that left the process group — with one atomic ``kill(-1)`` issued as that
uid. Without a pool the program runs as the backend's own user.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from pathlib import Path

from un_async.backends.local.host import Host

__all__ = ["UidLeases", "count_processes", "kill_uid"]


class UidLeases:
    """The uids of the executions running now (so two never share one)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.taken: set[int] = set()

    def acquire(self) -> int | None:
        """A fresh uid, or None when executions run as our own user."""
        pool = self.host.uid_pool
        if pool is None:
            return None
        uid = pool.pick(self.taken)
        self.taken.add(uid)
        return uid

    def release(self, uid: int | None) -> None:
        if uid is not None:
            self.taken.discard(uid)


def kill_argv(host: Host, uid: int) -> list[str]:
    """The argv that, run by root, kills every process of ``uid``."""
    if host.setpriv is not None and host.kill is not None:
        return [
            host.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--",
            host.kill,
            "-KILL",
            "-1",
        ]
    return [
        host.python,
        "-I",
        "-S",
        host.launcher,
        "--uid",
        str(uid),
        "--gid",
        str(uid),
        "--kill-all",
        "--",
    ]


async def kill_uid(host: Host, uid: int) -> None:
    """Kill every process running as ``uid`` (atomically: a forking process cannot
    escape ``kill(-1)``). Best effort: failures are ignored."""
    with contextlib.suppress(OSError):
        process = await asyncio.create_subprocess_exec(
            *kill_argv(host, uid),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await process.wait()


def count_processes(uid: int) -> int:
    """How many processes ``uid`` has now (threads included, as ``RLIMIT_NPROC``
    counts them)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if entry.stat().st_uid == uid:
                tasks = Path(entry.path, "task")
                count += sum(1 for _ in os.scandir(tasks))
    return count
