"""Turning how a program ended into ``status``, ``reason``, ``exit_code`` and ``error``.

* the sandbox did not report itself set up (:attr:`Outcome.started`, a pipe the program
  never holds) → ``failed``/``sandbox`` (never the program's fault; ``error`` has the
  helper's message). Whatever the program writes cannot produce this verdict;
* cancelled → ``cancelled``/``signal``, deadline → ``timeout``/``time``, both with
  ``exit_code`` 137 (our ``SIGKILL``);
* killed by a signal N → ``exit_code`` 128+N: ``SIGXCPU`` (CPU limit) is
  ``timeout``/``time``, ``SIGXFSZ`` (file size limit) ``failed``/``file_size``, others
  ``failed``/``signal``;
* ``memory`` is claimed only when the runtime's own out-of-memory message (Python's
  ``MemoryError``, ...) is in the last 4 KiB of stderr *and* the program ended as such a failure
  does (a non-zero exit, or ``SIGABRT``/``SIGKILL``/``SIGSEGV``/``SIGBUS``/``SIGTRAP``).
  The memory limit leaves no trace a program could not also produce, so this is the
  runtime's report taken at its word — a program that prints the same message and exits
  the same way is reported the same — never a measurement;
* a non-zero exit → ``failed`` with ``exit``, or ``file_size`` when the runtime's message
  says so (``File too large``: likewise the program's word); a compiler's non-zero exit
  → ``failed``/``compile``;
* exit 0 → ``completed`` with no reason.

At the ``bubblewrap`` and ``namespaces`` levels the program is not our child: its init
reports a death by signal N as exit status 128+N, so there a program's own ``exit(130)``
also reads as signal 2.
"""

from __future__ import annotations

import signal

import attrs

from un_async.backends.local.process import Outcome
from un_async.core.models import JobStatus

__all__ = ["Verdict", "judge"]

_TAIL_CHARS = 4096
_OOM_SIGNALS = frozenset(
    {signal.SIGABRT, signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGTRAP}
)
"""How runtimes end when an allocation fails (abort, a fault, the kernel's kill)."""
_MAX_SIGNAL = 64
KILLED = 128 + signal.SIGKILL


@attrs.frozen(kw_only=True)
class Verdict:
    """The result fields decided by how a step ended."""

    status: JobStatus
    reason: str | None
    exit_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.COMPLETED


def _sandbox_message(outcome: Outcome) -> str:
    """What the helper that failed said (the program never ran: stderr is all theirs)."""
    head = outcome.stderr.head.decode("utf-8", "replace").strip()
    return head.split("\n", 1)[0] if head else f"exit status {outcome.returncode}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def judge(
    outcome: Outcome,
    *,
    compiling: bool,
    exact_signals: bool,
    oom_markers: tuple[str, ...],
    limits_text: str,
) -> Verdict:
    """The verdict on one step. ``exact_signals``: the return code is the program's own
    (level ``none``), so 128+N is an exit status, not a signal. ``limits_text`` describes
    the limits for ``error`` messages."""
    if outcome.returncode is None:
        return Verdict(
            status=JobStatus.FAILED, reason="sandbox", exit_code=None, error=outcome.spawn_error
        )
    if outcome.ended_by == "cancel":
        return Verdict(
            status=JobStatus.CANCELLED, reason="signal", exit_code=KILLED, error="cancelled"
        )
    if outcome.ended_by == "deadline":
        return Verdict(
            status=JobStatus.TIMEOUT,
            reason="time",
            exit_code=KILLED,
            error=f"wall-clock limit reached ({limits_text})",
        )
    if not outcome.started:
        return Verdict(
            status=JobStatus.FAILED,
            reason="sandbox",
            exit_code=None,
            error=f"the sandbox failed to start the program: {_sandbox_message(outcome)}",
        )
    code = outcome.returncode
    signum: int | None = None
    if code < 0:
        signum, code = -code, 128 - code
    elif not exact_signals and 128 < code <= 128 + _MAX_SIGNAL:
        signum = code - 128
    if code == 0:
        return Verdict(status=JobStatus.COMPLETED, reason=None, exit_code=0)
    if signum == signal.SIGXCPU:
        return Verdict(
            status=JobStatus.TIMEOUT,
            reason="time",
            exit_code=code,
            error=f"CPU time limit reached ({limits_text})",
        )
    if signum == signal.SIGXFSZ:
        return Verdict(
            status=JobStatus.FAILED,
            reason="file_size",
            exit_code=code,
            error=f"file size limit reached ({limits_text})",
        )
    tail = outcome.stderr.text()[-_TAIL_CHARS:]
    ended_as_oom = signum is None or signum in _OOM_SIGNALS
    if ended_as_oom and any(marker in tail for marker in oom_markers):
        return Verdict(
            status=JobStatus.FAILED,
            reason="memory",
            exit_code=code,
            error=f"out of memory, as the runtime reported ({limits_text})",
        )
    if compiling:
        return Verdict(
            status=JobStatus.FAILED, reason="compile", exit_code=code, error="compilation failed"
        )
    if signum is not None:
        return Verdict(
            status=JobStatus.FAILED,
            reason="signal",
            exit_code=code,
            error=f"killed by {_signal_name(signum)}",
        )
    if "File too large" in tail:
        return Verdict(
            status=JobStatus.FAILED,
            reason="file_size",
            exit_code=code,
            error=f"file size limit reached ({limits_text})",
        )
    return Verdict(status=JobStatus.FAILED, reason="exit", exit_code=code)
