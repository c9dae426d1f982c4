"""Helpers of the local backend's tests (``tests/local``): constants, client options,
process checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from un_async.backends.local.isolation import probe_isolation

ISOLATION = probe_isolation(os.environ)
LEVELS = ISOLATION.available
SECRET_VALUE = "s3cr3t-value-the-program-must-not-see"
SECRET_VAR = "UN_ASYNC_TEST_SECRET"
MEMORY_MB = 256
OUTPUT_LIMIT = 64 * 1024
PROCESS_LIMIT = 64


def skip_below(level: str, needed: tuple[str, ...], what: str) -> None:
    """Skip, visibly, a promise the level does not make."""
    if level not in needed:
        pytest.skip(f"isolation level {level!r} does not promise {what}")


def local_environ(home: Path) -> dict[str, str]:
    """The environment the client (not the program) runs with."""
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home), SECRET_VAR: SECRET_VALUE}


def options(level: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "isolation": level,
        "memory_mb": MEMORY_MB,
        "concurrency": 2,
        "output_limit_bytes": OUTPUT_LIMIT,
        "max_processes": PROCESS_LIMIT,
    }
    base.update(extra)
    return base


def live_processes(token: str) -> list[int]:
    """Pids of running (not zombie) processes whose command line contains ``token``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in command and state != "Z":
            found.append(int(entry.name))
    return found
