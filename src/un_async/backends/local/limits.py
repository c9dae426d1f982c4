"""Resource limits of one execution, and their form as ``setrlimit`` values.

Limits are applied by the helper that starts the program (``prlimit`` or the launcher),
never with ``preexec_fn``. Memory is an address-space limit (``RLIMIT_AS``) except for
runtimes that reserve far more address space than they use: the JVM gets ``-Xmx`` and
no ``RLIMIT_AS``; V8 gets ``--max-old-space-size`` and ``RLIMIT_AS`` with headroom.

Memory is limited *per process*: an execution's processes together may use up to
``memory_mb`` times ``processes`` (without cgroups nothing can bound their sum). The disk
limit is not an rlimit either: the runner measures the workspace while the program runs
(:func:`~un_async.backends.local.workspace.disk_usage`).
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["COMPILE_MEMORY_FLOOR_MB", "DEFAULT_TTL", "Limits", "MemoryPolicy"]

DEFAULT_TTL = 60
"""Seconds of wall-clock time when the request gives no ``ttl`` (as on the service)."""

COMPILE_MEMORY_FLOOR_MB = 2048
"""Compilers get at least this much address space, whatever the program's budget."""

HEADROOM_MB = 1024
"""Address space added for runtimes that reserve a large fixed amount (V8)."""

MIB = 1024 * 1024


class MemoryPolicy(enum.Enum):
    """How a toolchain's memory budget is enforced."""

    ADDRESS_SPACE = "address-space"
    """``RLIMIT_AS`` equal to the budget."""
    HEADROOM = "address-space-with-headroom"
    """``RLIMIT_AS`` of the budget plus :data:`HEADROOM_MB` (the runtime caps its heap)."""
    RUNTIME = "runtime-flag"
    """No ``RLIMIT_AS`` (it would stop the runtime from starting): a heap flag only."""


@attrs.frozen(kw_only=True)
class Limits:
    """The budget of one execution. ``wall_seconds`` covers compile and run together."""

    wall_seconds: float
    memory_mb: int
    cpu_seconds: int
    processes: int
    file_size_bytes: int
    disk_bytes: int = 1024 * MIB
    """The work, build and ``tmp`` directories together (watched, not an rlimit)."""

    def rlimits(
        self, policy: MemoryPolicy, *, compiling: bool = False
    ) -> dict[str, tuple[int, int]]:
        """``{name: (soft, hard)}`` for ``setrlimit``/``prlimit`` (names as ``prlimit``'s
        options: ``as``, ``cpu``, ``fsize``, ``nproc``, ``core``).

        ``RLIMIT_CPU``'s soft limit sends ``SIGXCPU`` (reported as a time limit); the hard
        limit one second later kills a program that ignores it.
        """
        limits = {
            "cpu": (self.cpu_seconds, self.cpu_seconds + 1),
            "fsize": (self.file_size_bytes, self.file_size_bytes),
            "nproc": (self.processes, self.processes),
            "core": (0, 0),
        }
        memory = max(self.memory_mb, COMPILE_MEMORY_FLOOR_MB) if compiling else self.memory_mb
        if policy is MemoryPolicy.ADDRESS_SPACE:
            limits["as"] = (memory * MIB, memory * MIB)
        elif policy is MemoryPolicy.HEADROOM:
            space = (memory + HEADROOM_MB) * MIB
            limits["as"] = (space, space)
        return limits
