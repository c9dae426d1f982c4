"""Facts about this machine the sandbox is built from: helper programs and identity.

Nothing here starts a program; :mod:`~un_async.backends.local.isolation` probes what
actually works.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

__all__ = ["SYSTEM_PATH", "Host", "UidPool", "exposes_home", "host_facts"]

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
"""The ``PATH`` executed programs get (plus their own toolchain's directory)."""

_HELPER_PATH = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/usr/local/sbin"
LAUNCHER = str(Path(__file__).with_name("launcher.py"))

UID_POOL_BASE = 2_100_000_000
"""First uid of the pool executions run as when the backend runs as root: far above
the ranges distributions, container runtimes and systemd allocate."""
UID_POOL_SIZE = 1 << 24


@attrs.frozen
class UidPool:
    """Unprivileged uids handed out one per running execution, so that each one's
    ``RLIMIT_NPROC`` counts only its own processes and killing "every process of the
    uid" kills only what that execution started."""

    base: int
    size: int

    def pick(self, taken: set[int]) -> int:
        """A random uid of the pool not in ``taken`` (collisions with another process
        using the same pool are left to chance: 1 in 16 million per pair)."""
        while True:
            uid = self.base + secrets.randbelow(self.size)
            if uid not in taken:
                return uid


@attrs.frozen(kw_only=True)
class Host:
    """Helper programs found here (absolute paths, or None) and who we run as."""

    is_root: bool
    bwrap: str | None
    unshare: str | None
    setpriv: str | None
    prlimit: str | None
    kill: str | None
    python: str
    home: str | None = None
    launcher: str = LAUNCHER
    uid_pool: UidPool | None = None
    env: str | None = None
    """``env`` of the system directories: sets the program's environment last."""
    sh: str | None = None
    """``sh`` of the system directories: the last step before the program (see
    :func:`~un_async.backends.local.sandbox.confinement`)."""

    @property
    def native_confinement(self) -> bool:
        """True when ``prlimit``, ``setpriv``, ``sh`` and ``env`` can confine a program
        without starting the Python launcher."""
        return None not in (self.prlimit, self.setpriv, self.env, self.sh)


def exposes_home(path: str, home: str | None) -> bool:
    """True when binding ``path`` would expose a home directory: it is, or contains,
    ``/home``, ``/root``, a ``/home/<user>`` or ``home`` (the caller's ``HOME``), or one
    of their ``.local`` and ``.config`` directories — checked for the path as given and
    as it resolves."""
    for candidate in dict.fromkeys((os.path.normpath(path), os.path.realpath(path))):
        parts = Path(candidate).parts
        owners = ["/root", *([home] if home else [])]
        if len(parts) >= 3 and parts[1] == "home":
            owners.append(str(Path(*parts[:3])))
        protected = ["/home", *owners, *(f"{o}/{d}" for o in owners for d in _PRIVATE_DIRS)]
        inside = candidate.rstrip("/") + "/"
        if any(p == candidate or p.startswith(inside) for p in protected):
            return True
    return False


_PRIVATE_DIRS = (".local", ".config")
"""Directories of a home that are never bound whole (keyrings, tokens, settings)."""


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    path = f"{environ.get('PATH', '')}:{_HELPER_PATH}"
    found = shutil.which(name, path=path)
    return os.path.realpath(found) if found else None


def _system_tool(name: str) -> str | None:
    """``name`` from the system directories only (never the caller's ``PATH``)."""
    found = shutil.which(name, path="/usr/bin:/bin")
    return os.path.realpath(found) if found else None


def _uid_pool() -> UidPool | None:
    """The pool when we are root and the whole uid range is mapped (not in a container
    with a partial user-namespace mapping), else None."""
    if os.geteuid() != 0:
        return None
    try:
        lines = Path("/proc/self/uid_map").read_text().split("\n")
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) == 3:
            inside, _, count = (int(field) for field in fields)
            if inside <= UID_POOL_BASE and inside + count >= UID_POOL_BASE + UID_POOL_SIZE:
                return UidPool(UID_POOL_BASE, UID_POOL_SIZE)
    return None


def host_facts(environ: Mapping[str, str]) -> Host:
    """The helper programs on ``environ``'s ``PATH`` (and the usual system directories)."""
    return Host(
        is_root=os.geteuid() == 0,
        bwrap=_which("bwrap", environ),
        unshare=_which("unshare", environ),
        setpriv=_which("setpriv", environ),
        prlimit=_which("prlimit", environ),
        kill=_which("kill", environ),
        python=os.path.realpath(sys.executable),
        home=os.path.realpath(environ["HOME"]) if environ.get("HOME") else None,
        uid_pool=_uid_pool(),
        env=_system_tool("env"),
        sh=_system_tool("sh"),
    )
