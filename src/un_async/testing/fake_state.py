"""The fake unsandbox server's state: configuration, in-memory records and test controls.

:class:`FakeState` is the one object every part of the server shares: the request
pipeline and each route group receive it at construction and read or change it; tests
reach the same object as the :class:`~.server.FakeUnsandbox` they started (``script``,
``inject``, ``lose_job``, ``add_service``, ``count_requests``...).
"""

from __future__ import annotations

import heapq
import random
import ssl
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from email.utils import formatdate
from typing import Any, Literal

from aiohttp import web

from .access_control import ACCOUNT, check_sudo
from .faults import DurationModel, Fault, LatencySource
from .http_replies import HTTPError
from .listing import ListingPathology
from .programs import ScriptedOutput
from .records import (
    SPEC_LANGUAGES,
    TEST_PUBLIC_KEY,
    TEST_SECRET_KEY,
    AccountStatus,
    FakeAccount,
    FakeJob,
    RecordedRequest,
)
from .resource_records import FakeImage, FakeService, FakeSession, FakeSnapshot

__all__ = ["FakeState", "Mode"]

Mode = Literal["auto", "sync", "job"]


class FakeState:
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
        vcpu_limit: int | None = None,
        rate_limit: tuple[int, float] | None = None,
        rate_limit_retry_after: bool = True,
        service_log_tail: int = 9000,
        latency: LatencySource | None = None,
        languages: Iterable[str] = SPEC_LANGUAGES,
        seed: int | None = 0,
        record_requests: bool = True,
        listing: ListingPathology | None = None,
    ) -> None:
        if mode not in ("auto", "sync", "job"):
            raise ValueError(f"mode must be 'auto', 'sync' or 'job', not {mode!r}")
        if cancel_status not in (200, 204) or async_status not in (200, 202):
            raise ValueError("cancel_status must be 200/204 and async_status 200/202")
        if rate_limit is not None and (rate_limit[0] < 1 or rate_limit[1] <= 0):
            raise ValueError("rate_limit must be (requests >= 1, seconds > 0)")
        if vcpu_limit is not None and vcpu_limit < 1:
            raise ValueError("vcpu_limit must be >= 1 or None")
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
        self.vcpu_limit = vcpu_limit
        self.rate_limit = rate_limit
        self.rate_limit_retry_after = rate_limit_retry_after
        self.service_log_tail = service_log_tail
        self.latency = latency
        self.languages: list[str] = list(languages)
        self.record_requests = record_requests
        self.listing = listing or ListingPathology()  # GET /jobs pathologies (.listing)

        self.faults: list[Fault] = []
        self.jobs: dict[str, FakeJob] = {}
        self.sessions: dict[str, FakeSession] = {}
        self.services: dict[str, FakeService] = {}
        self.snapshots: dict[str, FakeSnapshot] = {}
        self.images: dict[str, FakeImage] = {}
        self.sudo_challenges: dict[str, str] = {}  # challenge id -> public key
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self.connection_count = 0
        self.response_statuses: Counter[int] = Counter()
        #: Per-account token buckets of the rate limit: ``(tokens, last refill)``.
        self.rate_buckets: dict[str, tuple[float, float]] = {}
        #: Draws for fault probabilities (seeded, separate from id generation).
        self.fault_rng = random.Random(seed)
        #: Connections seen, by transport (for :attr:`connection_count`).
        self.peers: weakref.WeakKeyDictionary[Any, tuple[str, int] | None] = (
            weakref.WeakKeyDictionary()
        )

        self._scripts: dict[tuple[str, str | None], ScriptedOutput] = {}
        self._language_set = frozenset(self.languages)
        self._ids = random.Random(seed)
        self._shift = 0.0
        self._running: dict[str, list[tuple[float, str]]] = {}
        self._cancelled_running: dict[str, set[str]] = {}
        self._date_second = -1
        self._date_value = ""

    # --- test helpers -----------------------------------------------------------------------------

    def add_account(
        self,
        public_key: str,
        secret_key: str,
        tier: str = "pro",
        status: AccountStatus = "active",
    ) -> FakeAccount:
        """Accept another key pair."""
        account = FakeAccount(
            public_key=public_key, secret_key=secret_key, tier=tier, status=status
        )
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
        terminal status reported once the run is over. Shell commands sent to sessions
        and services run as ``language="bash"``.
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
        """Create a running session owned by ``account`` (default: the first account);
        ``fields`` set :class:`FakeSession` attributes."""
        owner = account or self._first_account()
        session_id = self.new_resource_id("unsb-session-")
        self.sessions[session_id] = FakeSession(
            id=session_id,
            account=owner,
            container_name="unsb-vm-" + session_id.removeprefix("unsb-session-"),
            created_at=int(self.server_time()),
            **fields,
        )
        return session_id

    def add_service(self, account: str | None = None, **fields: Any) -> str:
        """Create a running service owned by ``account`` (default: the first account);
        ``fields`` set :class:`FakeService` attributes (``name`` defaults to a free one)."""
        owner = account or self._first_account()
        service_id = f"unsb-service-{self._ids.getrandbits(64):016x}"
        name = fields.pop("name", None) or f"svc-{service_id[-8:]}"
        self.services[service_id] = FakeService(
            id=service_id,
            account=owner,
            name=name,
            container_name="unsb-vm-" + service_id.removeprefix("unsb-service-"),
            created_at=int(self.server_time()),
            **fields,
        )
        return service_id

    def add_image(self, account: str | None = None, **fields: Any) -> str:
        """Create an image owned by ``account`` (default: the first account); ``fields``
        set :class:`FakeImage` attributes (the source defaults to a made-up service)."""
        image_id = self.new_resource_id("unsb-image-")
        fields.setdefault("name", f"image-{image_id[-4:]}")
        fields.setdefault("source_type", "service")
        fields.setdefault("source_id", "unsb-service-0")
        self.images[image_id] = FakeImage(
            id=image_id,
            owner=account or self._first_account(),
            created_at=int(self.server_time()),
            **fields,
        )
        return image_id

    def service_named(self, name: str) -> FakeService | None:
        """The service called ``name`` in any account (names are global: spec §3.5)."""
        return next((s for s in self.services.values() if s.name == name), None)

    def running_vcpus(self, public_key: str) -> int:
        """vCPUs of ``public_key``'s running sessions and services (the ``vcpu_limit``
        budget)."""
        sessions = sum(
            s.current_vcpu
            for s in self.sessions.values()
            if s.account == public_key and s.status == "running"
        )
        services = sum(
            s.vcpu
            for s in self.services.values()
            if s.account == public_key and s.status == "running"
        )
        return sessions + services

    def check_vcpu_budget(self, public_key: str, extra: int) -> None:
        """429 ``concurrency_limit_reached`` when ``extra`` more running vCPUs would pass
        ``vcpu_limit`` (spec §3.4-§3.5: unfreeze, boost, resize). The body's
        ``active_executions``/``concurrency_limit`` count vCPUs."""
        if self.vcpu_limit is None or extra <= 0:
            return
        in_use = self.running_vcpus(public_key)
        if in_use + extra > self.vcpu_limit:
            raise HTTPError(
                429,
                "concurrency_limit_reached",
                "Would exceed tier concurrency",
                active_executions=in_use,
                concurrency_limit=self.vcpu_limit,
            )

    def advance(self, seconds: float) -> None:
        """Move the job-lifecycle clock forward (jobs finish sooner); HTTP timing and the
        wall clock are unaffected."""
        self._shift += seconds

    def job_status(self, job_id: str) -> str:
        """The status ``GET /jobs/{id}`` would report now (ignoring lost/404 faults)."""
        return self.jobs[job_id].status_at(self.lifecycle_now())

    def active_jobs(self, public_key: str | None = None) -> int:
        """Pending or running jobs of one account (default: all accounts)."""
        keys = [public_key] if public_key is not None else list(self._running)
        now = self.lifecycle_now()
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
        self.peers = weakref.WeakKeyDictionary()

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

    # --- used by the pipeline and the route groups ------------------------------------------------

    def lifecycle_now(self) -> float:
        """The job-lifecycle clock: monotonic time plus every :meth:`advance`."""
        return time.monotonic() + self._shift

    def new_resource_id(self, prefix: str) -> str:
        """``prefix`` + ``xxxx-xxxx-xxxx-xxxx`` (seeded hex)."""
        h = f"{self._ids.getrandbits(64):016x}"
        return f"{prefix}{h[:4]}-{h[4:8]}-{h[8:12]}-{h[12:]}"

    def new_job_id(self) -> str:
        """A UUID4-shaped job id (seeded, so runs repeat)."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def knows_language(self, language: str) -> bool:
        """Whether ``language`` is one ``GET /languages`` lists."""
        return language in self._language_set

    def scripted_output(self, language: str, code: str) -> ScriptedOutput | None:
        """What :meth:`script` fixed for this code, else for any code in ``language``."""
        return self._scripts.get((language, code)) or self._scripts.get((language, None))

    def track_running(self, job: FakeJob) -> None:
        """Count ``job`` as active for its account until it ends."""
        self.jobs[job.job_id] = job
        heapq.heappush(self._running.setdefault(job.account, []), (job.end, job.job_id))

    def mark_cancelled(self, job: FakeJob, now: float) -> None:
        """Cancel an active job at lifecycle time ``now``."""
        job.cancelled_at = now
        self._cancelled_running.setdefault(job.account, set()).add(job.job_id)

    def require_sudo(self, request: web.Request) -> None:
        """Spec §2.5: 428 challenge, 403 wrong code, or pass (see ``check_sudo``)."""
        check_sudo(
            self.sudo_challenges,
            request[ACCOUNT].public_key,
            request.headers,
            self.sudo_otp,
            lambda: f"chal_{self._ids.getrandbits(64):016x}",
        )

    def date_header(self) -> str:
        """The ``Date`` header value for now on the server clock (cached per second)."""
        second = int(self.server_time())
        if second != self._date_second:
            self._date_second, self._date_value = second, formatdate(second, usegmt=True)
        return self._date_value

    def _first_account(self) -> str:
        if not self.accounts:
            raise LookupError("the fake server has no accounts")
        return next(iter(self.accounts))
