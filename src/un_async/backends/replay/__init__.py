"""Record and replay: cassettes for offline tests, examples and benchmarks.

Two levels, both by dependency injection:

* execution level — :class:`RecordingExecutor` wraps any backend (``unsandbox``,
  ``local`` or a third-party one) and records each operation of the backend contract —
  executions, waits, job calls, snapshots and resource calls (``api_call``) — with its
  result or error and its timing; :class:`ReplayExecutor` serves them with no network.
  Selected by name as backend ``replay`` (``UN_ASYNC_BACKEND=replay``,
  ``UN_ASYNC_CASSETTE``, ``UN_ASYNC_RECORD_MODE``, ``UN_ASYNC_REPLAY_LATENCY``,
  ``UN_ASYNC_REPLAY_RECORD_BACKEND``).
* HTTP level — :class:`CassetteTransport` under the unsandbox backend records normalised
  exchanges and, on replay, re-verifies every request's signature with the plugin host's
  signer.

The file format is described in ``docs/cassettes.md``. The HTTP level (and with it
aiohttp) is imported on first use of its names, so replaying a local or third-party
backend's cassette never loads the HTTP stack.
"""

from typing import TYPE_CHECKING, Any

from un_async.backends.replay.cassette import (
    FORMAT,
    READABLE_VERSIONS,
    VERSION,
    Cassette,
    Interaction,
    load_cassette,
    save_cassette,
)
from un_async.backends.replay.errors import (
    CassetteError,
    CassetteFormatError,
    CassetteMissError,
    CassetteNotFoundError,
    SecretLeakError,
    SignatureMismatchError,
)
from un_async.backends.replay.executor import RecordingExecutor, ReplayExecutor
from un_async.backends.replay.factory import replay_backend, reset_shared_sessions
from un_async.backends.replay.modes import Latency, RecordMode
from un_async.backends.replay.redaction import Redactor, SecretSet
from un_async.backends.replay.session import CassetteSession

__all__ = [
    "FORMAT",
    "READABLE_VERSIONS",
    "VERSION",
    "Cassette",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMissError",
    "CassetteNotFoundError",
    "CassetteSession",
    "CassetteTransport",
    "Interaction",
    "Latency",
    "RecordMode",
    "RecordingExecutor",
    "Redactor",
    "ReplayExecutor",
    "SecretLeakError",
    "SecretSet",
    "SignatureMismatchError",
    "load_cassette",
    "replay_backend",
    "reset_shared_sessions",
    "save_cassette",
    "verify_signature",
]

if TYPE_CHECKING:
    from un_async.backends.replay.cassette_transport import CassetteTransport, verify_signature

_HTTP_NAMES = frozenset({"CassetteTransport", "verify_signature"})


def __getattr__(name: str) -> Any:
    """Load the HTTP level (:mod:`~un_async.backends.replay.cassette_transport`) on first
    access."""
    if name in _HTTP_NAMES:
        from un_async.backends.replay import cassette_transport

        return getattr(cassette_transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
