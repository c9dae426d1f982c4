"""The unsandbox.com HTTP backend."""

from un_async.backends.unsandbox.backend import UnsandboxBackend
from un_async.backends.unsandbox.transport import (
    AiohttpTransport,
    HttpRequest,
    HttpResponse,
    Transport,
)

__all__ = ["AiohttpTransport", "HttpRequest", "HttpResponse", "Transport", "UnsandboxBackend"]
