"""What every resource namespace shares: the client binding, one request, reply checks.

A namespace (``client.sessions``, ``client.services``, ...) holds a reference to its
:class:`~un_async.core.client.AsyncClient`. Each method checks its arguments (ids with
:func:`~un_async.core.id_checks.path_segment`, values with :class:`ValidationError`) before any
request, resolves credentials through the client, and sends exactly one request through
the backend's :meth:`~un_async.core.executor.BaseExecutor.api_call` — the only path a
resource call takes, so record/replay and other backends see all of them. A backend
without the resource API raises :class:`~un_async.core.errors.UnsupportedOperationError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from un_async.core.errors import ValidationError
from un_async.core.id_checks import path_segment

if TYPE_CHECKING:
    from un_async.core.client import AsyncClient

__all__ = [
    "Namespace",
    "Otp",
    "PortList",
    "StringList",
    "check_choice",
    "check_flag",
    "check_ports",
    "check_strings",
    "check_vcpu",
    "items_of",
    "malformed",
    "object_of",
    "segment",
]

Otp = str | Callable[[str], Awaitable[str]] | None
"""Answers a 428 confirmation challenge: a one-time password, or an async callback that
receives the ``challenge_id`` and returns one. ``None``: a 428 raises
:class:`~un_async.core.service_errors.SudoRequiredError`."""

segment = path_segment

PortList = list[int]
"""Port numbers (an alias: inside a namespace class ``list`` names its ``list`` method)."""
StringList = list[str]
"""Strings (same reason as :data:`PortList`)."""


def malformed(what: str) -> Exception:
    """The error for a reply of the wrong shape (imports the HTTP error family)."""
    from un_async.core.service_errors import TransportError

    return TransportError(f"malformed reply: {what}")


def object_of(data: Any, what: str) -> dict[str, Any] | None:
    """``data`` as a JSON object (``None`` for an empty reply), or a malformed-reply error."""
    if data is None or isinstance(data, dict):
        return data
    raise malformed(f"{what} is not a JSON object")


def items_of(data: Any, key: str) -> list[Mapping[str, Any]]:
    """The objects of a listing: ``data[key]`` (or ``data`` itself when it is an array)."""
    items = data.get(key, []) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise malformed(f"{key} is not a list of objects")
    return items


def check_vcpu(vcpu: object, *, name: str = "vcpu") -> int:
    """``vcpu`` as an integer from 1 to 8 (each vCPU brings 2 GB of RAM)."""
    if isinstance(vcpu, bool) or not isinstance(vcpu, int) or not 1 <= vcpu <= 8:
        raise ValidationError(f"{name} must be an integer from 1 to 8, got {vcpu!r}")
    return vcpu


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` when it is one of ``choices``."""
    allowed = tuple(choices)
    if value not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def check_flag(name: str, value: object) -> bool:
    """``value`` when it is a bool (``1`` or ``"yes"`` are refused, not guessed)."""
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be True or False, got {value!r}")
    return value


def check_ports(ports: object) -> list[int]:
    """``ports`` as a list of TCP/UDP port numbers."""
    if isinstance(ports, str | bytes) or not isinstance(ports, Sequence):
        raise ValidationError(f"ports must be a list of integers, got {ports!r}")
    checked = []
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(f"invalid port {port!r}: expected an integer from 1 to 65535")
        checked.append(port)
    return checked


def check_strings(name: str, values: object) -> list[str]:
    """``values`` as a list of non-empty strings (a lone string is an error, not a list
    of its characters)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError(f"{name} must be a list of strings, got {values!r}")
    checked = list(values)
    if not all(isinstance(value, str) and value for value in checked):
        raise ValidationError(f"{name} must hold non-empty strings")
    return checked


class Namespace:
    """A resource namespace bound to one client."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @property
    def client(self) -> AsyncClient:
        """The client this namespace sends through."""
        return self._client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        text: str | None = None,
        query: Mapping[str, str] | None = None,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Any:
        """Resolve credentials and send one request; the parsed JSON reply."""
        from un_async.core.client_resources import sudo_callback

        client = self._client
        credentials = await client._resolve(public_key, secret_key)
        return await client.executor.api_call(
            credentials,
            operation,
            method,
            path,
            body=body,
            text=text,
            query=query,
            sudo=sudo_callback(otp),
        )
