"""Isolation levels: which ones work here (probed once per process, and kept on disk
between processes), and what each one promises, as reported in every result's
``isolation`` field.

The probe starts a trivial program exactly as executions are started — same sandbox
command, same confinement, as a pool uid when we are root — at each level, best first.
"Never claim more than was achieved": a level that cannot start is not offered, and the
facts of a level say what it leaves open. An answer taken from the disk cache
(:mod:`~un_async.backends.local.probe_cache`, keyed by
:func:`~un_async.backends.local.fingerprints.isolation_key`) is marked ``from_cache``: a
run that then fails to start in the sandbox makes the backend probe again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from un_async.backends.local.fingerprints import isolation_key
from un_async.backends.local.host import Host, host_facts
from un_async.backends.local.probe_cache import ProbeCache
from un_async.backends.local.sandbox import Step, command, confinement
from un_async.backends.local.settings import ISOLATION_LEVELS
from un_async.backends.local.workspace import Workspace
from un_async.core.errors import ConfigurationError

__all__ = ["Isolation", "probe_isolation"]

PROBE_TIMEOUT = 20.0
_PROBE_LIMITS = {"nproc": (64, 64), "core": (0, 0)}


@attrs.frozen(kw_only=True)
class Isolation:
    """The probe's findings: the host, the levels that work (best first) and why the
    others do not."""

    host: Host
    available: tuple[str, ...]
    unavailable: Mapping[str, str]
    from_cache: bool = attrs.field(default=False, eq=False)
    """Taken from the disk cache, not probed by this process."""

    @property
    def best(self) -> str:
        return self.available[0]

    def choose(self, requested: str | None) -> str:
        """``requested`` if it works here, the best level when None; asking for a level
        the machine cannot provide is a :class:`ConfigurationError`."""
        if requested is None:
            return self.best
        if requested not in self.available:
            why = self.unavailable.get(requested, "not available")
            raise ConfigurationError(
                f"isolation level {requested!r} is not available on this machine: {why}"
                f" (available: {', '.join(self.available)})"
            )
        return requested

    def facts(self, level: str, *, share_network: bool) -> dict[str, Any]:
        """The ``isolation`` mapping of a result run at ``level``."""
        network = "host" if share_network or level == "none" else "none"
        warnings: list[str] = []
        host = self.host
        if level == "bubblewrap":
            filesystem = "private"
        else:
            filesystem = "host"
            if level == "none":
                warnings.append(
                    "no namespaces: the program shares the host's filesystem (/tmp included;"
                    " the disk limit counts only its work directory and TMPDIR), network and"
                    " process table"
                )
                if host.uid_pool is None:
                    warnings.append(
                        "descendants that leave the process group (setsid) may survive the"
                        " execution"
                    )
            else:
                warnings.append(
                    "the host filesystem is visible (home directories and /run hidden; /tmp,"
                    " /var/tmp and /dev/shm are the execution's own): the program may read"
                    " what its user may read, write where that user may write (not counted"
                    " by the disk limit) and connect to Unix sockets it can reach there"
                )
        if not share_network and network == "host":
            warnings.append("network_mode 'zerotrust' is not enforced at this level")
        if host.is_root and host.uid_pool is None:
            warnings.append(
                "running as root without a separate uid: the process limit does not bind"
            )
        elif not host.is_root:
            warnings.append(
                "not running as root: the program runs as your own user, and its process"
                " limit is counted on top of your other processes"
            )
        return {
            "level": level,
            "network": network,
            "filesystem": filesystem,
            "warnings": warnings,
        }


def _run(argv: list[str], cwd: str) -> str | None:
    """None when ``argv`` ran and exited 0, else what went wrong."""
    try:
        done = subprocess.run(  # noqa: S603 - argv is built from absolute paths we found
            argv,
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else f"exit status {done.returncode}"


def _probe(environ: Mapping[str, str]) -> Isolation:
    host = host_facts(environ)
    true = shutil.which("true", path="/usr/bin:/bin")
    unavailable: dict[str, str] = {}
    if true is None:
        return Isolation(host=host, available=("none",), unavailable={})
    true = os.path.realpath(true)
    if host.uid_pool is not None:
        dropped = host.uid_pool.pick(set())
        if _run([*confinement(host, _PROBE_LIMITS, dropped), true], cwd="/") is not None:
            host = attrs.evolve(host, uid_pool=None)
    available: list[str] = []
    tools = {"bubblewrap": host.bwrap, "namespaces": host.unshare}
    for level in ISOLATION_LEVELS[:2]:
        if tools[level] is None:
            unavailable[level] = f"{'bwrap' if level == 'bubblewrap' else 'unshare'} not found"
            continue
        uid = host.uid_pool.pick(set()) if host.uid_pool is not None else None
        workspace = Workspace.create(uid, build=False, etc=level == "bubblewrap")
        try:
            step = Step(argv=(true,), rlimits=_PROBE_LIMITS, uid=uid, share_network=False)
            failure = _run(command(level, host, workspace.layout, step), workspace.layout.work)
        finally:
            workspace.remove()
        if failure is None:
            available.append(level)
        else:
            unavailable[level] = failure
    available.append("none")
    return Isolation(host=host, available=tuple(available), unavailable=unavailable)


KIND = "isolation"
"""The probe cache's kind for isolation answers."""


def _to_json(isolation: Isolation) -> dict[str, Any]:
    return {
        "available": list(isolation.available),
        "unavailable": dict(isolation.unavailable),
        "uid_pool": isolation.host.uid_pool is not None,
    }


def _from_json(host: Host, value: Mapping[str, Any]) -> Isolation | None:
    """The cached answer for ``host``, or None when ``value`` is malformed."""
    available, unavailable = value.get("available"), value.get("unavailable")
    if (
        not isinstance(available, list)
        or not available
        or available[-1] != "none"
        or not set(available) <= set(ISOLATION_LEVELS)
        or not isinstance(unavailable, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in unavailable.items())
        or not isinstance(value.get("uid_pool"), bool)
    ):
        return None
    if not value["uid_pool"]:
        host = attrs.evolve(host, uid_pool=None)
    elif host.uid_pool is None:
        return None
    return Isolation(
        host=host, available=tuple(available), unavailable=unavailable, from_cache=True
    )


def _probe_cached(environ: Mapping[str, str], cache: ProbeCache, refresh: bool) -> Isolation:
    host = host_facts(environ)
    key = isolation_key(host)
    if not refresh:
        value = cache.load(KIND, key)
        found = _from_json(host, value) if value is not None else None
        if found is not None:
            return found
    found = _probe(environ)
    cache.store(KIND, key, _to_json(found))
    return found


_cache: dict[str, Isolation] = {}
_cache_lock = threading.Lock()


def probe_isolation(
    environ: Mapping[str, str], *, cache: ProbeCache | None = None, refresh: bool = False
) -> Isolation:
    """The isolation levels that work here, probed once per process (per ``PATH``).

    With ``cache``, a process first looks for the answer on disk (under the current
    :func:`~un_async.backends.local.fingerprints.isolation_key`) and stores what it
    probed. ``refresh``: probe now whatever is known, and store the answer.

    Blocking (it starts programs): call it in a worker thread from async code.
    """
    key = environ.get("PATH", "")
    with _cache_lock:
        found = None if refresh else _cache.get(key)
        if found is None:
            found = _probe(environ) if cache is None else _probe_cached(environ, cache, refresh)
            _cache[key] = found
        return found
