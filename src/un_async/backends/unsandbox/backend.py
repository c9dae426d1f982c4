"""The unsandbox.com backend: the :class:`~un_async.core.executor.BaseExecutor` over HTTP.

Each method is one API call (plus the requester's retries). Request bodies are
serialised once to the bytes that are signed and sent; replies become models through
:class:`WireCodec`. Which endpoint and shape is used where the reference clients
disagree (spec §3) is stated per method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from un_async.backends.unsandbox.requester import SignedRequester
from un_async.backends.unsandbox.transport import AiohttpTransport, Transport
from un_async.backends.unsandbox.wire import WireCodec, dumps
from un_async.core.config import ClientConfig
from un_async.core.credentials import Credentials
from un_async.core.events import ExecutionEvent
from un_async.core.executor import BackendContext, BaseExecutor, SudoCallback, record_of
from un_async.core.id_checks import path_segment
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, Record, Snapshot
from un_async.core.plugin_host import PluginHost
from un_async.core.service_errors import NotFoundError, TransportError

__all__ = ["UnsandboxBackend"]

EXECUTE_TIMEOUT_MARGIN = 30.0
"""Seconds added to a request's ``ttl`` for the read timeout of ``POST /execute``."""


class UnsandboxBackend(BaseExecutor):
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
    def from_context(cls, context: BackendContext) -> UnsandboxBackend:
        """The backend factory registered under the name ``unsandbox``."""
        host = context.plugins
        return cls(context.config, host, on_event=host.emit if host.has_event_observers() else None)

    def __repr__(self) -> str:
        return f"UnsandboxBackend({self.config.base_url!r})"

    @staticmethod
    def _object(data: Any, what: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise TransportError(f"malformed reply: {what} is not a JSON object")
        return data

    # -- execution ------------------------------------------------------------------------

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        """``POST /execute`` (may answer final) or ``POST /execute/async`` (always a job).

        If ``/execute/async`` does not exist (404), fall back to ``/execute`` once and
        remember it; a 404 means the server did not act on the request.
        """
        body = self.codec.execution_body(request)
        timeout = None
        if request.ttl is not None:
            timeout = max(self.config.request_timeout, request.ttl + EXECUTE_TIMEOUT_MARGIN)
        call = self.requester.call
        if not wait and self._async_endpoint:
            try:
                data = await call(
                    credentials,
                    "POST",
                    "/execute/async",
                    body=body,
                    idempotent=False,
                    timeout=timeout,
                )
                return self._submitted(data)
            except NotFoundError as exc:
                if exc.body.get("error") not in (None, "not_found", "Not Found"):
                    raise
                self._async_endpoint = False
        data = await call(
            credentials, "POST", "/execute", body=body, idempotent=False, timeout=timeout
        )
        return self._submitted(data)

    def _submitted(self, data: Any) -> ExecutionResult:
        result = self.codec.result(self._object(data, "the execute reply"))
        if result.job_id is None and not result.is_final:
            raise TransportError("malformed reply: a pending execution without a job_id")
        return result

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """``GET /jobs/{id}``, retried on transient failures."""
        path = f"/jobs/{path_segment('job_id', job_id)}"
        data = await self.requester.call(credentials, "GET", path, idempotent=True)
        return self.codec.result(self._object(data, "the job"), job_id=job_id)

    async def poll_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """``GET /jobs/{id}`` once, without retries (the waiter handles failures)."""
        path = f"/jobs/{path_segment('job_id', job_id)}"
        data = await self.requester.call(credentials, "GET", path, idempotent=True, retry=False)
        return self.codec.result(self._object(data, "the job"), job_id=job_id)

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        """``DELETE /jobs/{id}``; a 204 reply means cancelled."""
        path = f"/jobs/{path_segment('job_id', job_id)}"
        data = await self.requester.call(credentials, "DELETE", path, idempotent=True)
        return record_of(
            data if isinstance(data, dict) else None, job_id=job_id, status="cancelled"
        )

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        """``GET /jobs``."""
        data = await self.requester.call(credentials, "GET", "/jobs", idempotent=True)
        return [self.codec.job_info(item) for item in self.codec.listing(data, "jobs")]

    async def list_job_states(self, credentials: Credentials) -> dict[str, Mapping[str, Any]]:
        """``GET /jobs`` once, without retries, as ``{job_id: entry}`` with no models built
        (the shared poller's tick; it handles failures itself)."""
        data = await self.requester.call(credentials, "GET", "/jobs", idempotent=True, retry=False)
        states: dict[str, Mapping[str, Any]] = {}
        for item in self.codec.listing(data, "jobs"):
            job_id = item.get("job_id") or item.get("id")
            if isinstance(job_id, str):
                states[job_id] = item
        return states

    async def get_languages(self, credentials: Credentials) -> list[str]:
        """``GET /languages``: a list of strings (a bare array is tolerated)."""
        data = await self.requester.call(credentials, "GET", "/languages", idempotent=True)
        languages = data.get("languages") if isinstance(data, dict) else data
        if not isinstance(languages, list) or not all(isinstance(i, str) for i in languages):
            raise TransportError("malformed reply: languages is not a list of strings")
        return languages

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
        data = await self.requester.call(
            credentials, "POST", path, body=dumps(payload), idempotent=False
        )
        body = self._object(data, "the snapshot reply")
        snapshot_id = body.get("id") or body.get("snapshot_id")
        if not isinstance(snapshot_id, str):
            raise TransportError("malformed reply: the snapshot reply has no id")
        return snapshot_id

    async def list_snapshots(self, credentials: Credentials) -> list[Snapshot]:
        """``GET /snapshots``."""
        data = await self.requester.call(credentials, "GET", "/snapshots", idempotent=True)
        return [self.codec.snapshot(item) for item in self.codec.listing(data, "snapshots")]

    async def restore_snapshot(self, credentials: Credentials, snapshot_id: str) -> Record:
        """``POST /snapshots/{id}/restore`` with an empty body (signed as empty)."""
        path = f"/snapshots/{path_segment('snapshot_id', snapshot_id)}/restore"
        data = await self.requester.call(credentials, "POST", path, idempotent=False)
        return record_of(data if isinstance(data, dict) else None, id=snapshot_id)

    async def delete_snapshot(
        self, credentials: Credentials, snapshot_id: str, *, sudo: SudoCallback | None = None
    ) -> Record:
        """``DELETE /snapshots/{id}``, answering a 428 challenge with ``sudo``."""
        path = f"/snapshots/{path_segment('snapshot_id', snapshot_id)}"
        data = await self.requester.call(credentials, "DELETE", path, idempotent=True, sudo=sudo)
        return record_of(data if isinstance(data, dict) else None, id=snapshot_id, status="deleted")

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def api_call(
        self,
        credentials: Credentials,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        text: str | None = None,
        query: Mapping[str, str] | None = None,
        sudo: SudoCallback | None = None,
    ) -> Any:
        """One request of the resource API (sessions, services, snapshots, images, keys,
        health) through the signed requester; the reply's JSON (``None`` when empty).

        ``body`` is serialised once to the bytes that are signed and sent. ``text`` is
        sent as ``text/plain`` (the service env vault), signed exactly as sent; more than
        64 KB is refused before anything is sent. ``query`` is appended to the URL, not
        signed (spec §2.2). GET, PUT and DELETE are retried on transient failures, other
        methods only when the request cannot have reached the server; ``sudo`` answers a
        428 challenge once.
        """
        from un_async.core.errors import ValidationError

        verb = method.upper()
        content_type = None
        if text is not None:
            if body is not None:
                raise ValidationError(f"{operation}: give a JSON body or a text body, not both")
            try:
                payload = text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationError(f"{operation}: the text is not UTF-8 encodable") from None
            if len(payload) > 64 * 1024:
                raise ValidationError(
                    f"{operation}: the text body is {len(payload)} bytes; at most 64 KB is sent"
                )
            content_type = "text/plain"
        else:
            payload = b"" if body is None else dumps(body if isinstance(body, dict) else dict(body))
        return await self.requester.call(
            credentials,
            verb,
            path,
            body=payload,
            query=tuple(query.items()) if query else (),
            idempotent=verb in ("GET", "HEAD", "PUT", "DELETE"),
            sudo=sudo,
            content_type=content_type,
        )
