"""Built-in caches: the languages list on disk, and an optional in-memory result cache.

The languages file uses the format the reference clients share,
``{"languages": [...], "timestamp": <epoch seconds>}``; freshness comes from the embedded
timestamp, not the file's mtime. Files the SDK cannot use (corrupt JSON, the bare array
the bash client writes, wrong types) count as a miss. Writes are atomic (temporary file
plus ``os.replace``) with mode 0600. Cache problems are logged, never raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from un_async.core.atomic_files import write_atomic
from un_async.core.config import ClientConfig
from un_async.core.hookspecs import LanguagesCache, ResultCache, hookimpl
from un_async.core.models import ExecutionRequest, ExecutionResult

__all__ = [
    "FileLanguagesCache",
    "MemoryResultCache",
    "get_languages_cache",
    "get_result_cache",
    "request_digest",
]

_LOG = logging.getLogger("un_async")
_MAX_CACHE_BYTES = 1024 * 1024
_FUTURE_TOLERANCE = 60.0


class FileLanguagesCache:
    """The language list in a JSON file, fresh for ``ttl`` seconds after it was stored.

    A timestamp more than a minute in the future counts as stale. An empty list is a
    valid cached value.
    """

    def __init__(
        self, path: Path, ttl: float = 3600.0, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.ttl = ttl
        self._clock = clock

    async def load(self) -> list[str] | None:
        """The cached list if the file is valid and fresh, else ``None``."""
        try:
            data = await asyncio.to_thread(_read_small, self.path)
        except OSError as exc:
            _LOG.debug("languages cache %s unreadable: %s", self.path, exc)
            return None
        if data is None:
            return None
        return self._parse(data)

    def _parse(self, data: bytes) -> list[str] | None:
        try:
            document = json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            _LOG.debug("languages cache %s is not JSON: %s", self.path, exc)
            return None
        fields = _fields(document)
        if fields is None:
            _LOG.debug("languages cache %s has an unexpected format", self.path)
            return None
        languages, timestamp = fields
        now = self._clock()
        if timestamp > now + _FUTURE_TOLERANCE or now - timestamp >= self.ttl:
            _LOG.debug("languages cache %s is stale", self.path)
            return None
        return languages

    async def store(self, languages: list[str]) -> None:
        """Write ``languages`` with the current time, atomically; failures are logged."""
        try:
            payload = json.dumps({"languages": list(languages), "timestamp": int(self._clock())})
            await asyncio.to_thread(
                write_atomic, self.path, payload.encode(), mode=0o600, dir_mode=0o700
            )
        except (OSError, TypeError, ValueError) as exc:
            _LOG.warning("could not write languages cache %s: %s", self.path, exc)

    def __repr__(self) -> str:
        return f"FileLanguagesCache({str(self.path)!r}, ttl={self.ttl})"


def _fields(document: object) -> tuple[list[str], float] | None:
    """``(languages, timestamp)`` from the seed format, or ``None`` when it does not match."""
    if not isinstance(document, dict):
        return None
    languages = document.get("languages")
    timestamp = document.get("timestamp")
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        return None
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    if not math.isfinite(timestamp):
        return None
    return [str(x) for x in languages], float(timestamp)


def _read_small(path: Path) -> bytes | None:
    """The file's bytes; ``None`` when missing or larger than the cache could be."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_CACHE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(data) > _MAX_CACHE_BYTES:
        _LOG.debug("languages cache %s is too large", path)
        return None
    return data


def request_digest(request: ExecutionRequest) -> str:
    """A stable SHA-256 hex digest of everything that determines an execution's result."""
    document = {
        "language": request.language,
        "code": request.code,
        "env": sorted(request.env.items()),
        "input_files": [
            [item.filename, hashlib.sha256(item.content).hexdigest()]
            for item in request.input_files
        ],
        "network_mode": request.network_mode,
        "ttl": request.ttl,
        "vcpu": request.vcpu,
        "return_artifact": request.return_artifact,
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


class MemoryResultCache:
    """An LRU of final results keyed by :func:`request_digest`; non-final results are ignored."""

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, ExecutionResult] = OrderedDict()
        self._lock = threading.Lock()

    async def get(self, request: ExecutionRequest) -> ExecutionResult | None:
        """A copy of the cached result for ``request`` (results are mutable dicts), marking
        it recently used; else ``None``."""
        key = request_digest(request)
        with self._lock:
            result = self._entries.get(key)
            if result is not None:
                self._entries.move_to_end(key)
            return None if result is None else result.copy()

    async def put(self, request: ExecutionRequest, result: ExecutionResult) -> None:
        """Remember ``result`` if it is final, evicting the least recently used entry."""
        if not result.is_final:
            return
        key = request_digest(request)
        with self._lock:
            self._entries[key] = result.copy()
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __repr__(self) -> str:
        return f"MemoryResultCache({len(self._entries)}/{self.max_entries})"


@hookimpl(trylast=True)
def get_languages_cache(config: ClientConfig) -> LanguagesCache | None:
    """The file cache at ``config.languages_cache_file``, or ``None`` when disabled."""
    path = config.languages_cache_file
    if path is None:
        return None
    return FileLanguagesCache(path, config.languages_cache_ttl)


@hookimpl(trylast=True)
def get_result_cache(config: ClientConfig) -> ResultCache | None:
    """A new :class:`MemoryResultCache` when ``config.result_cache`` is set, else ``None``.

    The client asks once, so each client gets its own cache.
    """
    return MemoryResultCache() if config.result_cache else None
