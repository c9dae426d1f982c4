"""un_async: the asynchronous SDK for the unsandbox.com code-execution service.

The module-level functions are the seed README's API; :class:`AsyncClient` is the
configurable object behind them; :mod:`un_async.sync` offers the same functions blocking.
The HTTP error classes (:class:`APIError` and its family) are loaded on first access, so a
program that only runs the local backend never imports aiohttp.
"""

from typing import TYPE_CHECKING, Any

from un_async._version import __version__
from un_async.api import (
    cancel_job,
    delete_snapshot,
    detect_language,
    execute_async,
    execute_code,
    execute_many,
    get_default_client,
    get_job,
    get_languages,
    list_jobs,
    list_snapshots,
    restore_snapshot,
    session_snapshot,
    wait_for_job,
)
from un_async.core.client import AsyncClient
from un_async.core.config import ClientConfig
from un_async.core.credentials import Credentials
from un_async.core.errors import (
    ClientClosedError,
    ConfigurationError,
    CredentialsError,
    JobTimeoutError,
    UnsandboxError,
    UnsupportedOperationError,
    ValidationError,
)
from un_async.core.execution_options import ExecutionOptions
from un_async.core.executor import BackendContext, BaseExecutor
from un_async.core.fanout import ExecutionOutcome, ExecutionStream
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
from un_async.core.retry import RetryPolicy
from un_async.reference_api import (
    boost_session,
    cli_main,
    clone_snapshot,
    create_service,
    create_session,
    delete_service,
    delete_service_env,
    delete_session,
    execute_in_service,
    export_service_env,
    freeze_service,
    freeze_session,
    get_service,
    get_service_env,
    get_service_logs,
    get_session,
    image,
    list_services,
    list_sessions,
    lock_service,
    lock_snapshot,
    redeploy_service,
    service_snapshot,
    set_service_env,
    set_show_freeze_page,
    set_unfreeze_on_demand,
    shell_session,
    unboost_session,
    unfreeze_service,
    unfreeze_session,
    unlock_service,
    unlock_snapshot,
    update_service,
    validate_keys,
)

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
    )

__all__ = [
    "APIError",
    "Artifact",
    "AsyncClient",
    "AuthenticationError",
    "BackendContext",
    "BadRequestError",
    "BaseExecutor",
    "ClientClosedError",
    "ClientConfig",
    "ConfigurationError",
    "ConflictError",
    "Credentials",
    "CredentialsError",
    "ExecutionOptions",
    "ExecutionOutcome",
    "ExecutionRequest",
    "ExecutionResult",
    "ExecutionStream",
    "InputFile",
    "JobInfo",
    "JobLostError",
    "JobStatus",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Record",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServerError",
    "ServiceError",
    "Snapshot",
    "SudoRequiredError",
    "TransportError",
    "UnsandboxError",
    "UnsupportedOperationError",
    "ValidationError",
    "__version__",
    "boost_session",
    "cancel_job",
    "cli_main",
    "clone_snapshot",
    "create_service",
    "create_session",
    "delete_service",
    "delete_service_env",
    "delete_session",
    "delete_snapshot",
    "detect_language",
    "execute_async",
    "execute_code",
    "execute_in_service",
    "execute_many",
    "export_service_env",
    "freeze_service",
    "freeze_session",
    "get_default_client",
    "get_job",
    "get_languages",
    "get_service",
    "get_service_env",
    "get_service_logs",
    "get_session",
    "image",
    "list_jobs",
    "list_services",
    "list_sessions",
    "list_snapshots",
    "lock_service",
    "lock_snapshot",
    "redeploy_service",
    "restore_snapshot",
    "service_snapshot",
    "session_snapshot",
    "set_service_env",
    "set_show_freeze_page",
    "set_unfreeze_on_demand",
    "shell_session",
    "unboost_session",
    "unfreeze_service",
    "unfreeze_session",
    "unlock_service",
    "unlock_snapshot",
    "update_service",
    "validate_keys",
    "wait_for_job",
]


def __getattr__(name: str) -> Any:
    """Load the HTTP error family on first access (it imports aiohttp)."""
    from un_async.core import errors

    if name in errors.SERVICE_ERROR_NAMES:
        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
