"""Everything a plugin author needs, in one import.

Plugins are modules or objects whose functions carry ``@hookimpl``; publish them in the
``un_async`` entry-point group. This module re-exports the hook marker, the hook protocols,
the backend contract, the models and the errors, so a plugin never reaches into
``un_async.core``::

    from un_async.plugin import BaseExecutor, ExecutionResult, JobStatus, hookimpl
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from un_async.core.credentials import CredentialContext, Credentials
from un_async.core.errors import (
    ClientClosedError,
    ConfigurationError,
    CredentialsError,
    JobTimeoutError,
    UnsandboxError,
    UnsupportedOperationError,
    ValidationError,
)
from un_async.core.events import ExecutionEvent
from un_async.core.executor import (
    REQUIRED_OPERATIONS,
    BackendContext,
    BaseExecutor,
    SudoCallback,
    as_executor,
)
from un_async.core.hookspecs import (
    PROJECT,
    BackendFactory,
    CredentialProvider,
    LanguagesCache,
    RegisterBackend,
    RegisterCredentialProvider,
    ResultCache,
    Signer,
    hookimpl,
    hookspec,
)
from un_async.core.models import (
    Artifact,
    ExecutionRequest,
    ExecutionResult,
    InputFile,
    JobInfo,
    JobStatus,
    Record,
    Snapshot,
)
from un_async.core.plugin_host import PluginHost

if TYPE_CHECKING:
    from un_async.core.service_errors import (
        APIError,
        NotFoundError,
        ServiceError,
        TransportError,
    )

__all__ = [
    "PROJECT",
    "REQUIRED_OPERATIONS",
    "APIError",
    "Artifact",
    "BackendContext",
    "BackendFactory",
    "BaseExecutor",
    "ClientClosedError",
    "ConfigurationError",
    "CredentialContext",
    "CredentialProvider",
    "Credentials",
    "CredentialsError",
    "ExecutionEvent",
    "ExecutionRequest",
    "ExecutionResult",
    "InputFile",
    "JobInfo",
    "JobStatus",
    "JobTimeoutError",
    "LanguagesCache",
    "NotFoundError",
    "PluginHost",
    "Record",
    "RegisterBackend",
    "RegisterCredentialProvider",
    "ResultCache",
    "ServiceError",
    "Signer",
    "Snapshot",
    "SudoCallback",
    "TransportError",
    "UnsandboxError",
    "UnsupportedOperationError",
    "ValidationError",
    "as_executor",
    "hookimpl",
    "hookspec",
]


def __getattr__(name: str) -> Any:
    """The HTTP error family, loaded on first access (it imports aiohttp)."""
    from un_async.core import errors

    if name in errors.SERVICE_ERROR_NAMES:
        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
