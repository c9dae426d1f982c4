"""The un_async exception hierarchy.

Every error the SDK raises derives from :class:`UnsandboxError`. Errors that come from
talking to the service (HTTP errors and transport failures) also derive from
:class:`aiohttp.ClientError`, so code written against the reference client's documented
``except aiohttp.ClientError`` keeps working::

    UnsandboxError
    ├── CredentialsError              no usable credentials (names the source tried)
    ├── ConfigurationError            bad client configuration (also ValueError)
    ├── ValidationError               bad arguments, raised before any request (also ValueError)
    ├── JobTimeoutError               a client-side deadline passed (also TimeoutError)
    ├── ClientClosedError             the client was used after aclose() (also RuntimeError)
    ├── UnsupportedOperationError     the backend does not offer this operation
    ├── ServiceError                  anything from the wire (also aiohttp.ClientError)
    │   ├── TransportError            connection failed/reset, malformed reply, read timeout
    │   ├── JobLostError              the server forgot a job (5xx then 404 while polling)
    │   └── APIError                  the server answered with an error status
    │       ├── BadRequestError       400
    │       ├── AuthenticationError   401 (``clock_skew`` when the message mentions the timestamp)
    │       ├── PermissionDeniedError 403
    │       ├── NotFoundError         404
    │       ├── RequestTimeoutError   408 (transient: the server gave up waiting for the request)
    │       ├── ConflictError         409
    │       ├── SudoRequiredError     428 (carries ``challenge_id``)
    │       ├── RateLimitError        429 (``error``, ``active_executions``, ``concurrency_limit``,
    │       │                              ``retry_after``)
    │       └── ServerError           5xx

The service family (:class:`ServiceError` and below) lives in
:mod:`un_async.core.service_errors`, which imports aiohttp; its names are importable from
here too, loaded on first access, so that code running only the local backend never pays
for aiohttp. :class:`APIError` is also an :class:`aiohttp.ClientResponseError` (``status``,
``message``), like the reference client's errors.

Messages never contain secret keys or signatures.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from un_async.core.service_errors import (
        APIError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        JobLostError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RequestTimeoutError,
        ServerError,
        ServiceError,
        SudoRequiredError,
        TransportError,
        error_for_status,
    )

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "CredentialsError",
    "JobLostError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "ServiceError",
    "SudoRequiredError",
    "TransportError",
    "UnsandboxError",
    "UnsupportedOperationError",
    "ValidationError",
    "error_for_status",
]


class UnsandboxError(Exception):
    """Base class of every error raised by un_async."""


class CredentialsError(UnsandboxError):
    """No usable credentials were found; the message names the sources tried."""


class ConfigurationError(UnsandboxError, ValueError):
    """The client or an environment variable is configured inconsistently."""


class ValidationError(UnsandboxError, ValueError):
    """A call argument is invalid; raised before any request is sent."""


class JobTimeoutError(UnsandboxError, TimeoutError):
    """A client-side deadline passed before the job finished.

    ``job_id`` and ``last_state`` (the last job object seen, if any) tell what was known.
    """

    def __init__(self, message: str, *, job_id: str | None = None, last_state: Any = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.last_state = last_state


class ClientClosedError(UnsandboxError, RuntimeError):
    """The client (or its transport) was used after it was closed; never retried."""




class UnsupportedOperationError(UnsandboxError, NotImplementedError):
    """The selected backend does not offer this operation (e.g. sessions on ``local``).

    ``backend`` names the backend and ``operation`` the operation asked for.
    """

    def __init__(self, backend: str, operation: str, hint: str = "") -> None:
        self.backend = backend
        self.operation = operation
        self.hint = hint
        text = f"backend {backend!r} does not support {operation}"
        super().__init__(f"{text}; {hint}" if hint else text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.backend, self.operation, self.hint))


SERVICE_ERROR_NAMES = frozenset(
    {
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
    }
)
_SERVICE_MODULE = "un_async.core.service_errors"


def __getattr__(name: str) -> Any:
    """Load the service error family (and aiohttp) on first access."""
    if name in SERVICE_ERROR_NAMES:
        import importlib

        return getattr(importlib.import_module(_SERVICE_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def loaded_service_error(name: str) -> type[BaseException] | None:
    """The service error class ``name`` if its module was imported, else ``None``.

    Core code on the local path uses this for ``isinstance`` checks: when the module was
    never imported, no such error can have been raised.
    """
    module = sys.modules.get(_SERVICE_MODULE)
    cls = getattr(module, name, None) if module is not None else None
    return cls if isinstance(cls, type) else None
