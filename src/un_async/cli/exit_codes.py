"""Exit statuses of the command line, and the status for a result or an error.

======  ===================================================================================
status  meaning
======  ===================================================================================
0-255   ``run``/``jobs wait``: the program's own exit code
0       success (``batch``: every program exited 0)
1       ``batch``: some program failed; ``doctor``: the backend cannot run code; aborted
2       usage error (bad option, missing argument, unreadable file)
3       credentials or authentication error (no keys, HTTP 401)
4       any other error (validation, API, transport, unsupported operation, artifacts
        that cannot be written, a sandbox that could not start the program)
124     the run timed out (the service's ``timeout`` status or the client deadline)
130     cancelled: Ctrl-C (after the job was cancelled), or a ``cancelled`` result
======  ===================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from un_async.core.errors import CredentialsError, JobTimeoutError, loaded_service_error

__all__ = [
    "CREDENTIALS",
    "FAILURE",
    "INTERRUPTED",
    "OK",
    "SDK_ERROR",
    "TIMED_OUT",
    "USAGE",
    "for_error",
    "for_result",
]

OK = 0
FAILURE = 1
USAGE = 2
CREDENTIALS = 3
SDK_ERROR = 4
TIMED_OUT = 124
INTERRUPTED = 130


def _program_status(exit_code: Any) -> int | None:
    """A program's exit code as a process status (negative: killed by signal N)."""
    if isinstance(exit_code, bool) or not isinstance(exit_code, int):
        return None
    if 0 <= exit_code <= 255:
        return exit_code
    if -64 < exit_code < 0:
        return 128 - exit_code
    return FAILURE


def for_result(result: Mapping[str, Any]) -> int:
    """The status for a final result: ``timeout`` 124, ``cancelled`` 130, else the program's
    exit code (a ``failed`` run without one: 1; ``completed`` without one: 0)."""
    status = str(result.get("status") or "").lower()
    if status == "timeout":
        return TIMED_OUT
    if status == "cancelled":
        return INTERRUPTED
    code = _program_status(result.get("exit_code"))
    if code is not None:
        return code
    return OK if status == "completed" else FAILURE


def for_error(error: BaseException) -> int:
    """The status for an error raised by the SDK (or anything else)."""
    if isinstance(error, JobTimeoutError):
        return TIMED_OUT
    if isinstance(error, CredentialsError):
        return CREDENTIALS
    # Only an imported module can have raised its errors: classify without importing it
    # (the HTTP error family loads aiohttp).
    authentication = loaded_service_error("AuthenticationError")
    if authentication is not None and isinstance(error, authentication):
        return CREDENTIALS
    return SDK_ERROR
