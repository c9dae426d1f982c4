"""A fake unsandbox API server (aiohttp.web) for tests and benchmarks.

Real HTTP over loopback, real HMAC verification over the raw body bytes (spec §2), an
in-memory job lifecycle (spec §4), stateful sessions, services, snapshots and images
(spec §3.4-§3.7) and fault injection (:mod:`.faults`).

Composition: :class:`FakeUnsandbox` *is* the shared :class:`~.fake_state.FakeState`
(configuration, records and the helpers tests call) plus a listener. Its aiohttp app is
assembled from a :class:`~.request_pipeline.RequestPipeline` middleware and route groups
(:mod:`.health_and_keys`, :mod:`.jobs`, :mod:`.sessions`, :mod:`.services`,
:mod:`.service_env`, :mod:`.snapshots`, :mod:`.images`, :mod:`.image_generation`,
:mod:`.fake_control`), each constructed with that state object and registering its own
routes.

Choices where the spec leaves room:

* ``created_at`` / ``completed_at`` are epoch seconds (int) on the server clock.
* ``timeout`` and ``cancelled`` results carry ``exit_code: null`` and an ``error`` text.
* ``GET /languages`` needs no auth, but a request that does carry ``Authorization`` is
  verified like any other.
* Lost jobs (``lose_job``/``restart``) stay in :attr:`FakeUnsandbox.jobs` with
  ``lost=True`` so tests can still count them; the API answers 404 for them.
* Another account's sessions, services, snapshots and jobs answer 404, as if absent.
* Sudo (428, spec §2.5) applies only when ``sudo_otp`` is set, to: ``DELETE`` of
  sessions, services, snapshots and images, and ``unlock`` of services, snapshots and
  images. Deleting a locked service, snapshot or image answers 409 ``locked`` first.
* Fake-only control endpoints, unauthenticated and never counted, recorded, delayed or
  faulted: ``GET /_fake/stats`` and ``POST /_fake/reset`` (for a server running in another
  process).
* ``stop()`` then ``start()`` reuses the same port and keeps all state: a restart in place.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from .fake_control import FakeControlRoutes
from .fake_state import FakeState, Mode
from .health_and_keys import HealthAndKeyRoutes
from .image_generation import ImageGenerationRoutes
from .images import ImageRoutes
from .jobs import JobRoutes
from .records import (
    SPEC_LANGUAGES,
    TERMINAL_STATUSES,
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    FakeAccount,
    FakeJob,
    RecordedRequest,
)
from .request_pipeline import RequestPipeline
from .resource_records import FakeImage, FakeService, FakeSession, FakeSnapshot
from .service_env import ServiceEnvRoutes
from .services import ServiceRoutes
from .sessions import SessionRoutes
from .snapshots import SnapshotRoutes

__all__ = [
    "SPEC_LANGUAGES",
    "TERMINAL_STATUSES",
    "TEST_PUBLIC_KEY",
    "TEST_SECRET_KEY",
    "FakeAccount",
    "FakeImage",
    "FakeJob",
    "FakeService",
    "FakeSession",
    "FakeSnapshot",
    "FakeUnsandbox",
    "Mode",
    "RecordedRequest",
    "RouteGroup",
    "build_app",
]


class RouteGroup(Protocol):
    """A set of endpoints built over the shared state."""

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the group's routes to ``router``."""
        ...


def build_app(state: FakeState) -> web.Application:
    """The aiohttp application serving the whole API over ``state``."""
    app = web.Application(
        middlewares=[RequestPipeline(state).middleware], client_max_size=256 * 1024**2
    )
    groups: tuple[RouteGroup, ...] = (
        HealthAndKeyRoutes(state),
        JobRoutes(state),
        SessionRoutes(state),
        SnapshotRoutes(state),
        ServiceRoutes(state),
        ServiceEnvRoutes(state),
        ImageRoutes(state),
        ImageGenerationRoutes(state),
        FakeControlRoutes(state),
    )
    for group in groups:
        group.register(app.router)
    return app


class FakeUnsandbox(FakeState):
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
    * ``sudo_otp``: require the 428 OTP flow for destructive calls (see above).
    * ``concurrency_limit``: active jobs per account; ``rate_limit``: ``(n, seconds)``
      token bucket per account, 429 with ``Retry-After`` unless ``rate_limit_retry_after``
      is false.
    * ``vcpu_limit``: running vCPUs per account (sessions and services); creating,
      unfreezing, boosting or resizing past it answers 429 ``concurrency_limit_reached``.
    * ``service_log_tail``: lines ``GET /services/{id}/logs`` returns without ``all``.
    * ``latency``: object with ``sample() -> seconds`` slept before each request.
    * ``seed``: seeds id generation and fault probabilities; ``record_requests``: keep
      :attr:`requests` (turn off for long benchmarks; counters are always kept).
    * ``listing``: :class:`~.listing.ListingPathology` knobs for ``GET /jobs``.

    Every parameter is also an attribute that tests may change while the server runs.
    """

    _app: web.Application | None = None
    _runner: web.AppRunner | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application (built on first use; rebuilt by :meth:`start` after a
        stop, since a served app is frozen). Run it under any runner."""
        if self._app is None:
            self._app = build_app(self)
        return self._app

    async def start(self) -> str:
        """Listen on ``host:port`` (port 0 = any free port) and return :attr:`url`."""
        if self._runner is not None:
            raise RuntimeError("FakeUnsandbox is already running")
        if self.app.frozen:
            self._app = build_app(self)
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
