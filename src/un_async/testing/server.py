"""A fake unsandbox API server (aiohttp.web) for tests and benchmarks.

Real HTTP over loopback, real HMAC verification over the raw body bytes (spec §2), an
in-memory job lifecycle (spec §4) and fault injection (:mod:`.faults`).

Job status is computed lazily from timestamps: a job is ``pending`` for ``queue_delay``
seconds after creation, ``running`` for its run time, then terminal. No task or timer
exists per job, so tens of thousands of concurrent jobs cost only their dict entries.

Choices where the spec leaves room:

* ``DELETE /jobs/{id}`` on a finished job answers 200 with the job's unchanged terminal
  status (or 204 when ``cancel_status=204``), never 409.
* ``created_at`` / ``completed_at`` are epoch seconds (int) on the server clock.
* ``timeout`` and ``cancelled`` results carry ``exit_code: null`` and an ``error`` text.
* ``GET /languages`` needs no auth, but a request that does carry ``Authorization`` is
  verified like any other.
* A ``Fault`` decides before authentication (it models the proxy/infrastructure).
* Lost jobs (``lose_job``/``restart``) stay in :attr:`FakeUnsandbox.jobs` with
  ``lost=True`` so tests can still count them; the API answers 404 for them.
* Fake-only control endpoints, unauthenticated and never counted, recorded, delayed or
  faulted: ``GET /_fake/stats`` and ``POST /_fake/reset`` (for a server running in another
  process).
* ``stop()`` then ``start()`` reuses the same port and keeps all state: a restart in place.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import heapq
import hmac
import json
import math
import random
import ssl
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any, Literal

import attrs
from aiohttp import web

from .faults import DurationModel, Fault, FaultKind, LatencySource, select_faults
from .programs import ScriptedOutput, emulate

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

TEST_PUBLIC_KEY = "unsb-pk-test-0000-0000-0001"
TEST_SECRET_KEY = "unsb-sk-test1-test2-test3-test4"  # noqa: S105  # public test key (spec §2.2)

#: Spec §7.1: the 43 names ``GET /languages`` returned from report 4.2.7 on.
SPEC_LANGUAGES: tuple[str, ...] = (
    "awk", "bash", "c", "clojure", "cobol", "commonlisp", "cpp", "crystal", "csharp", "d",
    "dart", "deno", "dotnet", "elixir", "erlang", "forth", "fortran", "fsharp", "go",
    "groovy", "haskell", "java", "javascript", "julia", "kotlin", "lua", "nim", "objc",
    "ocaml", "perl", "php", "powershell", "prolog", "python", "r", "raku", "ruby", "rust",
    "scheme", "tcl", "typescript", "v", "zig",
)  # fmt: skip
TERMINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})
TIMESTAMP_WINDOW = 300  # seconds either side of the server clock (spec §2.3)
NETWORK_MODES = frozenset({"zerotrust", "semitrusted"})
_PUBLIC_PATHS = frozenset({"/health", "/languages"})

Mode = Literal["auto", "sync", "job"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- records ---------------------------------------------------------------------------


@attrs.define(kw_only=True)
class FakeAccount:
    """A key pair the server accepts. ``tier="free"`` refuses snapshots with 403."""

    public_key: str
    secret_key: str
    tier: str = "pro"


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as received. ``time`` is ``time.monotonic()`` at arrival; ``body`` is
    empty when a fault dropped the connection before reading it; ``fault`` names the
    fault kind applied, if any."""

    method: str
    path: str
    raw_path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    peer: tuple[str, int] | None
    time: float
    fault: str | None = None

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty)."""
        return json.loads(self.body) if self.body else None


@attrs.define(kw_only=True, eq=False)
class FakeJob:
    """Server-side job state. Times ``started``/``queued_until``/``end``/``cancelled_at``
    are on the server's monotonic clock; ``created_at`` is epoch seconds."""

    job_id: str
    account: str
    language: str
    code: str
    request: Mapping[str, Any]
    network_mode: str
    return_artifact: bool
    ttl: float
    outcome: ScriptedOutput
    created_at: float
    started: float
    queued_until: float
    end: float
    timed_out: bool
    cancelled_at: float | None = None
    lost: bool = False
    lost_errors: int = 0
    lost_status: int = 503
    not_found_polls: int = 0
    polls: int = 0

    def status_at(self, now: float) -> str:
        """``pending`` → ``running`` → terminal, as seen at monotonic time ``now``."""
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.queued_until:
            return "pending"
        if now < self.end:
            return "running"
        return "timeout" if self.timed_out else self.outcome.status

    def _finished_at(self) -> float:
        return self.cancelled_at if self.cancelled_at is not None else self.end

    def view(self, now: float) -> dict[str, Any]:
        """The job object of ``GET /jobs/{id}`` (also the synchronous ``/execute`` reply)."""
        status = self.status_at(now)
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "status": status,
            "language": self.language,
            "network_mode": self.network_mode,
            "created_at": int(self.created_at),
        }
        if status in ("pending", "running"):
            return data
        finished = self._finished_at()
        ran_ms = int(max(0.0, finished - self.queued_until) * 1000)
        outcome = self.outcome
        exit_code: int | None = outcome.exit_code
        error = outcome.error
        stdout, stderr = outcome.stdout, outcome.stderr
        if status == "cancelled":
            exit_code, error, stdout, stderr = None, "job cancelled", "", ""
        elif status == "timeout":
            exit_code, error = None, f"execution timed out after {self.ttl:g}s"
        elif status == "failed" and not error:
            error = "execution failed"
        data.update(
            completed_at=int(self.created_at + (finished - self.started)),
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            success=status == "completed" and exit_code == 0 and not error,
            execution_time_ms=ran_ms,
            duration_ms=ran_ms,
        )
        if error:
            data["error"] = error
        if self.return_artifact:
            data["artifacts"] = [
                {"filename": name, "content_base64": base64.b64encode(blob).decode()}
                for name, blob in outcome.artifacts.items()
            ]
        return data

    def summary(self, now: float) -> dict[str, Any]:
        """The ``GET /jobs`` list entry."""
        status = self.status_at(now)
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "status": status,
            "language": self.language,
            "created_at": int(self.created_at),
        }
        if status not in ("pending", "running"):
            data["completed_at"] = int(self.created_at + (self._finished_at() - self.started))
            if status == "cancelled":
                data["error"] = "job cancelled"
            elif status == "timeout":
                data["error"] = f"execution timed out after {self.ttl:g}s"
            elif self.outcome.error:
                data["error"] = self.outcome.error
        return data


@attrs.define(kw_only=True, eq=False)
class FakeSession:
    """An interactive session; only its bookkeeping exists."""

    id: str
    account: str
    container_name: str
    created_at: int
    status: str = "running"
    network_mode: str = "zerotrust"
    shell: str = "bash"
    vcpu: int = 1
    ttl: int = 3600

    def view(self, now: float) -> dict[str, Any]:
        """The session object of ``GET /sessions/{id}``."""
        return {
            "id": self.id,
            "session_id": self.id,
            "container_name": self.container_name,
            "status": self.status,
            "network_mode": self.network_mode,
            "shell": self.shell,
            "vcpu": self.vcpu,
            "ttl": self.ttl,
            "remaining_ttl": max(0, int(self.created_at + self.ttl - now)),
            "created_at": self.created_at,
            "last_activity": self.created_at,
        }


@attrs.define(kw_only=True, eq=False)
class FakeSnapshot:
    """A snapshot of a session or service."""

    id: str
    account: str
    name: str
    source_type: str
    source_id: str
    hot: bool
    created_at: int
    locked: bool = False
    size_bytes: int = 104_857_600

    def view(self) -> dict[str, Any]:
        """The snapshot object (``type`` mirrors ``source_type``)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.source_type,
            "source_type": self.source_type,
            "source_id": self.source_id,
            "hot": self.hot,
            "locked": self.locked,
            "created_at": self.created_at,
            "size_bytes": self.size_bytes,
        }


# --- helpers ---------------------------------------------------------------------------

_ACCOUNT = web.RequestKey("account", FakeAccount)
_SLUGS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


class _HTTPError(Exception):
    """Raised by handlers; turned into ``{"error", "message", **extra}`` by the middleware."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message, **extra}
        self.headers = dict(headers or {})


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _not_found(what: str) -> _HTTPError:
    return _HTTPError(404, "not_found", f"{what} not found")


def _bad_request(message: str, error: str = "invalid_request") -> _HTTPError:
    return _HTTPError(400, error, message)


def _parse_object(body: bytes, *, allow_empty: bool) -> dict[str, Any]:
    if not body.strip():
        if allow_empty:
            return {}
        raise _bad_request("request body must be a JSON object")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_request(f"invalid JSON: {exc}", "invalid_json") from None
    if not isinstance(data, dict):
        raise _bad_request("request body must be a JSON object")
    return data


def _int_in_range(payload: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad_request(f"{key} must be an integer between {low} and {high}")
    return value


def _bool(payload: Mapping[str, Any], *keys: str, default: bool = False) -> bool:
    for key in keys:
        if key in payload:
            value = payload[key]
            if not isinstance(value, bool):
                raise _bad_request(f"{key} must be a boolean")
            return value
    return default


def _network_mode(payload: Mapping[str, Any]) -> str:
    value = payload.get("network_mode", payload.get("network", "zerotrust"))
    if value not in NETWORK_MODES:
        raise _bad_request("network_mode must be 'zerotrust' or 'semitrusted'")
    return str(value)


def _check_env(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _bad_request("env must be an object of string values")


def _decode_files(value: Any) -> dict[str, bytes]:
    """Validate ``input_files`` (``content`` or ``content_base64``, both base64)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _bad_request("input_files must be an array")
    files: dict[str, bytes] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            raise _bad_request("each input file needs a filename")
        encoded = item.get("content", item.get("content_base64"))
        if not isinstance(encoded, str):
            raise _bad_request(f"input file {item['filename']!r} has no base64 content")
        try:
            files[item["filename"]] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise _bad_request(f"input file {item['filename']!r}: invalid base64") from None
    return files


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


# --- the server ------------------------------------------------------------------------


class FakeUnsandbox:
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

    def __init__(
        self,
        *,
        accounts: Mapping[str, str] | Iterable[FakeAccount] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        mode: Mode = "auto",
        sync_threshold: float = 0.5,
        default_duration: float = 0.0,
        duration_model: DurationModel | None = None,
        queue_delay: float = 0.0,
        default_ttl: float = 300.0,
        cancel_status: Literal[200, 204] = 200,
        async_status: Literal[200, 202] = 200,
        strict_query_signing: bool = False,
        verify_signatures: bool = True,
        lenient_empty_body: bool = False,
        clock_offset: float = 0.0,
        sudo_otp: str | None = None,
        concurrency_limit: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        rate_limit_retry_after: bool = True,
        latency: LatencySource | None = None,
        languages: Iterable[str] = SPEC_LANGUAGES,
        seed: int | None = 0,
        record_requests: bool = True,
    ) -> None:
        if mode not in ("auto", "sync", "job"):
            raise ValueError(f"mode must be 'auto', 'sync' or 'job', not {mode!r}")
        if cancel_status not in (200, 204) or async_status not in (200, 202):
            raise ValueError("cancel_status must be 200/204 and async_status 200/202")
        if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
            raise ValueError("rate_limit must be (requests >= 1, seconds > 0)")
        self.accounts: dict[str, FakeAccount] = {}
        if accounts is None:
            accounts = {TEST_PUBLIC_KEY: TEST_SECRET_KEY}
        if isinstance(accounts, Mapping):
            for public_key, secret_key in accounts.items():
                self.add_account(public_key, secret_key)
        else:
            for account in accounts:
                self.accounts[account.public_key] = account
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.mode: Mode = mode
        self.sync_threshold = sync_threshold
        self.default_duration = default_duration
        self.duration_model = duration_model
        self.queue_delay = queue_delay
        self.default_ttl = default_ttl
        self.cancel_status = cancel_status
        self.async_status = async_status
        self.strict_query_signing = strict_query_signing
        self.verify_signatures = verify_signatures
        self.lenient_empty_body = lenient_empty_body
        self.clock_offset = clock_offset
        self.sudo_otp = sudo_otp
        self.concurrency_limit = concurrency_limit
        self.rate_limit = rate_limit
        self.rate_limit_retry_after = rate_limit_retry_after
        self.latency = latency
        self.languages: list[str] = list(languages)
        self.record_requests = record_requests

        self.faults: list[Fault] = []
        self.jobs: dict[str, FakeJob] = {}
        self.sessions: dict[str, FakeSession] = {}
        self.services: dict[str, str] = {}  # service id -> owner public key
        self.snapshots: dict[str, FakeSnapshot] = {}
        self.sudo_challenges: dict[str, str] = {}  # challenge id -> public key
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self.connection_count = 0
        self.response_statuses: Counter[int] = Counter()

        self._scripts: dict[tuple[str, str | None], ScriptedOutput] = {}
        self._language_set = frozenset(self.languages)
        self._ids = random.Random(seed)
        self._fault_rng = random.Random(seed)
        self._shift = 0.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._running: dict[str, list[tuple[float, str]]] = {}
        self._cancelled_running: dict[str, set[str]] = {}
        self._peers: weakref.WeakKeyDictionary[Any, tuple[str, int] | None] = (
            weakref.WeakKeyDictionary()
        )
        self._date_second = -1
        self._date_value = ""
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    # --- lifecycle ---------------------------------------------------------------------

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

    # --- test helpers ------------------------------------------------------------------

    def add_account(self, public_key: str, secret_key: str, tier: str = "pro") -> FakeAccount:
        """Accept another key pair."""
        account = FakeAccount(public_key=public_key, secret_key=secret_key, tier=tier)
        self.accounts[public_key] = account
        return account

    def script(
        self,
        language: str,
        code: str | None,
        *,
        stdout: str = "",
        stderr: str = "",
        exit_code: int | None = 0,
        duration: float | None = None,
        status: str = "completed",
        error: str | None = None,
        artifacts: Mapping[str, bytes | str] | None = None,
    ) -> ScriptedOutput:
        """Fix the outcome of running ``code`` (``None``: any code) in ``language``.

        ``duration`` (seconds) overrides the server's run-time choice; ``status`` is the
        terminal status reported once the run is over.
        """
        output = ScriptedOutput(
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            duration=duration,
            status=status,
            error=error,
            artifacts=artifacts,
        )
        self._scripts[(language, code)] = output
        return output

    def inject(self, fault: Fault) -> Fault:
        """Activate ``fault`` (checked in injection order) and return it."""
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def lose_job(self, job_id: str, errors: int = 0, status: int = 503) -> None:
        """Forget ``job_id`` as an API restart would: its next ``errors`` lookups answer
        ``status``, every later one 404 (spec §4.2)."""
        job = self.jobs[job_id]
        job.lost, job.lost_errors, job.lost_status = True, errors, status

    def restart(self, errors: int = 0, status: int = 503) -> None:
        """Lose every job currently known (see :meth:`lose_job`)."""
        for job_id in self.jobs:
            self.lose_job(job_id, errors, status)

    def add_session(self, account: str | None = None, **fields: Any) -> str:
        """Create a running session owned by ``account`` (default: the first account)."""
        owner = account or self._first_account()
        session_id = self._hex_id("unsb-session-")
        self.sessions[session_id] = FakeSession(
            id=session_id,
            account=owner,
            container_name="unsb-vm-" + session_id.removeprefix("unsb-session-"),
            created_at=int(self.server_time()),
            **fields,
        )
        return session_id

    def add_service(self, account: str | None = None) -> str:
        """Register a service id (only usable as a snapshot source)."""
        service_id = f"unsb-service-{self._ids.getrandbits(64):016x}"
        self.services[service_id] = account or self._first_account()
        return service_id

    def advance(self, seconds: float) -> None:
        """Move the job-lifecycle clock forward (jobs finish sooner); HTTP timing and the
        wall clock are unaffected."""
        self._shift += seconds

    def job_status(self, job_id: str) -> str:
        """The status ``GET /jobs/{id}`` would report now (ignoring lost/404 faults)."""
        return self.jobs[job_id].status_at(self._now())

    def active_jobs(self, public_key: str | None = None) -> int:
        """Pending or running jobs of one account (default: all accounts)."""
        keys = [public_key] if public_key is not None else list(self._running)
        now = self._now()
        total = 0
        for key in keys:
            heap = self._running.get(key, [])
            cancelled = self._cancelled_running.setdefault(key, set())
            while heap and heap[0][0] <= now:
                cancelled.discard(heapq.heappop(heap)[1])
            total += len(heap) - len(cancelled)
        return total

    def count_requests(self, method: str | None = None, path: str | None = None) -> int:
        """Recorded requests with this method and/or path (exact, or prefix ending ``/``)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or r.path == path or (path.endswith("/") and r.path.startswith(path)))
        )

    def reset_stats(self) -> None:
        """Forget recorded requests, counters and seen connections (jobs are kept)."""
        self.requests.clear()
        self.request_count = 0
        self.connection_count = 0
        self.response_statuses.clear()
        self._peers = weakref.WeakKeyDictionary()

    def clear_jobs(self) -> None:
        """Forget every job."""
        self.jobs.clear()
        self._running.clear()
        self._cancelled_running.clear()

    def server_time(self) -> float:
        """The server's wall clock: real time plus ``clock_offset``."""
        return time.time() + self.clock_offset

    def stats(self) -> dict[str, Any]:
        """Counters, as served by ``GET /_fake/stats``."""
        return {
            "requests": self.request_count,
            "connections": self.connection_count,
            "jobs": len(self.jobs),
            "active_jobs": self.active_jobs(),
            "statuses": {str(k): v for k, v in sorted(self.response_statuses.items())},
        }

    # --- internals ---------------------------------------------------------------------

    def _first_account(self) -> str:
        if not self.accounts:
            raise LookupError("the fake server has no accounts")
        return next(iter(self.accounts))

    def _now(self) -> float:
        return time.monotonic() + self._shift

    def _hex_id(self, prefix: str) -> str:
        h = f"{self._ids.getrandbits(64):016x}"
        return f"{prefix}{h[:4]}-{h[4:8]}-{h[8:12]}-{h[12:]}"

    def _date_header(self) -> str:
        second = int(self.server_time())
        if second != self._date_second:
            self._date_second, self._date_value = second, formatdate(second, usegmt=True)
        return self._date_value

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

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_fake/"):  # control plane: not counted, never faulted
            return await handler(request)
        self.request_count += 1
        arrived = time.monotonic()
        peer = self._track_connection(request)
        try:
            response = await self._serve(request, handler, arrived, peer)
        except ConnectionError:  # the client went away; make sure nothing more is sent
            _abort(request)
            response = None
        except _HTTPError as err:
            response = _json(err.body, err.status, err.headers)
        except web.HTTPException as exc:
            response = self._exception_response(exc)
        if response is None:
            return web.Response()  # preparing it fails on the dead transport: silent
        response.headers["Date"] = self._date_header()
        self.response_statuses[response.status] += 1
        return response

    async def _serve(
        self,
        request: web.Request,
        handler: Handler,
        arrived: float,
        peer: tuple[str, int] | None,
    ) -> web.StreamResponse | None:
        if self.latency is not None:
            await asyncio.sleep(self.latency.sample())
        delay, fault = (
            select_faults(self.faults, request.method, request.path, self._fault_rng)
            if self.faults
            else (0.0, None)
        )
        if fault is not None and fault.kind is FaultKind.RESET_BEFORE_READ:
            self._record(request, b"", peer, arrived, fault)
            _abort(request)
            return None
        body = await request.read()
        self._record(request, body, peer, arrived, fault)
        if delay:
            await asyncio.sleep(delay)
        if fault is None:
            return await self._dispatch(request, handler, body)
        kind = fault.kind
        if kind is FaultKind.RESET_AFTER_READ:
            await self._dispatch(request, handler, body)
            _abort(request)
            return None
        if kind is FaultKind.TRUNCATED_BODY:
            self._send_truncated(request, await self._dispatch(request, handler, body))
            return None
        if kind is FaultKind.RESTART and fault.fired == 1:
            self.restart()
        if kind is FaultKind.EMPTY_204:
            return web.Response(status=204)
        return web.Response(
            status=fault.status_code,
            body=fault.body,
            headers={"Content-Type": fault.content_type, **fault.headers},
        )

    async def _dispatch(
        self, request: web.Request, handler: Handler, body: bytes
    ) -> web.StreamResponse:
        path = request.path
        try:
            if path not in _PUBLIC_PATHS or (
                path == "/languages" and "Authorization" in request.headers
            ):
                account = self._authenticate(request, body)
                request[_ACCOUNT] = account
                self._check_rate_limit(account)
            return await handler(request)
        except _HTTPError as err:
            return _json(err.body, err.status, err.headers)
        except web.HTTPException as exc:
            return self._exception_response(exc)

    @staticmethod
    def _exception_response(exc: web.HTTPException) -> web.Response:
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        slug = _SLUGS.get(exc.status, "error")
        return _json({"error": slug, "message": exc.reason}, exc.status, headers)

    def _track_connection(self, request: web.Request) -> tuple[str, int] | None:
        transport = request.transport
        if transport is None:
            return None
        try:
            return self._peers[transport]
        except KeyError:
            info = transport.get_extra_info("peername")
            peer = (str(info[0]), int(info[1])) if info else None
            self._peers[transport] = peer
            self.connection_count += 1
            return peer

    def _record(
        self,
        request: web.Request,
        body: bytes,
        peer: tuple[str, int] | None,
        arrived: float,
        fault: Fault | None,
    ) -> None:
        if not self.record_requests:
            return
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                query=dict(request.query) if request.query_string else {},
                headers=request.headers,
                body=body,
                peer=peer,
                time=arrived,
                fault=fault.kind.value if fault is not None else None,
            )
        )

    def _send_truncated(self, request: web.Request, response: web.StreamResponse) -> None:
        transport = request.transport
        if transport is None:
            return
        body = response.body if isinstance(response, web.Response) else None
        data = body if isinstance(body, bytes) else b""
        head = (
            f"HTTP/1.1 {response.status} {response.reason}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(data) if data else 16}\r\n"
            f"Date: {self._date_header()}\r\n"
            "Connection: close\r\n\r\n"
        )
        transport.write(head.encode("latin-1") + data[: len(data) // 2])
        transport.close()

    # --- auth and limits ---------------------------------------------------------------

    def _authenticate(self, request: web.Request, body: bytes) -> FakeAccount:
        headers = request.headers
        authorization = headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            raise _HTTPError(401, "unauthorized", "missing or malformed Authorization header")
        account = self.accounts.get(authorization[7:].strip())
        if account is None:
            raise _HTTPError(401, "unauthorized", "invalid signature")
        if not self.verify_signatures:
            return account
        timestamp = headers.get("X-Timestamp")
        signature = headers.get("X-Signature")
        if timestamp is None or signature is None:
            raise _HTTPError(401, "unauthorized", "missing X-Timestamp or X-Signature header")
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise _HTTPError(
                401, "invalid_timestamp", "Request timestamp must be whole Unix seconds"
            )
        if abs(int(timestamp) - self.server_time()) > TIMESTAMP_WINDOW:
            raise _HTTPError(
                401,
                "invalid_timestamp",
                "Request timestamp expired or too far from server time",
            )
        signature = signature.strip().lower()
        if len(signature) == 64 and signature.isascii():
            raw_path = request.raw_path
            bare_path = raw_path.partition("?")[0]
            if self.strict_query_signing or bare_path == raw_path:
                paths = [raw_path]
            else:
                paths = [bare_path, raw_path]
            bodies = [body]
            if self.lenient_empty_body and body.strip() == b"{}":
                bodies.append(b"")
            key = account.secret_key.encode()
            for path in paths:
                prefix = f"{timestamp}:{request.method}:{path}:".encode()
                for candidate in bodies:
                    expected = hmac.digest(key, prefix + candidate, "sha256").hex()
                    if hmac.compare_digest(expected, signature):
                        return account
        raise _HTTPError(401, "unauthorized", "invalid signature")

    def _check_rate_limit(self, account: FakeAccount) -> None:
        if self.rate_limit is None:
            return
        capacity, per_seconds = self.rate_limit
        refill = capacity / per_seconds
        now = time.monotonic()
        tokens, last = self._buckets.get(account.public_key, (float(capacity), now))
        tokens = min(float(capacity), tokens + (now - last) * refill)
        if tokens < 1.0:
            self._buckets[account.public_key] = (tokens, now)
            headers = {}
            if self.rate_limit_retry_after:
                headers["Retry-After"] = str(max(1, math.ceil((1.0 - tokens) / refill)))
            raise _HTTPError(429, "rate_limit_exceeded", "Rate limit exceeded", headers)
        self._buckets[account.public_key] = (tokens - 1.0, now)

    def _require_sudo(self, request: web.Request) -> None:
        if self.sudo_otp is None:
            return
        owner = request[_ACCOUNT].public_key
        otp = request.headers.get("X-Sudo-OTP")
        if otp is None:
            challenge_id = f"chal_{self._ids.getrandbits(64):016x}"
            self.sudo_challenges[challenge_id] = owner
            raise _HTTPError(
                428,
                "sudo_required",
                "Confirm with the one-time code sent by e-mail",
                challenge_id=challenge_id,
            )
        challenge = request.headers.get("X-Sudo-Challenge", "")
        if self.sudo_challenges.get(challenge) != owner or not hmac.compare_digest(
            otp.encode(), self.sudo_otp.encode()
        ):
            raise _HTTPError(403, "invalid_otp", "invalid one-time code or challenge")
        del self.sudo_challenges[challenge]

    # --- execution ---------------------------------------------------------------------

    def _outcome_for(self, language: str, code: str) -> ScriptedOutput:
        """The scripted (else emulated) outcome, with its run time filled in."""
        scripted = self._scripts.get((language, code)) or self._scripts.get((language, None))
        if scripted is not None and scripted.duration is not None:
            return scripted
        if self.duration_model is not None:
            base = self.duration_model.duration(language)
        else:
            base = self.default_duration
        if scripted is not None:
            return attrs.evolve(scripted, duration=base)
        emulated = emulate(language, code)
        return attrs.evolve(emulated, duration=base + (emulated.duration or 0.0))

    def _create_job(self, request: web.Request, payload: dict[str, Any]) -> FakeJob:
        language = payload.get("language")
        if not isinstance(language, str) or not language:
            raise _bad_request("language is required")
        if language not in self._language_set:
            raise _HTTPError(400, "unsupported_language", f"Unsupported language: {language}")
        code = payload.get("code")
        if not isinstance(code, str):
            raise _bad_request("code is required")
        ttl = _int_in_range(payload, "ttl", 1, 900)
        _int_in_range(payload, "vcpu", 1, 8)
        network_mode = _network_mode(payload)
        _check_env(payload.get("env"))
        _decode_files(payload.get("input_files"))
        return_artifact = _bool(payload, "return_artifact", "return_artifacts")

        owner = request[_ACCOUNT].public_key
        if self.concurrency_limit is not None:
            active = self.active_jobs(owner)
            if active >= self.concurrency_limit:
                raise _HTTPError(
                    429,
                    "concurrency_limit_reached",
                    "Concurrency limit reached",
                    active_executions=active,
                    concurrency_limit=self.concurrency_limit,
                )
        outcome = self._outcome_for(language, code)
        duration = outcome.duration or 0.0
        limit = float(ttl) if ttl is not None else self.default_ttl
        now = self._now()
        queued_until = now + self.queue_delay
        job = FakeJob(
            job_id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            account=owner,
            language=language,
            code=code,
            request=payload,
            network_mode=network_mode,
            return_artifact=return_artifact,
            ttl=limit,
            outcome=outcome,
            created_at=self.server_time(),
            started=now,
            queued_until=queued_until,
            end=queued_until + min(duration, limit),
            timed_out=duration > limit,
        )
        for fault in self.faults:
            if fault.kind is FaultKind.NOT_FOUND_RACE and fault.trigger(
                request.method, request.path, self._fault_rng
            ):
                job.not_found_polls = fault.count
                break
        self.jobs[job.job_id] = job
        heapq.heappush(self._running.setdefault(owner, []), (job.end, job.job_id))
        return job

    async def _h_execute(self, request: web.Request) -> web.StreamResponse:
        job = self._create_job(request, _parse_object(await request.read(), allow_empty=False))
        remaining = job.end - self._now()
        if self.mode == "job" or (self.mode == "auto" and remaining > self.sync_threshold):
            return _json({"job_id": job.job_id, "status": "pending"})
        if remaining > 0:
            await asyncio.sleep(remaining)
        return _json(job.view(max(self._now(), job.end)))

    async def _h_execute_async(self, request: web.Request) -> web.StreamResponse:
        job = self._create_job(request, _parse_object(await request.read(), allow_empty=False))
        return _json({"job_id": job.job_id, "status": "pending"}, self.async_status)

    def _job_for(self, request: web.Request) -> FakeJob:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None or job.account != request[_ACCOUNT].public_key:
            raise _HTTPError(404, "not_found", "job not found")
        job.polls += 1
        if job.lost:
            if job.lost_errors > 0:
                job.lost_errors -= 1
                raise _HTTPError(job.lost_status, "service_unavailable", "API restarting")
            raise _HTTPError(404, "not_found", "job not found")
        if job.not_found_polls > 0:
            job.not_found_polls -= 1
            raise _HTTPError(404, "not_found", "job not found")
        return job

    async def _h_get_job(self, request: web.Request) -> web.StreamResponse:
        return _json(self._job_for(request).view(self._now()))

    async def _h_cancel_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job_for(request)
        now = self._now()
        status = job.status_at(now)
        if status in ("pending", "running"):
            job.cancelled_at = now
            self._cancelled_running.setdefault(job.account, set()).add(job.job_id)
            body = {"job_id": job.job_id, "status": "cancelled", "message": "Job cancelled"}
        else:
            body = {"job_id": job.job_id, "status": status, "message": f"Job already {status}"}
        if self.cancel_status == 204:
            return web.Response(status=204)
        return _json(body)

    async def _h_list_jobs(self, request: web.Request) -> web.StreamResponse:
        owner, now = request[_ACCOUNT].public_key, self._now()
        jobs = [
            job.summary(now) for job in self.jobs.values() if job.account == owner and not job.lost
        ]
        return _json({"jobs": jobs})

    # --- misc endpoints ----------------------------------------------------------------

    async def _h_health(self, request: web.Request) -> web.StreamResponse:
        return _json({"status": "ok"})

    async def _h_languages(self, request: web.Request) -> web.StreamResponse:
        return _json({"languages": self.languages})

    async def _h_validate_keys(self, request: web.Request) -> web.StreamResponse:
        account = request[_ACCOUNT]
        until = datetime.fromtimestamp(self.server_time() + 30 * 86400, UTC)
        per_minute = int(self.rate_limit[0] * 60 / self.rate_limit[1]) if self.rate_limit else 60
        return _json(
            {
                "valid": True,
                "public_key": account.public_key,
                "tier": account.tier,
                "status": "active",
                "valid_through_datetime": until.isoformat(timespec="seconds"),
                "expires_at": until.isoformat(timespec="seconds"),
                "valid_for_human": "30 days",
                "rate_per_minute": per_minute,
                "burst": self.rate_limit[0] if self.rate_limit else per_minute,
                "concurrency": self.concurrency_limit or 10,
            }
        )

    async def _h_stats(self, request: web.Request) -> web.StreamResponse:
        return _json(self.stats())

    async def _h_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset_stats()
        return _json({"status": "ok"})

    # --- sessions ----------------------------------------------------------------------

    def _session_for(self, request: web.Request) -> FakeSession:
        session = self.sessions.get(request.match_info["id"])
        if session is None or session.account != request[_ACCOUNT].public_key:
            raise _not_found("session")
        return session

    async def _h_create_session(self, request: web.Request) -> web.StreamResponse:
        payload = _parse_object(await request.read(), allow_empty=True)
        shell = payload.get("shell") or payload.get("language") or "bash"
        if not isinstance(shell, str):
            raise _bad_request("shell must be a string")
        session_id = self.add_session(
            request[_ACCOUNT].public_key,
            network_mode=_network_mode(payload),
            shell=shell,
            vcpu=_int_in_range(payload, "vcpu", 1, 8) or 1,
            ttl=_int_in_range(payload, "ttl", 1, 86400 * 7) or 3600,
        )
        return _json(self.sessions[session_id].view(self.server_time()))

    async def _h_list_sessions(self, request: web.Request) -> web.StreamResponse:
        owner, now = request[_ACCOUNT].public_key, self.server_time()
        sessions = [s.view(now) for s in self.sessions.values() if s.account == owner]
        return _json({"sessions": sessions, "count": len(sessions)})

    async def _h_get_session(self, request: web.Request) -> web.StreamResponse:
        return _json(self._session_for(request).view(self.server_time()))

    async def _h_delete_session(self, request: web.Request) -> web.StreamResponse:
        session = self._session_for(request)
        self._require_sudo(request)
        del self.sessions[session.id]
        return _json(
            {
                "id": session.id,
                "session_id": session.id,
                "status": "terminated",
                "message": "Session terminated",
            }
        )

    # --- snapshots ---------------------------------------------------------------------

    def _new_snapshot(
        self, request: web.Request, source_type: str, source_id: str, payload: Mapping[str, Any]
    ) -> FakeSnapshot:
        account = request[_ACCOUNT]
        if account.tier == "free":
            raise _HTTPError(403, "forbidden", "Snapshots not available for free tier")
        if source_type == "session":
            session = self.sessions.get(source_id)
            exists = session is not None and session.account == account.public_key
        elif source_type == "service":
            exists = self.services.get(source_id) == account.public_key
        else:
            raise _bad_request("source_type must be 'session' or 'service'")
        if not exists:
            raise _not_found(source_type)
        name = payload.get("name")
        if name is not None and not isinstance(name, str):
            raise _bad_request("name must be a string")
        if "hot" in payload or "ephemeral" not in payload:
            hot = _bool(payload, "hot")
        else:
            hot = not _bool(payload, "ephemeral")
        snapshot_id = self._hex_id("unsb-snapshot-")
        snapshot = FakeSnapshot(
            id=snapshot_id,
            account=account.public_key,
            name=name or f"snapshot-{snapshot_id[-4:]}",
            source_type=source_type,
            source_id=source_id,
            hot=hot,
            created_at=int(self.server_time()),
        )
        self.snapshots[snapshot_id] = snapshot
        return snapshot

    @staticmethod
    def _created(snapshot: FakeSnapshot, *, id_keys: tuple[str, ...]) -> web.Response:
        body = dict.fromkeys(id_keys, snapshot.id)
        view = snapshot.view()
        del view["id"]
        return _json({**body, **view, "message": "Snapshot created"})

    async def _h_session_snapshot(self, request: web.Request) -> web.StreamResponse:
        payload = _parse_object(await request.read(), allow_empty=True)
        snapshot = self._new_snapshot(request, "session", request.match_info["id"], payload)
        return self._created(snapshot, id_keys=("id",))

    async def _h_service_snapshot(self, request: web.Request) -> web.StreamResponse:
        payload = _parse_object(await request.read(), allow_empty=True)
        snapshot = self._new_snapshot(request, "service", request.match_info["id"], payload)
        return self._created(snapshot, id_keys=("id",))

    async def _h_create_snapshot(self, request: web.Request) -> web.StreamResponse:
        """Both generic shapes: ``source_type``/``source_id`` → ``id``;
        ``session_id``/``service_id`` → ``snapshot_id`` and ``id``."""
        payload = _parse_object(await request.read(), allow_empty=False)
        if "source_type" in payload:
            source_type, source_id = payload["source_type"], payload.get("source_id")
            if not isinstance(source_type, str) or not isinstance(source_id, str):
                raise _bad_request("source_type and source_id must be strings")
            snapshot = self._new_snapshot(request, source_type, source_id, payload)
            return self._created(snapshot, id_keys=("id",))
        for key, source_type in (("session_id", "session"), ("service_id", "service")):
            source_id = payload.get(key)
            if isinstance(source_id, str):
                snapshot = self._new_snapshot(request, source_type, source_id, payload)
                return self._created(snapshot, id_keys=("snapshot_id", "id"))
        raise _bad_request("give source_type/source_id, session_id or service_id")

    def _snapshot_for(self, request: web.Request) -> FakeSnapshot:
        snapshot = self.snapshots.get(request.match_info["id"])
        if snapshot is None or snapshot.account != request[_ACCOUNT].public_key:
            raise _not_found("snapshot")
        return snapshot

    async def _h_list_snapshots(self, request: web.Request) -> web.StreamResponse:
        owner = request[_ACCOUNT].public_key
        found = [s.view() for s in self.snapshots.values() if s.account == owner]
        return _json({"snapshots": found, "count": len(found)})

    async def _h_get_snapshot(self, request: web.Request) -> web.StreamResponse:
        return _json(self._snapshot_for(request).view())

    async def _h_delete_snapshot(self, request: web.Request) -> web.StreamResponse:
        snapshot = self._snapshot_for(request)
        if snapshot.locked:
            raise _HTTPError(409, "locked", "Snapshot is locked; unlock it first")
        self._require_sudo(request)
        del self.snapshots[snapshot.id]
        return _json({"id": snapshot.id, "status": "deleted", "message": "Snapshot deleted"})

    async def _h_restore_snapshot(self, request: web.Request) -> web.StreamResponse:
        """Restore into the source if it still exists, else into a new session/service."""
        snapshot = self._snapshot_for(request)
        _parse_object(await request.read(), allow_empty=True)
        owner = request[_ACCOUNT].public_key
        target = snapshot.source_id
        if snapshot.source_type == "session":
            if target not in self.sessions:
                target = self.add_session(owner)
            key = "session_id"
        else:
            if target not in self.services:
                target = self.add_service(owner)
            key = "service_id"
        return _json(
            {
                "id": snapshot.id,
                "type": snapshot.source_type,
                "message": "Snapshot restored",
                key: target,
            }
        )

    async def _h_lock_snapshot(self, request: web.Request) -> web.StreamResponse:
        snapshot = self._snapshot_for(request)
        snapshot.locked = True
        return _json({"id": snapshot.id, "locked": True, "message": "Snapshot locked"})

    async def _h_unlock_snapshot(self, request: web.Request) -> web.StreamResponse:
        snapshot = self._snapshot_for(request)
        self._require_sudo(request)
        snapshot.locked = False
        return _json({"id": snapshot.id, "locked": False, "message": "Snapshot unlocked"})
