"""Executor values and errors to cassette JSON and back.

Results, job entries, snapshots and records are stored as the ``dict`` they are and
rebuilt by their model's constructor, so a replayed object has the same keys and the
same typed attributes as the recorded one. Errors are
stored by type name with the fields needed to rebuild them: HTTP errors by status, body,
method and path (the most specific :class:`~un_async.APIError` subclass follows from the
status), other SDK errors by message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from un_async.backends.replay.errors import CassetteFormatError
from un_async.backends.replay.redaction import RESPONSE_HEADERS, allowed_headers
from un_async.core import errors as sdk_errors
from un_async.core.models import ExecutionResult, JobInfo, Record, Snapshot

__all__ = ["Decoder", "Encoder", "decode_error", "encode_error", "value_codec"]

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


def _view(value: Any) -> dict[str, Any]:
    return dict(value)


def _views(values: Any) -> list[dict[str, Any]]:
    return [dict(item) for item in values]


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


def _mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise CassetteFormatError(f"expected an object value, found {type(data).__name__}")
    return data


def _list(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise CassetteFormatError(f"expected a list value, found {type(data).__name__}")
    return data


_CODECS: dict[str, tuple[Encoder, Decoder]] = {
    "submit": (_view, _result),
    "get_job": (_view, _result),
    "poll_job": (_view, _result),
    "cancel_job": (_view, _record),
    "list_jobs": (_views, _job_infos),
    "get_languages": (list, _strings),
    "create_snapshot": (str, _string),
    "list_snapshots": (_views, _snapshots),
    "restore_snapshot": (_view, _record),
    "delete_snapshot": (_view, _record),
}


def value_codec(operation: str) -> tuple[Encoder, Decoder]:
    """The (encode, decode) pair for the return value of executor ``operation``."""
    try:
        return _CODECS[operation]
    except KeyError:
        raise CassetteFormatError(f"unknown executor operation {operation!r}") from None


def encode_error(exc: BaseException) -> dict[str, Any] | None:
    """The stored form of an SDK error, or ``None`` for errors that are not recorded
    (anything outside :mod:`un_async.core.errors`, such as bugs or cancellation)."""
    if not isinstance(exc, sdk_errors.UnsandboxError):
        return None
    name = type(exc).__name__
    if getattr(sdk_errors, name, None) is not type(exc):
        return None
    if isinstance(exc, sdk_errors.APIError):
        return {
            "type": name,
            "status": exc.status,
            "body": dict(exc.body),
            "method": exc.method,
            "path": exc.path,
            "headers": allowed_headers(exc.headers, RESPONSE_HEADERS),
        }
    data: dict[str, Any] = {"type": name, "message": str(exc)}
    if isinstance(exc, sdk_errors.TransportError):
        data["request_sent"] = exc.request_sent
    if isinstance(exc, sdk_errors.JobLostError):
        data["job_id"] = exc.job_id
    if isinstance(exc, sdk_errors.JobTimeoutError):
        data["job_id"] = exc.job_id
    return data


def decode_error(data: Mapping[str, Any]) -> sdk_errors.UnsandboxError:
    """Rebuild an error stored by :func:`encode_error`."""
    name = data.get("type")
    cls = getattr(sdk_errors, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, sdk_errors.UnsandboxError)):
        raise CassetteFormatError(f"unknown recorded error type {name!r}")
    if issubclass(cls, sdk_errors.APIError):
        status = data.get("status")
        if not isinstance(status, int):
            raise CassetteFormatError(f"recorded {name} has no HTTP status")
        body = data.get("body")
        return sdk_errors.error_for_status(
            status,
            body if isinstance(body, Mapping) else None,
            method=str(data.get("method", "")),
            path=str(data.get("path", "")),
            headers=data.get("headers") or {},
        )
    message = str(data.get("message", ""))
    if issubclass(cls, sdk_errors.TransportError):
        return cls(message, request_sent=bool(data.get("request_sent", True)))
    if issubclass(cls, sdk_errors.JobLostError):
        return cls(message, job_id=str(data.get("job_id", "")))
    if issubclass(cls, sdk_errors.JobTimeoutError):
        return cls(message, job_id=data.get("job_id"))
    return cls(message)
