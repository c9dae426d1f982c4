"""The unsandbox.com backend: the :class:`~un_async.core.executor.Executor` over HTTP.

Each method is one API call (plus the requester's retries). Request bodies are
serialised once to the bytes that are signed and sent; replies become models through
:class:`WireCodec`. Which endpoint and shape is used where the reference clients
disagree (spec §3) is stated per method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from un_async.backends.unsandbox.requester import Reply, SignedRequester
from un_async.backends.unsandbox.transport import AiohttpTransport, Transport
from un_async.backends.unsandbox.wire import WireCodec, dumps
from un_async.core.config import ClientConfig
from un_async.core.credentials import Credentials
from un_async.core.errors import NotFoundError, TransportError
from un_async.core.events import ExecutionEvent
from un_async.core.executor import SudoCallback, record_of
from un_async.core.ids import path_segment
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, Record, Snapshot
from un_async.core.plugins import PluginHost

__all__ = ["UnsandboxBackend"]

EXECUTE_TIMEOUT_MARGIN = 30.0
"""Seconds added to a request's ``ttl`` for the read timeout of ``POST /execute``."""


class UnsandboxBackend:
    """Talks to the unsandbox API (``config.base_url``) through one transport.

    ``transport`` replaces the default aiohttp transport (record/replay injects one).
    """

    name = "unsandbox"

    def __init__(
        self,
        config: ClientConfig,
        host: PluginHost,
        *,
        transport: Transport | None = None,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        strict: bool = False,
    ) -> None:
        self.config = config
        self.transport: Transport = transport or AiohttpTransport(
            config.base_url,
            connect_timeout=config.connect_timeout,
            read_timeout=config.request_timeout,
            max_response_bytes=config.max_response_bytes,
            user_agent=config.user_agent or None,
            ssl_context=config.options.get("ssl_context"),
        )
        self.requester = SignedRequester(
            self.transport, host.signer(self.name), config.retry, on_event=on_event
        )
        self.codec = WireCodec(strict=strict)
        self._async_endpoint = True

    @classmethod
    def from_config(cls, config: ClientConfig, host: PluginHost) -> UnsandboxBackend:
        """The backend factory registered under the name ``unsandbox``."""
        return cls(config, host, on_event=host.emit if host.has_event_observers() else None)

    def __repr__(self) -> str:
        return f"UnsandboxBackend({self.config.base_url!r})"

    async def _call(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        payload: Any = None,
        *,
        idempotent: bool,
        **options: Any,
    ) -> Reply:
        body = b"" if payload is None else dumps(payload)
        return await self.requester.call(
            credentials, method, path, body=body, idempotent=idempotent, **options
        )

    @staticmethod
    def _object(reply: Reply, what: str) -> dict[str, Any]:
        if not isinstance(reply.data, dict):
            raise TransportError(f"malformed reply: {what} is not a JSON object")
        return reply.data

    # -- execution ------------------------------------------------------------------------

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        """``POST /execute`` (may answer final) or ``POST /execute/async`` (always a job).

        If ``/execute/async`` does not exist (404), fall back to ``/execute`` once and
        remember it; a 404 means the server did not act on the request.
        """
        payload = self.codec.execution_request(request)
        timeout = None
        if request.ttl is not None:
            timeout = max(self.config.request_timeout, request.ttl + EXECUTE_TIMEOUT_MARGIN)
        if not wait and self._async_endpoint:
            try:
                reply = await self._call(
                    credentials,
                    "POST",
                    "/execute/async",
                    payload,
                    idempotent=False,
                    timeout=timeout,
                )
                return self._submitted(reply)
            except NotFoundError as exc:
                if exc.body.get("error") not in (None, "not_found", "Not Found"):
                    raise
                self._async_endpoint = False
        reply = await self._call(
            credentials, "POST", "/execute", payload, idempotent=False, timeout=timeout
        )
        return self._submitted(reply)

    def _submitted(self, reply: Reply) -> ExecutionResult:
        result = self.codec.result(self._object(reply, "the execute reply"))
        if result.job_id is None and not result.is_final:
            raise TransportError("malformed reply: a pending execution without a job_id")
        return result

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """``GET /jobs/{id}``, retried on transient failures."""
        return await self._get_job(credentials, job_id, retry=True)

    async def poll_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """``GET /jobs/{id}`` once, without retries (the waiter handles failures)."""
        return await self._get_job(credentials, job_id, retry=False)

    async def _get_job(
        self, credentials: Credentials, job_id: str, *, retry: bool
    ) -> ExecutionResult:
        path = f"/jobs/{path_segment('job_id', job_id)}"
        # The polling hot path: straight to the requester (no body to serialise).
        reply = await self.requester.call(credentials, "GET", path, idempotent=True, retry=retry)
        return self.codec.result(self._object(reply, "the job"), job_id=job_id)

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        """``DELETE /jobs/{id}``; a 204 reply means cancelled."""
        path = f"/jobs/{path_segment('job_id', job_id)}"
        reply = await self._call(credentials, "DELETE", path, idempotent=True)
        body = reply.data if isinstance(reply.data, dict) else None
        return record_of(body, job_id=job_id, status="cancelled")

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        """``GET /jobs``."""
        reply = await self._call(credentials, "GET", "/jobs", idempotent=True)
        return [self.codec.job_info(item) for item in self.codec.listing(reply.data, "jobs")]

    async def list_job_states(self, credentials: Credentials) -> dict[str, Mapping[str, Any]]:
        """``GET /jobs`` once, without retries, as ``{job_id: entry}`` with no models built
        (the shared poller's tick; it handles failures itself)."""
        reply = await self._call(credentials, "GET", "/jobs", idempotent=True, retry=False)
        states: dict[str, Mapping[str, Any]] = {}
        for item in self.codec.listing(reply.data, "jobs"):
            job_id = item.get("job_id") or item.get("id")
            if isinstance(job_id, str):
                states[job_id] = item
        return states

    async def get_languages(self, credentials: Credentials) -> list[str]:
        """``GET /languages``: a list of strings (a bare array is tolerated)."""
        reply = await self._call(credentials, "GET", "/languages", idempotent=True)
        data = reply.data.get("languages") if isinstance(reply.data, dict) else reply.data
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise TransportError("malformed reply: languages is not a list of strings")
        return data

    # -- snapshots ------------------------------------------------------------------------

    async def create_snapshot(
        self, credentials: Credentials, session_id: str, *, name: str | None, hot: bool
    ) -> str:
        """``POST /sessions/{id}/snapshot`` ``{"name"?, "hot"}`` (the C client's shape);
        the id is read from ``id`` or ``snapshot_id``."""
        path = f"/sessions/{path_segment('session_id', session_id)}/snapshot"
        payload: dict[str, Any] = {"hot": bool(hot)}
        if name is not None:
            payload["name"] = name
        reply = await self._call(credentials, "POST", path, payload, idempotent=False)
        body = self._object(reply, "the snapshot reply")
        snapshot_id = body.get("id") or body.get("snapshot_id")
        if not isinstance(snapshot_id, str):
            raise TransportError("malformed reply: the snapshot reply has no id")
        return snapshot_id

    async def list_snapshots(self, credentials: Credentials) -> list[Snapshot]:
        """``GET /snapshots``."""
        reply = await self._call(credentials, "GET", "/snapshots", idempotent=True)
        return [self.codec.snapshot(item) for item in self.codec.listing(reply.data, "snapshots")]

    async def restore_snapshot(self, credentials: Credentials, snapshot_id: str) -> Record:
        """``POST /snapshots/{id}/restore`` with an empty body (signed as empty)."""
        path = f"/snapshots/{path_segment('snapshot_id', snapshot_id)}/restore"
        reply = await self._call(credentials, "POST", path, idempotent=False)
        body = reply.data if isinstance(reply.data, dict) else None
        return record_of(body, id=snapshot_id)

    async def delete_snapshot(
        self, credentials: Credentials, snapshot_id: str, *, sudo: SudoCallback | None = None
    ) -> Record:
        """``DELETE /snapshots/{id}``, answering a 428 challenge with ``sudo``."""
        path = f"/snapshots/{path_segment('snapshot_id', snapshot_id)}"
        reply = await self._call(credentials, "DELETE", path, idempotent=True, sudo=sudo)
        body = reply.data if isinstance(reply.data, dict) else None
        return record_of(body, id=snapshot_id, status="deleted")

    async def aclose(self) -> None:
        await self.transport.aclose()
