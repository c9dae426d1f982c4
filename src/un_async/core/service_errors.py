"""The errors of talking to a service over HTTP (imports aiohttp).

They derive from :class:`~un_async.core.errors.UnsandboxError` and from
:class:`aiohttp.ClientError`; :class:`APIError` also from
:class:`aiohttp.ClientResponseError`, so ``except aiohttp.ClientResponseError`` written for
the reference client still catches them, with ``status`` and ``message`` set. Import them
from :mod:`un_async` or :mod:`un_async.core.errors` (loaded there on first access).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from un_async.core.errors import UnsandboxError

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "JobLostError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "ServiceError",
    "SudoRequiredError",
    "TransportError",
    "error_for_status",
]


class ServiceError(UnsandboxError, aiohttp.ClientError):
    """A failure talking to the service: an HTTP error status or a transport failure."""


class TransportError(ServiceError):
    """The request did not produce a usable HTTP response.

    ``request_sent`` is False when no byte of the request can have reached the server,
    which is what makes re-sending a non-idempotent call safe.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class JobLostError(ServiceError):
    """The server lost a job's state (it answered 5xx, then 404, while we polled)."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_job_lost, (str(self), self.job_id))


def _rebuild_job_lost(message: str, job_id: str) -> JobLostError:
    return JobLostError(message, job_id=job_id)


class APIError(ServiceError, aiohttp.ClientResponseError):
    """The server answered with an error status.

    ``status`` is the HTTP status, ``body`` the parsed JSON body (or ``{"raw": text}``),
    ``error`` the body's machine-readable code and ``server_message`` its human text.
    ``str(exc)`` shows the server's message; ``message`` (as on
    :class:`aiohttp.ClientResponseError`) is the server's text, else the error code.
    ``request_info`` is ``None``: the request is described by ``method`` and ``path``.
    """

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any] | None = None,
        *,
        method: str = "",
        path: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body: Mapping[str, Any] = dict(body or {})
        self.method = method
        self.path = path
        self.headers: Mapping[str, str] = dict(headers or {})  # type: ignore[assignment]
        error = self.body.get("error")
        message = self.body.get("message")
        self.error: str | None = error if isinstance(error, str) else None
        self.server_message: str | None = message if isinstance(message, str) else None
        # aiohttp.ClientResponseError's own fields, set without its __init__ (which wants
        # a RequestInfo and would make args hold it).
        self.request_info = None  # type: ignore[assignment]
        self.history = ()
        self.message = self.server_message or self.error or ""
        Exception.__init__(self, self._describe())

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args[0] if self.args else ''!r})"

    def _describe(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        text = self.server_message or self.error or self.body.get("raw") or "no details"
        if self.server_message and self.error and self.error not in self.server_message:
            text = f"{self.error}: {self.server_message}"
        return f"HTTP {self.status}{where}: {text}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.status, dict(self.body), self.method, self.path, dict(self.headers)),
        )


def _rebuild_api_error(
    cls: type[APIError],
    status: int,
    body: dict[str, Any],
    method: str,
    path: str,
    headers: dict[str, str],
) -> APIError:
    return cls(status, body, method=method, path=path, headers=headers)


class BadRequestError(APIError):
    """400: the server rejected the request's content."""


class AuthenticationError(APIError):
    """401: the key is unknown or the signature/timestamp was rejected.

    ``clock_skew`` is True when the server's message mentions the timestamp, which means
    the local clock is more than five minutes away from the server's.
    """

    @property
    def clock_skew(self) -> bool:
        text = f"{self.server_message or ''} {self.error or ''}".lower()
        return "timestamp" in text

    def _describe(self) -> str:
        text = super()._describe()
        if self.clock_skew:
            text += " (the local clock may be off; check NTP synchronisation)"
        return text


class PermissionDeniedError(APIError):
    """403: the account may not do this (e.g. snapshots on the free tier)."""


class NotFoundError(APIError):
    """404: the job, snapshot or session does not exist."""


class RequestTimeoutError(APIError):
    """408: the server (or a proxy) gave up waiting for the request; worth retrying."""


class ConflictError(APIError):
    """409: the resource is in a conflicting state (name taken, service not running)."""


class SudoRequiredError(APIError):
    """428: a destructive call needs a one-time password; ``challenge_id`` identifies it."""

    @property
    def challenge_id(self) -> str | None:
        value = self.body.get("challenge_id")
        return value if isinstance(value, str) else None


class RateLimitError(APIError):
    """429: the key's request rate or concurrent-execution limit was reached.

    ``error`` is ``"rate_limit_exceeded"`` or ``"concurrency_limit_reached"``;
    ``active_executions`` and ``concurrency_limit`` come from the body when sent;
    ``retry_after`` is the ``Retry-After`` header in seconds, if the server sent one.
    """

    @property
    def active_executions(self) -> int | None:
        return _int_or_none(self.body.get("active_executions"))

    @property
    def concurrency_limit(self) -> int | None:
        return _int_or_none(self.body.get("concurrency_limit"))

    @property
    def is_concurrency_limit(self) -> bool:
        return self.error == "concurrency_limit_reached" or self.concurrency_limit is not None

    @property
    def retry_after(self) -> float | None:
        from un_async.core.retry import parse_retry_after

        return parse_retry_after(self.headers.get("Retry-After"))


class ServerError(APIError):
    """5xx: the service failed; usually transient."""


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    428: SudoRequiredError,
    429: RateLimitError,
}


def error_for_status(
    status: int,
    body: Mapping[str, Any] | None,
    *,
    method: str = "",
    path: str = "",
    headers: Mapping[str, str] | None = None,
) -> APIError:
    """Build the most specific :class:`APIError` for an HTTP error status."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, body, method=method, path=path, headers=headers)
