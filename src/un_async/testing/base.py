"""State and test controls of the fake unsandbox server.

:class:`ServerState` holds the configuration, the in-memory records and the helpers tests
call directly (``script``, ``inject``, ``lose_job``, ``count_requests``...). The request
pipeline and the endpoints are mixed in by :class:`~.server.FakeUnsandbox`.
"""

from __future__ import annotations

import heapq
import random
import ssl
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from email.utils import formatdate
from typing import Any, Literal

from aiohttp import web

from .auth import check_sudo
from .faults import DurationModel, Fault, LatencySource
from .programs import ScriptedOutput
from .state import (
    SPEC_LANGUAGES,
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    FakeAccount,
    FakeJob,
    FakeSession,
    FakeSnapshot,
    RecordedRequest,
)

__all__ = ["ACCOUNT", "Mode", "ServerState"]

Mode = Literal["auto", "sync", "job"]
#: The authenticated account, stored on each request by the pipeline.
ACCOUNT = web.RequestKey("account", FakeAccount)


class ServerState:
    """Configuration, records and test helpers (parameters: see ``FakeUnsandbox``)."""

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

    def _build_app(self) -> web.Application:
        raise NotImplementedError

    # --- test helpers -----------------------------------------------------------------------------

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

    # --- internals --------------------------------------------------------------------------------

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

    def _require_sudo(self, request: web.Request) -> None:
        check_sudo(
            self.sudo_challenges,
            request[ACCOUNT].public_key,
            request.headers,
            self.sudo_otp,
            lambda: f"chal_{self._ids.getrandbits(64):016x}",
        )
