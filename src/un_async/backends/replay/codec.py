"""Executor values and errors to cassette JSON and back, for any backend.

Results, job entries, snapshots and records are ``dict`` instances; they are stored as
the mapping they are and rebuilt by their model's own from-mapping constructor
(``ExecutionResult(mapping)``, ...), so a replayed value has the same keys and the same
typed attributes as the recorded one (``reason``, ``truncated``, ``isolation`` and
artifacts included) whichever backend produced it. Replay decodes a recording once and
serves :func:`fresh` copies: changing a replayed value never changes the cassette or a
later replay. Resource-call replies (``api_call``) are JSON data, stored and returned as
they are.

Errors are stored by type name with the fields needed to rebuild them: HTTP errors by
status, body, method and path (the most specific :class:`~un_async.APIError` subclass
follows from the status), unsupported operations by backend and operation, other SDK
errors by message. Encoding a local backend's errors never imports the HTTP error family
(nor aiohttp).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from un_async.backends.replay.errors import CassetteFormatError
from un_async.backends.replay.redaction import RESPONSE_HEADERS, allowed_headers
from un_async.core import errors as sdk_errors
from un_async.core.models import ExecutionResult, JobInfo, Record, Snapshot

__all__ = [
    "Decoder",
    "Encoder",
    "decode_error",
    "encode_error",
    "fresh",
    "plain",
    "value_codec",
]

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """A copy of ``value`` as plain JSON data (mappings become ``dict``, sequences
    ``list``), so nothing stored shares containers with what a caller holds."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {
            key if type(key) is str else str(key): item if type(item) in _SCALARS else plain(item)
            for key, item in value.items()
        }
    if kind is list or isinstance(value, list | tuple):
        return [item if type(item) in _SCALARS else plain(item) for item in value]
    return value


def fresh(value: Any) -> Any:
    """A copy of a decoded value (a reply model, a list of them, JSON data) that shares
    no container with it: replay decodes a recording once and serves copies."""
    if isinstance(value, dict):
        clone = value.copy()  # a reply model's copy() keeps its class
        for key, item in clone.items():
            if type(item) not in _SCALARS:
                clone[key] = plain(item)
        return clone
    if isinstance(value, list):
        return [fresh(item) for item in value]
    return value


def _mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise CassetteFormatError(f"expected an object value, found {type(data).__name__}")
    copied: dict[str, Any] = plain(data)
    return copied


def _list(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise CassetteFormatError(f"expected a list value, found {type(data).__name__}")
    return data


def _result(data: Any) -> ExecutionResult:
    result = ExecutionResult(_mapping(data))
    try:
        result.artifacts  # noqa: B018  (decoded now: a corrupt cassette fails here)
    except ValueError:
        raise CassetteFormatError("recorded artifact content is not valid base64") from None
    return result


def _job_infos(data: Any) -> list[JobInfo]:
    return [JobInfo(_mapping(item)) for item in _list(data)]


def _snapshots(data: Any) -> list[Snapshot]:
    return [Snapshot(_mapping(item)) for item in _list(data)]


def _record(data: Any) -> Record:
    return Record(_mapping(data))


def _strings(data: Any) -> list[str]:
    return [str(item) for item in _list(data)]


def _string(data: Any) -> str:
    if not isinstance(data, str):
        raise CassetteFormatError(f"expected a string value, found {type(data).__name__}")
    return data


def _views(values: Any) -> list[Any]:
    return [plain(item) for item in values]


_CODECS: dict[str, tuple[Encoder, Decoder]] = {
    "submit": (plain, _result),
    "get_job": (plain, _result),
    "poll_job": (plain, _result),
    "wait_job": (plain, _result),
    "cancel_job": (plain, _record),
    "list_jobs": (_views, _job_infos),
    "get_languages": (list, _strings),
    "create_snapshot": (str, _string),
    "list_snapshots": (_views, _snapshots),
    "restore_snapshot": (plain, _record),
    "delete_snapshot": (plain, _record),
    "api_call": (plain, plain),
}


def value_codec(operation: str) -> tuple[Encoder, Decoder]:
    """The (encode, decode) pair for the return value of executor ``operation``."""
    try:
        return _CODECS[operation]
    except KeyError:
        raise CassetteFormatError(f"unknown executor operation {operation!r}") from None


def encode_error(exc: BaseException) -> dict[str, Any] | None:
    """The stored form of an SDK error, or ``None`` for errors that are not recorded
    (anything outside the SDK's error hierarchy, such as bugs or cancellation)."""
    if not isinstance(exc, sdk_errors.UnsandboxError):
        return None
    name = type(exc).__name__
    api_error = sdk_errors.loaded_service_error("APIError")
    if api_error is not None and isinstance(exc, api_error):
        if getattr(sdk_errors, name, None) is not type(exc):
            return None
        http: Any = exc  # an APIError (its class is only known at run time)
        return {
            "type": name,
            "status": http.status,
            "body": dict(http.body),
            "method": http.method,
            "path": http.path,
            "headers": allowed_headers(http.headers, RESPONSE_HEADERS),
        }
    if getattr(sdk_errors, name, None) is not type(exc):
        return None
    data: dict[str, Any] = {"type": name, "message": str(exc)}
    if isinstance(exc, sdk_errors.UnsupportedOperationError):
        data.update(backend=exc.backend, operation=exc.operation)
    for attribute in ("request_sent", "job_id"):
        if hasattr(exc, attribute):
            data[attribute] = getattr(exc, attribute)
    return data


def decode_error(data: Mapping[str, Any]) -> sdk_errors.UnsandboxError:
    """Rebuild an error stored by :func:`encode_error`."""
    name = str(data.get("type"))
    cls = getattr(sdk_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, sdk_errors.UnsandboxError)):
        raise CassetteFormatError(f"unknown recorded error type {data.get('type')!r}")
    message = str(data.get("message", ""))
    if _is(cls, "APIError"):
        status = data.get("status")
        if not isinstance(status, int):
            raise CassetteFormatError(f"recorded {name} has no HTTP status")
        body = data.get("body")
        rebuilt: sdk_errors.UnsandboxError = sdk_errors.error_for_status(
            status,
            body if isinstance(body, Mapping) else None,
            method=str(data.get("method", "")),
            path=str(data.get("path", "")),
            headers=data.get("headers") or {},
        )
        return rebuilt
    if _is(cls, "TransportError"):
        return cls(message, request_sent=bool(data.get("request_sent", True)))  # type: ignore[call-arg]
    if _is(cls, "JobLostError"):
        return cls(message, job_id=str(data.get("job_id", "")))  # type: ignore[call-arg]
    if issubclass(cls, sdk_errors.UnsupportedOperationError):
        backend, operation = str(data.get("backend", "")), str(data.get("operation", ""))
        prefix = f"backend {backend!r} does not support {operation}; "
        hint = message.removeprefix(prefix) if message.startswith(prefix) else ""
        return cls(backend, operation, hint)
    if issubclass(cls, sdk_errors.JobTimeoutError):
        return cls(message, job_id=data.get("job_id"))
    return cls(message)


def _is(cls: type, service_error: str) -> bool:
    """True when ``cls`` is (a subclass of) the HTTP error family's ``service_error``
    (never true, and nothing imported, while that family was never loaded)."""
    base = sdk_errors.loaded_service_error(service_error)
    return base is not None and issubclass(cls, base)
