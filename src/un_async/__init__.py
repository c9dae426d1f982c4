"""un_async: the asynchronous SDK for the unsandbox.com code-execution service.

The module-level functions are the seed README's API; :class:`AsyncClient` is the
configurable object behind them; :mod:`un_async.sync` offers the same functions blocking.
Every public name is loaded on first access (PEP 562): ``import un_async`` costs almost
nothing, the command line imports only what its command uses, and a program that only
runs the local backend never imports aiohttp (the HTTP error classes, :class:`APIError`
and its family, live with it).
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING, Any

from un_async._version import __version__

if TYPE_CHECKING:
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
    from un_async.core.client import (
        AsyncClient,
    )
    from un_async.core.config import (
        ClientConfig,
    )
    from un_async.core.credentials import (
        Credentials,
    )
    from un_async.core.errors import (
        ClientClosedError,
        ConfigurationError,
        CredentialsError,
        JobTimeoutError,
        UnsandboxError,
        UnsupportedOperationError,
        ValidationError,
    )
    from un_async.core.execution_options import (
        ExecutionOptions,
    )
    from un_async.core.executor import (
        BackendContext,
        BaseExecutor,
    )
    from un_async.core.fanout import (
        ExecutionOutcome,
        ExecutionStream,
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
    from un_async.core.retry import (
        RetryPolicy,
    )
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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "un_async.api": (
        "cancel_job",
        "delete_snapshot",
        "detect_language",
        "execute_async",
        "execute_code",
        "execute_many",
        "get_default_client",
        "get_job",
        "get_languages",
        "list_jobs",
        "list_snapshots",
        "restore_snapshot",
        "session_snapshot",
        "wait_for_job",
    ),
    "un_async.core.client": ("AsyncClient",),
    "un_async.core.config": ("ClientConfig",),
    "un_async.core.credentials": ("Credentials",),
    "un_async.core.errors": (
        "ClientClosedError",
        "ConfigurationError",
        "CredentialsError",
        "JobTimeoutError",
        "UnsandboxError",
        "UnsupportedOperationError",
        "ValidationError",
    ),
    "un_async.core.execution_options": ("ExecutionOptions",),
    "un_async.core.executor": (
        "BackendContext",
        "BaseExecutor",
    ),
    "un_async.core.fanout": (
        "ExecutionOutcome",
        "ExecutionStream",
    ),
    "un_async.core.models": (
        "Artifact",
        "ExecutionRequest",
        "ExecutionResult",
        "InputFile",
        "JobInfo",
        "JobStatus",
        "Record",
        "Snapshot",
    ),
    "un_async.core.retry": ("RetryPolicy",),
    "un_async.reference_api": (
        "boost_session",
        "cli_main",
        "clone_snapshot",
        "create_service",
        "create_session",
        "delete_service",
        "delete_service_env",
        "delete_session",
        "execute_in_service",
        "export_service_env",
        "freeze_service",
        "freeze_session",
        "get_service",
        "get_service_env",
        "get_service_logs",
        "get_session",
        "image",
        "list_services",
        "list_sessions",
        "lock_service",
        "lock_snapshot",
        "redeploy_service",
        "service_snapshot",
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
    ),
}
"""Module -> the public names it defines (the HTTP errors come from
:mod:`un_async.core.errors`, which loads them lazily itself)."""

_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

_SUBMODULES = frozenset({"api", "core", "reference_api"})
"""Submodules that were attributes of the package once it was imported (they still are,
loaded on access)."""


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` on first access (then keep the value here)."""
    if name in _SUBMODULES:
        return _import_module(f"{__name__}.{name}")
    module = _HOME.get(name)
    if module is None:
        from un_async.core import errors

        if name not in errors.SERVICE_ERROR_NAMES:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module = errors.__name__
    value = getattr(_import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
