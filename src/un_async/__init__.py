"""un_async: the asynchronous SDK for the unsandbox.com code-execution service.

The module-level functions are the seed README's API; :class:`AsyncClient` is the
configurable object behind them; :mod:`un_async.sync` offers the same functions blocking.
"""

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
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    CredentialsError,
    JobLostError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ServiceError,
    SudoRequiredError,
    TransportError,
    UnsandboxError,
    ValidationError,
)
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

__all__ = [
    "APIError",
    "Artifact",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "ClientConfig",
    "ConfigurationError",
    "ConflictError",
    "Credentials",
    "CredentialsError",
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
    "ValidationError",
    "__version__",
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
]
