"""The local backend's settings: backend options, else ``UN_ASYNC_LOCAL_*`` variables.

=====================  =====================================  ==============================
option                 environment variable                   meaning
=====================  =====================================  ==============================
``isolation``          ``UN_ASYNC_LOCAL_ISOLATION``           force ``bubblewrap``,
                                                              ``namespaces`` or ``none``
                                                              (default: best available)
``memory_mb``          ``UN_ASYNC_LOCAL_MEMORY_MB``           memory *per process* of an
                                                              execution (address space;
                                                              default: 2048 per requested
                                                              vCPU); its processes together
                                                              may use up to ``memory_mb``
                                                              times ``max_processes``
``concurrency``        ``UN_ASYNC_LOCAL_CONCURRENCY``         executions running at once
                                                              (default: number of CPUs)
``output_limit_bytes`` ``UN_ASYNC_LOCAL_OUTPUT_LIMIT_BYTES``  bytes kept per stream (1 MiB)
``max_processes``      ``UN_ASYNC_LOCAL_MAX_PROCESSES``       processes and threads per
                                                              execution (32)
``file_size_mb``       ``UN_ASYNC_LOCAL_FILE_SIZE_MB``        largest file a program may
                                                              write (256)
``disk_limit_mb``      ``UN_ASYNC_LOCAL_DISK_LIMIT_MB``       disk an execution may fill in
                                                              its work directory and
                                                              ``/tmp`` together (1024;
                                                              measured every 0.25 s)
``artifact_limit_mb``  ``UN_ASYNC_LOCAL_ARTIFACT_LIMIT_MB``   total artifact bytes returned
                                                              (64)
``probe_cache``        ``UN_ASYNC_LOCAL_PROBE_CACHE``         keep the isolation probe's and
                                                              the toolchains' answers on
                                                              disk between processes (on;
                                                              ``0``/``false`` turns it off)
=====================  =====================================  ==============================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs

from un_async.core.errors import ConfigurationError

__all__ = ["ISOLATION_LEVELS", "LocalSettings"]

ISOLATION_LEVELS = ("bubblewrap", "namespaces", "none")
"""The isolation levels, best first."""

MIB = 1024 * 1024


@attrs.frozen(kw_only=True)
class LocalSettings:
    """Validated settings of one local backend instance."""

    isolation: str | None = None
    memory_mb: int | None = None
    concurrency: int = attrs.field(factory=lambda: os.cpu_count() or 1)
    output_limit_bytes: int = MIB
    max_processes: int = 32
    file_size_mb: int = 256
    disk_limit_mb: int = 1024
    artifact_limit_mb: int = 64
    probe_cache: bool = True

    @classmethod
    def from_setting(cls, setting: Callable[[str], Any]) -> LocalSettings:
        """Read every setting through ``setting(key)`` (``BackendContext.setting``);
        a malformed value is a :class:`ConfigurationError` naming the option."""
        isolation = setting("isolation")
        if isolation is not None:
            isolation = str(isolation).strip().lower()
            if isolation in {"", "auto", "best"}:
                isolation = None
            elif isolation not in ISOLATION_LEVELS:
                raise ConfigurationError(
                    f"local backend option isolation must be one of {', '.join(ISOLATION_LEVELS)}"
                    f" (or unset for the best available), got {isolation!r}"
                )
        values: dict[str, Any] = {"isolation": isolation}
        probe_cache = _boolean("probe_cache", setting("probe_cache"))
        if probe_cache is not None:
            values["probe_cache"] = probe_cache
        bounds = {
            "memory_mb": (16, 1024 * 1024),
            "concurrency": (1, 1024),
            "output_limit_bytes": (1024, 1024 * MIB),
            "max_processes": (8, 65536),
            "file_size_mb": (1, 1024 * 1024),
            "disk_limit_mb": (1, 1024 * 1024),
            "artifact_limit_mb": (0, 1024 * 1024),
        }
        for key, (low, high) in bounds.items():
            value = _integer(key, setting(key), low, high)
            if value is not None:
                values[key] = value
        return cls(**values)

    def memory_for(self, vcpu: int | None) -> int:
        """Megabytes of address space allowed to each process of one execution:
        ``memory_mb``, else 2 GiB per vCPU."""
        if self.memory_mb is not None:
            return self.memory_mb
        return 2048 * (vcpu or 1)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _boolean(key: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ConfigurationError(
        f"local backend option {key} must be true or false (1/0, yes/no, on/off), got {value!r}"
    )


def _integer(key: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise ConfigurationError(f"local backend option {key} must be an integer, got {value!r}")
    if not low <= number <= high:
        raise ConfigurationError(
            f"local backend option {key} must be from {low} to {high}, got {number}"
        )
    return number
