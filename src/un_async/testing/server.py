"""A fake unsandbox API server (aiohttp.web) for tests and benchmarks.

Real HTTP over loopback, real HMAC verification over the raw body bytes (spec §2), an
in-memory job lifecycle (spec §4) and fault injection (:mod:`.faults`).

The pieces: :mod:`.state` (records), :mod:`.base` (configuration and test helpers),
:mod:`.pipeline` (middleware: recording, faults, auth), :mod:`.jobs` and
:mod:`.resources` (endpoints), :mod:`.auth` and :mod:`.replies` (shared checks).

Choices where the spec leaves room:

* ``created_at`` / ``completed_at`` are epoch seconds (int) on the server clock.
* ``timeout`` and ``cancelled`` results carry ``exit_code: null`` and an ``error`` text.
* ``GET /languages`` needs no auth, but a request that does carry ``Authorization`` is
  verified like any other.
* Lost jobs (``lose_job``/``restart``) stay in :attr:`FakeUnsandbox.jobs` with
  ``lost=True`` so tests can still count them; the API answers 404 for them.
* Fake-only control endpoints, unauthenticated and never counted, recorded, delayed or
  faulted: ``GET /_fake/stats`` and ``POST /_fake/reset`` (for a server running in another
  process).
* ``stop()`` then ``start()`` reuses the same port and keeps all state: a restart in place.
"""

from __future__ import annotations

from aiohttp import web

from .base import Mode
from .jobs import JobRoutes
from .pipeline import RequestPipeline
from .resources import ResourceRoutes
from .state import (
    SPEC_LANGUAGES,
    TERMINAL_STATUSES,
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    FakeAccount,
    FakeJob,
    FakeSession,
    FakeSnapshot,
    RecordedRequest,
)

__all__ = [
    "SPEC_LANGUAGES",
    "TERMINAL_STATUSES",
    "TEST_PUBLIC_KEY",
    "TEST_SECRET_KEY",
    "FakeAccount",
    "FakeJob",
    "FakeSession",
    "FakeSnapshot",
    "FakeUnsandbox",
    "Mode",
    "RecordedRequest",
]


class FakeUnsandbox(RequestPipeline, JobRoutes, ResourceRoutes):
    """In-memory unsandbox API on 127.0.0.1; use ``async with`` or ``start()``/``stop()``.

    Parameters (all keyword-only):

    * ``accounts``: ``{public_key: secret_key}`` or :class:`FakeAccount` objects; default
      one account (:data:`TEST_PUBLIC_KEY`/:data:`TEST_SECRET_KEY`).
    * ``mode``: ``"sync"``: ``/execute`` waits for the run and returns the result;
      ``"job"``: it returns ``{job_id, status: "pending"}``; ``"auto"``: sync when queue +
      run time ≤ ``sync_threshold`` seconds.
    * ``default_duration`` / ``duration_model`` / ``queue_delay`` / ``default_ttl``: run
      time when no script sets one (the model wins over the constant), pending phase, and
      the ttl used when the request sends none. A run longer than its ttl ends ``timeout``.
    * ``cancel_status`` (200|204) and ``async_status`` (200|202): reply codes for job
      cancellation and ``POST /execute/async``.
    * ``verify_signatures``, ``strict_query_signing`` (True: a query string must be signed;
      False: path with or without query accepted), ``lenient_empty_body`` (accept ``{}``
      bodies signed as empty, spec §12.2), ``clock_offset`` (server clock = real + offset).
    * ``sudo_otp``: require the 428 OTP flow for destructive calls.
    * ``concurrency_limit``: active jobs per account; ``rate_limit``: ``(n, seconds)``
      token bucket per account, 429 with ``Retry-After`` unless ``rate_limit_retry_after``
      is false.
    * ``latency``: object with ``sample() -> seconds`` slept before each request.
    * ``seed``: seeds id generation and fault probabilities; ``record_requests``: keep
      :attr:`requests` (turn off for long benchmarks; counters are always kept).
    """

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on ``host:port`` (port 0 = any free port) and return :attr:`url`."""
        if self._runner is not None:
            raise RuntimeError("FakeUnsandbox is already running")
        if self.app.frozen:
            self.app = self._build_app()
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self.url

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeUnsandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (``https`` with an SSL context)."""
        if self.port == 0:
            raise RuntimeError("the server is not listening yet")
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024**2)
        r = app.router
        r.add_get("/health", self._h_health)
        r.add_get("/languages", self._h_languages)
        r.add_post("/keys/validate", self._h_validate_keys)
        r.add_post("/execute", self._h_execute)
        r.add_post("/execute/async", self._h_execute_async)
        r.add_get("/jobs", self._h_list_jobs)
        r.add_get("/jobs/{job_id}", self._h_get_job)
        r.add_delete("/jobs/{job_id}", self._h_cancel_job)
        r.add_post("/jobs/{job_id}/cancel", self._h_cancel_job)
        r.add_post("/sessions", self._h_create_session)
        r.add_get("/sessions", self._h_list_sessions)
        r.add_get("/sessions/{id}", self._h_get_session)
        r.add_delete("/sessions/{id}", self._h_delete_session)
        r.add_post("/sessions/{id}/snapshot", self._h_session_snapshot)
        r.add_post("/services/{id}/snapshot", self._h_service_snapshot)
        r.add_post("/snapshots", self._h_create_snapshot)
        r.add_get("/snapshots", self._h_list_snapshots)
        r.add_get("/snapshots/{id}", self._h_get_snapshot)
        r.add_delete("/snapshots/{id}", self._h_delete_snapshot)
        r.add_post("/snapshots/{id}/restore", self._h_restore_snapshot)
        r.add_post("/snapshots/{id}/lock", self._h_lock_snapshot)
        r.add_post("/snapshots/{id}/unlock", self._h_unlock_snapshot)
        r.add_get("/_fake/stats", self._h_stats)
        r.add_post("/_fake/reset", self._h_reset)
        return app
