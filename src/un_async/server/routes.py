"""The endpoints of ``un-async serve``, over one :class:`~un_async.AsyncClient`.

======================  ==================================================================
``GET|HEAD /health``    ``{"status": "ok"}``; no authentication (as on the service)
``GET /languages``      ``{"languages": [...]}``; authentication optional (checked if sent)
``POST /execute``       run; the final result when it finishes within ``sync_wait``
                        seconds, else ``{"job_id", "status": "running"}`` to poll
``POST /execute/async`` start; ``{"job_id", "status": "pending"}``
``GET /jobs``           ``{"jobs": [...]}``: the caller's jobs
``GET /jobs/{id}``      a job's state; another account's job is 404
``DELETE /jobs/{id}``   cancel; ``{"job_id", "status": "cancelled"}``
``POST /keys/validate`` ``{"valid": true, ...}`` for the key pair the server accepts (the
                        fake server's shape; no expiry, no rate limit)
======================  ==================================================================

Errors use the service's shape ``{"error", "message"}``: 400 for a bad request (including
an unknown language), 401 for authentication, 404, 501 for what the backend does not
offer, 500 otherwise.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from un_async.core.client import AsyncClient
from un_async.core.errors import (
    CredentialsError,
    JobTimeoutError,
    UnsupportedOperationError,
    ValidationError,
)
from un_async.core.service_errors import APIError
from un_async.server.auth import AuthenticationFailed, RequestVerifier
from un_async.server.wire import error_body, execution_arguments, json_body

__all__ = ["ExecutionService", "RequestLog"]

log = logging.getLogger("un_async.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RequestLog = Callable[[str], None]
"""Receives one line per request: method, path, status and milliseconds (no headers)."""

_ACCOUNT: contextvars.ContextVar[str | None] = contextvars.ContextVar("account", default=None)
"""The public key of the request being handled (each request is handled in its own task)."""

UNAUTHENTICATED = frozenset({"/health"})
AUTH_OPTIONAL = frozenset({"/languages"})
MAX_BODY = 256 * 1024 * 1024


def _reply(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


class ExecutionService:
    """Serves the execution API through ``client``; jobs belong to the account that
    started them."""

    def __init__(
        self,
        client: AsyncClient,
        verifier: RequestVerifier,
        *,
        sync_wait: float = 10.0,
        request_log: RequestLog | None = None,
    ) -> None:
        self.client = client
        self.verifier = verifier
        self.sync_wait = sync_wait
        self.request_log = request_log
        self.owners: dict[str, str] = {}

    def build_app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app.router.add_get("/health", self.health)  # GET also answers HEAD
        app.router.add_get("/languages", self.languages)
        app.router.add_post("/execute", self.execute)
        app.router.add_post("/execute/async", self.execute_async)
        app.router.add_get("/jobs", self.list_jobs)
        app.router.add_get("/jobs/{job_id}", self.get_job)
        app.router.add_delete("/jobs/{job_id}", self.cancel_job)
        app.router.add_post("/keys/validate", self.validate_keys)
        return app

    # -- plumbing ----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response = await self._authenticated(request, handler)
        except web.HTTPException as exc:
            response = _reply(
                exc.status,
                error_body(
                    exc.reason.lower().replace(" ", "_"),
                    f"{request.method} {request.path}: {exc.reason}",
                ),
            )
        except AuthenticationFailed as exc:
            response = _reply(401, error_body(exc.error, exc.message))
        except Exception as exc:
            response = self._error_reply(exc)
        if self.request_log is not None:
            elapsed = (time.perf_counter() - started) * 1000
            self.request_log(f"{request.method} {request.path} {response.status} {elapsed:.0f} ms")
        return response

    async def _authenticated(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in UNAUTHENTICATED or (
            path in AUTH_OPTIONAL and "Authorization" not in request.headers
        ):
            _ACCOUNT.set(None)
            return await handler(request)
        body = await request.read()
        account = self.verifier.verify(
            method=request.method,
            path=path,
            query=request.query_string,
            body=body,
            headers=request.headers,
        )
        _ACCOUNT.set(account)
        return await handler(request)

    def _error_reply(self, exc: Exception) -> web.Response:
        if isinstance(exc, ValidationError):
            return _reply(400, error_body("bad_request", str(exc)))
        if isinstance(exc, UnsupportedOperationError):
            return _reply(501, error_body("not_implemented", str(exc)))
        if isinstance(exc, APIError):
            body = dict(exc.body) or error_body(exc.error or "error", exc.message)
            return _reply(exc.status, body)
        if isinstance(exc, CredentialsError):
            return _reply(502, error_body("backend_credentials", str(exc)))
        log.error("request failed", exc_info=exc)
        return _reply(500, error_body("internal_error", f"{type(exc).__name__}: {exc}"))

    def _account(self, request: web.Request) -> str:
        account = _ACCOUNT.get()
        if account is None:  # an endpoint that needs a caller was reached without one
            raise AuthenticationFailed("unauthorized", "this endpoint needs authentication")
        return account

    def _owned(self, request: web.Request) -> str:
        job_id = request.match_info["job_id"]
        if self.owners.get(job_id) != self._account(request):
            raise web.HTTPNotFound(reason="Job Not Found")
        return job_id

    async def _start(self, request: web.Request) -> str:
        arguments = execution_arguments(json_body(await request.read()))
        job_id = await self.client.execute_async(**arguments)
        self.owners[job_id] = self._account(request)
        return job_id

    # -- endpoints ---------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return _reply(200, {"status": "ok", "backend": self.client.executor.name})

    async def languages(self, request: web.Request) -> web.Response:
        return _reply(200, {"languages": await self.client.get_languages()})

    async def execute(self, request: web.Request) -> web.Response:
        job_id = await self._start(request)
        try:
            result = await self.client.wait_for_job(job_id, timeout=self.sync_wait)
        except JobTimeoutError:
            state = await self.client.get_job(job_id)
            return _reply(200, {"job_id": job_id, "status": state.raw_status or "running"})
        return _reply(200, result.to_dict())

    async def execute_async(self, request: web.Request) -> web.Response:
        job_id = await self._start(request)
        return _reply(200, {"job_id": job_id, "status": "pending"})

    async def list_jobs(self, request: web.Request) -> web.Response:
        account = self._account(request)
        jobs = await self.client.list_jobs()
        known = {job.job_id for job in jobs}
        for job_id in [job_id for job_id in self.owners if job_id not in known]:
            del self.owners[job_id]  # the backend forgot it
        mine = [job.to_dict() for job in jobs if self.owners.get(job.job_id or "") == account]
        return _reply(200, {"jobs": mine})

    async def get_job(self, request: web.Request) -> web.Response:
        state = await self.client.get_job(self._owned(request))
        return _reply(200, state.to_dict())

    async def cancel_job(self, request: web.Request) -> web.Response:
        reply = await self.client.cancel_job(self._owned(request))
        return _reply(200, reply.to_dict())

    async def validate_keys(self, request: web.Request) -> web.Response:
        """Only an authentic request gets here, so its key pair is valid: it stays so
        while the server runs, with no rate limit of its own."""
        return _reply(
            200,
            {
                "valid": True,
                "public_key": self._account(request),
                "tier": "serve",
                "status": "active",
                "valid_through_datetime": None,
                "expires_at": None,
                "valid_for_human": "while this server runs",
                "rate_per_minute": None,
                "rate_limit": None,
                "burst": None,
                "concurrency": None,
                "backend": self.client.executor.name,
            },
        )
