"""The ``local`` backend: executes code on this machine, isolated as well as it can.

Select it with ``AsyncClient(backend="local")`` or ``UN_ASYNC_BACKEND=local``; it needs no
credentials. The first use finds the isolation levels that work, and each language is
looked up when it is first asked for (all of them for :meth:`LocalBackend.get_languages`),
in a worker thread, once per process; both answers are also kept on disk between
processes (:mod:`~un_async.backends.local.probe_cache`; option ``probe_cache``), so a new
process usually starts without probing. A run that fails to start in the sandbox while
using answers from the disk probes again and, when the answers changed, runs once more
(the program had not started). :meth:`LocalBackend.describe` always probes afresh.
Afterwards ``submit`` returns a job at once, jobs run up to ``concurrency`` at a time and
queue beyond it, and the client awaits them with :meth:`LocalBackend.wait_job` instead of
polling. See the package docstring for what each isolation level enforces.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from un_async.backends.local.isolation import Isolation, probe_isolation
from un_async.backends.local.jobs import Job, JobTable
from un_async.backends.local.probe_cache import ProbeCache
from un_async.backends.local.runner import Runner, source_name_for
from un_async.backends.local.settings import LocalSettings
from un_async.backends.local.toolchains import (
    INSTALL_HINTS,
    LANGUAGES,
    Toolchain,
    discover_toolchains,
    resolve_toolchain,
    world_reachable,
)
from un_async.backends.local.uids import UidLeases
from un_async.backends.local.workspace import check_input_names, sweep_stale
from un_async.core.credentials import Credentials
from un_async.core.errors import ClientClosedError, ConfigurationError, ValidationError
from un_async.core.executor import BaseExecutor
from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, JobStatus, Record

if TYPE_CHECKING:
    from un_async.core.executor import BackendContext

__all__ = ["LocalBackend", "local_backend"]

CLOSE_GRACE = 10.0
"""Seconds ``aclose`` waits for cancelled jobs to finish cleaning up."""


class LocalBackend(BaseExecutor):
    """Runs executions as sandboxed processes on this machine."""

    name = "local"
    requires_credentials = False
    native_wait = True
    cache_languages = False

    def __init__(
        self, settings: LocalSettings | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings or LocalSettings()
        self._environ = dict(os.environ if environ is None else environ)
        self._jobs = JobTable()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._runner: Runner | None = None
        self._toolchains: dict[str, Toolchain] = {}
        self._unusable: dict[str, str] = {}
        self._discovered = False
        self._setup_lock: asyncio.Lock | None = None
        self._closed = False
        self._submitting = 0
        self._submits_done: asyncio.Event | None = None
        self._cache = ProbeCache.for_environ(self._environ) if self.settings.probe_cache else None

    @classmethod
    def from_context(cls, context: BackendContext) -> LocalBackend:
        """The factory registered as ``local``: settings from the backend options and
        ``UN_ASYNC_LOCAL_*`` (see :mod:`~un_async.backends.local.settings`)."""
        return cls(LocalSettings.from_setting(context.setting), environ=context.environ)

    def __repr__(self) -> str:
        level = self._runner.level if self._runner else "not probed"
        return f"LocalBackend(isolation={level!r}, concurrency={self.settings.concurrency})"

    # -- setup ------------------------------------------------------------------------------

    def _setup_sync(self, *, refresh: bool = False) -> Runner:
        sweep_stale(tempfile.gettempdir())  # work dirs of processes killed before cleanup
        isolation = probe_isolation(self._environ, cache=self._cache, refresh=refresh)
        try:
            level = isolation.choose(self.settings.isolation)
        except ConfigurationError:
            if not isolation.from_cache:
                raise
            isolation = probe_isolation(self._environ, cache=self._cache, refresh=True)
            level = isolation.choose(self.settings.isolation)
        # At level none a pool uid sees the host filesystem as it is: only toolchains every
        # user can reach are usable (not a pyenv inside root's home). The sandboxes bind
        # the toolchain's prefix back into place.
        world = isolation.host.uid_pool is not None and level == "none"
        if world and not world_reachable(tempfile.gettempdir()):
            raise ConfigurationError(
                f"at isolation level 'none' executions run as an unprivileged uid that must"
                f" reach their work directory, but the temporary directory"
                f" {tempfile.gettempdir()!r} is private: set TMPDIR to a directory others may"
                " traverse (such as /tmp) or use another isolation level"
            )
        previous = self._runner
        if previous is not None and previous.leases.host.uid_pool == isolation.host.uid_pool:
            leases = previous.leases  # uids of running executions stay taken
        else:
            leases = UidLeases(isolation.host)
        return Runner(isolation=isolation, level=level, settings=self.settings, leases=leases)

    @staticmethod
    def _world(runner: Runner) -> bool:
        """Executions run as a pool uid that sees the host filesystem (level none)."""
        return runner.isolation.host.uid_pool is not None and runner.level == "none"

    def _lock(self) -> asyncio.Lock:
        if self._setup_lock is None:
            self._setup_lock = asyncio.Lock()
        return self._setup_lock

    async def _ready(self) -> Runner:
        """The runner, after the (cached) isolation probe on first use."""
        if self._closed:
            raise ClientClosedError("the local backend is closed")
        if self._runner is None:
            async with self._lock():
                if self._runner is None:
                    self._runner = await asyncio.to_thread(self._setup_sync)
        return self._runner

    def _record(self, language: str, chain: Toolchain | None, unusable: str | None) -> None:
        if chain is None:
            self._toolchains.pop(language, None)
        else:
            self._toolchains[language] = chain
        if unusable is None:
            self._unusable.pop(language, None)
        else:
            self._unusable[language] = unusable

    async def _resolve(self, runner: Runner, language: str, *, refresh: bool = False) -> None:
        chain, unusable = await asyncio.to_thread(
            resolve_toolchain,
            language,
            self._environ,
            world=self._world(runner),
            cache=self._cache,
            refresh=refresh,
        )
        self._record(language, chain, unusable)

    async def _discover(self, runner: Runner) -> None:
        """Look every language up (for the list of languages, or to name the available
        ones in an error)."""
        discovery = await asyncio.to_thread(
            discover_toolchains, self._environ, world=self._world(runner), cache=self._cache
        )
        self._toolchains = dict(discovery.toolchains)
        self._unusable = dict(discovery.unusable)
        self._discovered = True

    @property
    def toolchains(self) -> Mapping[str, Toolchain]:
        """The toolchains of the languages looked up so far (all of them after
        :meth:`get_languages` or :meth:`describe`)."""
        return dict(self._toolchains)

    @property
    def isolation(self) -> Isolation | None:
        """The probe's findings, once the backend was used."""
        return self._runner.isolation if self._runner else None

    # -- executions -------------------------------------------------------------------------

    async def _toolchain_for(self, runner: Runner, language: str) -> Toolchain:
        """The language's toolchain, looked up on first use; a :class:`ValidationError`
        naming the available languages (and what to install) when it has none."""
        chain = self._toolchains.get(language)
        if chain is None and language in LANGUAGES and not self._discovered:
            await self._resolve(runner, language)
            chain = self._toolchains.get(language)
        if chain is not None:
            return chain
        if not self._discovered:
            await self._discover(runner)
        available = ", ".join(sorted(self._toolchains)) or "none"
        hint = self._unusable.get(language) or INSTALL_HINTS.get(language)
        if hint is None:
            raise ValidationError(
                f"unknown language {language!r} for the local backend (available here: {available})"
            )
        raise ValidationError(
            f"language {language!r} is not available on this machine: {hint}"
            f" (available here: {available})"
        )

    def _check(self, chain: Toolchain, request: ExecutionRequest) -> None:
        check_input_names(request.input_files)
        source = source_name_for(chain, request)
        if any(item.filename == source for item in request.input_files):
            raise ValidationError(
                f"input file {source!r} has the name the {request.language} source must be"
                " compiled under; rename it"
            )

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        """Validate, queue and return the pending job at once (``wait`` changes nothing:
        the client awaits :meth:`wait_job`, under its own deadline). A backend closed
        meanwhile (during the first use's probe) starts nothing: ClientClosedError."""
        self._submitting += 1
        try:
            runner = await self._ready()
            chain = await self._toolchain_for(runner, request.language)
            self._check(chain, request)
            facts = runner.isolation.facts(
                runner.level, share_network=request.network_mode == "semitrusted"
            )
            if self._closed:
                raise ClientClosedError("the local backend is closed")
            job = Job(request, facts)
            self._jobs.add(job)
            job.task = asyncio.get_running_loop().create_task(self._run(runner, job, chain))
            return job.snapshot()
        finally:
            self._submitting -= 1
            if not self._submitting and self._submits_done is not None:
                self._submits_done.set()

    async def _slot(self, job: Job) -> bool:
        """Wait for a free slot; False (and no slot held) when the job is cancelled first."""
        loop = asyncio.get_running_loop()
        acquire = loop.create_task(self._slots.acquire())
        cancelled = loop.create_task(job.cancel_event.wait())
        try:
            await asyncio.wait({acquire, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
            if not acquire.done():
                acquire.cancel()
        if acquire.cancelled():
            return False
        if job.cancel_event.is_set():
            self._slots.release()
            return False
        return True

    async def _run(self, runner: Runner, job: Job, chain: Toolchain) -> None:
        try:
            if not await self._slot(job):
                job.finish(job.snapshot())
                return
            try:
                job.status = JobStatus.RUNNING
                result = await self._execute(runner, job, chain)
                if result.reason == "sandbox" and (runner.isolation.from_cache or chain.from_cache):
                    fresh = await self._reprobe(runner, chain)
                    if fresh is not None:
                        result = await self._execute(fresh[0], job, fresh[1])
            finally:
                self._slots.release()
            job.finish(result)
        except BaseException as exc:
            if not job.final:
                failure = job.snapshot()
                failure["status"] = "failed"
                failure["reason"] = "sandbox"
                failure["error"] = f"the local backend failed: {type(exc).__name__}: {exc}"
                job.finish(failure)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._jobs.prune()

    @staticmethod
    async def _execute(runner: Runner, job: Job, chain: Toolchain) -> ExecutionResult:
        return await runner.execute(
            job_id=job.id,
            request=job.request,
            chain=chain,
            created_at=job.created_at,
            cancel=job.cancel_event,
        )

    async def _reprobe(self, failed: Runner, chain: Toolchain) -> tuple[Runner, Toolchain] | None:
        """After a sandbox failure that used answers from the disk cache: probe what came
        from it again (storing the fresh answers). The fresh runner and toolchain when
        they differ from those that failed (worth one more run), else None."""
        try:
            async with self._lock():
                runner = self._runner or failed
                if runner.isolation.from_cache:
                    runner = await asyncio.to_thread(self._setup_sync, refresh=True)
                    if self._world(runner) != self._world(failed):
                        self._toolchains, self._unusable, self._discovered = {}, {}, False
                    self._runner = runner
                await self._resolve(runner, chain.language, refresh=chain.from_cache)
        except Exception:  # the failure stands; the next use probes again
            return None
        fresh = self._toolchains.get(chain.language)
        if fresh is None or (
            runner.level == failed.level and runner.isolation == failed.isolation and fresh == chain
        ):
            return None
        return runner, fresh

    def _job(self, job_id: str) -> Job:
        job = self._jobs.find(job_id) if isinstance(job_id, str) else None
        if job is None:
            from un_async.core.errors import NotFoundError  # loads aiohttp: the error path only

            raise NotFoundError(
                404, {"error": "job_not_found", "message": f"no local job {job_id!r}"}
            )
        return job

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return self._job(job_id).snapshot()

    async def wait_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return await self._job(job_id).wait()

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        """Mark the job cancelled and signal its runner, which kills the program."""
        job = self._job(job_id)
        job.cancel()
        return Record({"job_id": job.id, "status": job.snapshot().raw_status})

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        return [job.entry() for job in self._jobs]

    async def list_job_states(self, credentials: Credentials) -> Mapping[str, Mapping[str, Any]]:
        return {job.id: {"status": job.snapshot().raw_status} for job in self._jobs}

    async def get_languages(self, credentials: Credentials) -> list[str]:
        """The languages runnable here (never the service's list)."""
        runner = await self._ready()
        if not self._discovered:
            await self._discover(runner)
        return sorted(self._toolchains)

    async def aclose(self) -> None:
        """Let submits under way finish their setup (they then start nothing), cancel
        what still runs or waits, and wait (bounded) for the cleanup."""
        self._closed = True
        if self._submitting:
            self._submits_done = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._submits_done.wait(), timeout=CLOSE_GRACE)
        tasks = []
        for job in self._jobs.running():
            job.cancel()
            if job.task is not None:
                tasks.append(job.task)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
            for task in late:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*late, return_exceptions=True)

    def describe(self) -> dict[str, Any]:
        """Isolation level and facts, the levels tried, and the languages with versions
        (probes afresh, refreshing the disk cache: blocking)."""
        runner = self._setup_sync(refresh=True)
        discovery = discover_toolchains(
            self._environ, world=self._world(runner), cache=self._cache, refresh=True
        )
        self._runner = runner
        self._toolchains = dict(discovery.toolchains)
        self._unusable = dict(discovery.unusable)
        self._discovered = True
        isolation = runner.isolation
        return {
            "backend": self.name,
            "isolation": isolation.facts(runner.level, share_network=False),
            "levels_available": list(isolation.available),
            "levels_unavailable": dict(isolation.unavailable),
            "languages": {
                name: chain.describe() for name, chain in sorted(self._toolchains.items())
            },
            "concurrency": self.settings.concurrency,
            "memory_mb": self.settings.memory_mb or "2048 per vCPU",
            "output_limit_bytes": self.settings.output_limit_bytes,
            "missing_languages": {
                name: self._unusable.get(name, hint)
                for name, hint in INSTALL_HINTS.items()
                if name not in self._toolchains
            },
        }


def local_backend(context: BackendContext) -> LocalBackend:
    """Factory for ``register("local", ...)``."""
    return LocalBackend.from_context(context)
