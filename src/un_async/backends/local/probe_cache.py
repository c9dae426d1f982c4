"""The local backend's probe answers, kept on disk between processes.

Without it every process that uses the local backend would first probe the isolation
levels (sandboxed starts of ``true`` at each level) and ask the requested language's
interpreter where it lives — through a version manager's shim, that alone can take
100 ms. The answers are kept in ``$XDG_CACHE_HOME/un-async/local/`` (by default
``~/.cache/un-async/local/``), one JSON file per kind (``isolation.json``,
``toolchains.json``), each entry under the SHA-256 digest of its key: the mapping of
everything that can change the answer (:mod:`~un_async.backends.local.fingerprints`).
Only digests and answers are stored (paths, level names, failure messages, versions).

A file is used only when it is ours and nobody else may write to it or its directory,
and an entry only when it has the expected shape; anything else is a miss, and a miss
means: probe again and store the new answer. Files are replaced atomically
(:func:`un_async.core.atomic_files.write_atomic`); when two processes store at once one entry
may be lost (it is probed again later). At most :data:`MAX_ENTRIES` entries are kept per
kind, the most recently stored ones. The cache is an optimisation only: failing to read
or write it never fails an execution.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "MAX_ENTRIES", "ProbeCache", "cache_directory", "digest"]

FORMAT = 1
"""Version of the file layout (a file of another version is ignored and replaced)."""

MAX_ENTRIES = 16
"""Entries kept per kind (enough for a few environments used in turn)."""


def cache_directory(environ: Mapping[str, str]) -> Path | None:
    """``$XDG_CACHE_HOME/un-async/local``, else ``$HOME/.cache/un-async/local``; None when
    neither is set (to an absolute path)."""
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = environ.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base, "un-async", "local")


def digest(key: Mapping[str, Any]) -> str:
    """The SHA-256 of ``key`` as canonical JSON."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _trusted(path: Path) -> bool:
    """Ours and not writable by group or others (else someone could plant answers)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class ProbeCache:
    """Entries of each kind in ``<directory>/<kind>.json``; thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    @classmethod
    def for_environ(cls, environ: Mapping[str, str]) -> ProbeCache | None:
        """The cache in :func:`cache_directory` of ``environ`` (None: no place for it)."""
        directory = cache_directory(environ)
        return None if directory is None else cls(directory)

    def __repr__(self) -> str:
        return f"ProbeCache({str(self.directory)!r})"

    def path(self, kind: str) -> Path:
        return self.directory / f"{kind}.json"

    def _entries(self, kind: str) -> dict[str, Any]:
        path = self.path(kind)
        if not (_trusted(self.directory) and _trusted(path)):
            return {}
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            return {}
        entries = document.get("entries")
        return entries if isinstance(entries, dict) else {}

    def load(self, kind: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer stored under ``key``, or None."""
        with self._lock:
            entry = self._entries(kind).get(digest(key))
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
            return None
        value: dict[str, Any] = entry["value"]
        return value

    def store(self, kind: str, key: Mapping[str, Any], value: Mapping[str, Any]) -> None:
        """Keep ``value`` under ``key`` (best effort: errors are ignored)."""
        self._update(kind, digest(key), dict(value))

    def drop(self, kind: str, key: Mapping[str, Any]) -> None:
        """Forget the answer under ``key`` (best effort)."""
        self._update(kind, digest(key), None)

    def _update(self, kind: str, name: str, value: dict[str, Any] | None) -> None:
        from un_async.core.atomic_files import write_atomic

        with self._lock:
            if self.directory.exists() and not _trusted(self.directory):
                return
            entries = self._entries(kind)
            if value is None and name not in entries:
                return
            entries.pop(name, None)
            if value is not None:
                entries[name] = {"stored_at": time.time(), "value": value}
            kept = sorted(entries.items(), key=_stored_at, reverse=True)[:MAX_ENTRIES]
            document = {"format": FORMAT, "entries": dict(kept)}
            text = json.dumps(document, sort_keys=True, indent=1)
            with contextlib.suppress(OSError, ValueError):
                write_atomic(self.path(kind), text, mode=0o600, dir_mode=0o700)


def _stored_at(item: tuple[str, Any]) -> float:
    entry = item[1]
    stored = entry.get("stored_at") if isinstance(entry, dict) else None
    return float(stored) if isinstance(stored, int | float) else 0.0
