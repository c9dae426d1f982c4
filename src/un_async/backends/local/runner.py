"""One execution from request to result: workspace, compile, run, verdict, artifacts,
cleanup — in that order, with the workspace removed and every process gone whatever
happens (cancellation of the calling task included). The workspace is prepared (input
files written, snapshot taken) in one worker thread, off the event loop.

The program's environment is exactly: ``PATH`` (the system directories, after the
language's own ``bin`` directory when that lies outside them), ``HOME`` and ``PWD`` (the
work directory, which is also the current directory), ``LANG`` and ``LC_ALL``
(``C.UTF-8``), ``TMPDIR`` (``/tmp`` at the ``bubblewrap`` and ``namespaces`` levels, where
it is the execution's own, the execution's ``tmp/`` directory at ``none``), the variables
its language needs (see :mod:`~un_async.backends.local.toolchains`), then the call's
``env=``, which wins. It is given to the program alone, never to the helpers that set up
the sandbox (see :mod:`~un_async.backends.local.sandbox`).

While a step runs, the workspace (work, build and ``tmp`` directories) is measured every
:data:`DISK_POLL` seconds; past the disk limit the program is killed and the result is
``failed``/``file_size``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping

import attrs

from un_async.backends.local.artifacts import Snapshot, collect, snapshot
from un_async.backends.local.host import SYSTEM_PATH, Host
from un_async.backends.local.isolation import Isolation
from un_async.backends.local.limits import DEFAULT_TTL, Limits
from un_async.backends.local.process import Outcome, run_program
from un_async.backends.local.results import local_result
from un_async.backends.local.sandbox import SANDBOX_TMP, Layout, Step, command, refused_binds
from un_async.backends.local.settings import LocalSettings
from un_async.backends.local.toolchains import Plan, Toolchain
from un_async.backends.local.uids import UidLeases, count_processes, kill_uid
from un_async.backends.local.verdict import KILLED, Verdict, judge
from un_async.backends.local.workspace import Workspace, disk_usage
from un_async.core.models import ExecutionRequest, ExecutionResult, JobStatus

__all__ = ["Runner", "program_env", "source_name_for"]

MIB = 1024 * 1024
DISK_POLL = 0.25
"""Seconds between two measurements of a running execution's workspace."""


def source_name_for(chain: Toolchain, request: ExecutionRequest) -> str:
    """The source file's name: the language's, renamed (``main_2.py``) when an input file
    already has it — except Java's, which must match the class (a clash is an error the
    backend reports before running)."""
    name = chain.source_name(request.code)
    taken = {item.filename for item in request.input_files}
    if chain.language == "java" or name not in taken:
        return name
    stem, _, extension = name.rpartition(".")
    number = 2
    while f"{stem}_{number}.{extension}" in taken:
        number += 1
    return f"{stem}_{number}.{extension}"


def program_env(
    chain: Toolchain, layout: Layout, *, level: str, vcpu: int, env: Mapping[str, str]
) -> dict[str, str]:
    """The complete environment of the program (see the module docstring)."""
    variables = {
        "PATH": ":".join((*chain.path_dirs, SYSTEM_PATH)),
        "HOME": layout.work,
        "PWD": layout.work,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": layout.tmp if level == "none" else SANDBOX_TMP,
    }
    for key, value in chain.env.items():
        variables[key] = value.replace("{build}", layout.build).replace("{vcpu}", str(vcpu))
    variables.update(env)
    return variables


@attrs.frozen(kw_only=True)
class _Steps:
    """What every step of one execution shares."""

    level: str
    host: Host
    chain: Toolchain
    limits: Limits
    uid: int | None
    workspace: Workspace
    env: Mapping[str, str]
    deadline: float
    cancel: asyncio.Event
    share_network: bool
    output_limit: int
    disk_full: asyncio.Event = attrs.field(factory=asyncio.Event)
    """Set when the workspace passed the disk limit (and the step was killed for it)."""

    async def run(self, argv: tuple[str, ...], *, compiling: bool) -> Outcome:
        """Start one step in the sandbox and wait for its end (see :func:`run_program`),
        killing it early when the execution is cancelled or its workspace passes the
        disk limit."""
        rlimits = self.limits.rlimits(self.chain.memory, compiling=compiling)
        if self.uid is None and not self.host.is_root:
            # RLIMIT_NPROC counts every process of our user: leave room for those.
            used = await asyncio.to_thread(count_processes, os.getuid())
            rlimits["nproc"] = (used + self.limits.processes, used + self.limits.processes)
        step = Step(
            argv=argv,
            rlimits=rlimits,
            uid=self.uid,
            share_network=self.share_network,
            binds=self.chain.binds,
            build=self.chain.compiled,
            build_writable=compiling,
            env=self.env,
        )
        layout = self.workspace.layout
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        watchers = (
            loop.create_task(_relay(self.cancel, stop)),
            loop.create_task(self._watch_disk(stop)),
        )
        try:
            outcome = await run_program(
                command(self.level, self.host, layout, step),
                deadline=self.deadline,
                cancel=stop,
                output_limit=self.output_limit,
                # At level none, escaped descendants die by uid once the program has exited.
                after_exit=self.kill_leftovers if self.level == "none" else None,
            )
        finally:
            for watcher in watchers:
                watcher.cancel()
        if outcome.ended_by != "exit" and self.level != "none":
            await self.kill_leftovers()  # the namespace is going; make sure of it
        return outcome

    async def kill_leftovers(self) -> None:
        if self.uid is not None:
            await kill_uid(self.host, self.uid)

    async def _watch_disk(self, stop: asyncio.Event) -> None:
        limit = self.limits.disk_bytes
        root = self.workspace.layout.root
        while not stop.is_set():
            used = await asyncio.to_thread(disk_usage, root, stop_above=limit)
            if used > limit:
                self.disk_full.set()
                stop.set()
                return
            await asyncio.sleep(DISK_POLL)


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def _prepare(
    level: str, uid: int | None, chain: Toolchain, request: ExecutionRequest, source: str
) -> tuple[Workspace, Snapshot]:
    """Create the workspace, write the input files and the source, take the artifact
    snapshot (blocking: run in a worker thread). Nothing is left behind on failure."""
    workspace = Workspace.create(uid, build=chain.compiled, etc=level == "bubblewrap")
    try:
        for item in request.input_files:
            workspace.write(item.filename, bytes(item.content))
        workspace.write(source, request.code.encode("utf-8"))
        before: Snapshot = snapshot(workspace.layout.work) if request.return_artifact else {}
    except BaseException:
        workspace.remove()
        raise
    return workspace, before


def _remove_prepared(task: asyncio.Future[tuple[Workspace, Snapshot]]) -> None:
    """Once a preparation its caller stopped waiting for is done: remove its workspace
    (in a thread of its own, which the interpreter waits for at exit)."""
    if task.cancelled() or task.exception() is not None:
        return
    workspace = task.result()[0]
    threading.Thread(target=workspace.remove, name="un-async-cleanup").start()


async def _prepared(
    level: str, uid: int | None, chain: Toolchain, request: ExecutionRequest, source: str
) -> tuple[Workspace, Snapshot]:
    """:func:`_prepare` in a worker thread; if the caller is cancelled meanwhile, the
    workspace is removed as soon as the thread has made it."""
    task = asyncio.ensure_future(asyncio.to_thread(_prepare, level, uid, chain, request, source))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_remove_prepared)
        raise


@attrs.define
class Runner:
    """Runs executions at one isolation level with one backend's settings."""

    isolation: Isolation
    level: str
    settings: LocalSettings
    leases: UidLeases

    def limits_for(self, request: ExecutionRequest) -> Limits:
        ttl = request.ttl or DEFAULT_TTL
        vcpu = request.vcpu or 1
        return Limits(
            wall_seconds=float(ttl),
            memory_mb=self.settings.memory_for(request.vcpu),
            cpu_seconds=ttl * vcpu + 1,
            processes=self.settings.max_processes,
            file_size_bytes=self.settings.file_size_mb * MIB,
            disk_bytes=self.settings.disk_limit_mb * MIB,
        )

    async def execute(
        self,
        *,
        job_id: str,
        request: ExecutionRequest,
        chain: Toolchain,
        created_at: int,
        cancel: asyncio.Event,
    ) -> ExecutionResult:
        """Run ``request`` to its final result; never raises for the program's behaviour."""
        limits = self.limits_for(request)
        share_network = request.network_mode == "semitrusted"
        loop = asyncio.get_running_loop()
        began = loop.time()
        uid = self.leases.acquire()
        workspace: Workspace | None = None
        try:
            source = source_name_for(chain, request)
            workspace, before = await _prepared(self.level, uid, chain, request, source)
            layout = workspace.layout
            vcpu = request.vcpu or 1
            steps = _Steps(
                level=self.level,
                host=self.isolation.host,
                chain=chain,
                limits=limits,
                uid=uid,
                workspace=workspace,
                env=program_env(chain, layout, level=self.level, vcpu=vcpu, env=request.env),
                deadline=began + limits.wall_seconds,
                cancel=cancel,
                share_network=share_network,
                output_limit=self.settings.output_limit_bytes,
            )
            plan = chain.plan(
                source=os.path.join(layout.work, source),
                build=layout.build,
                workdir=layout.work,
                memory_mb=limits.memory_mb,
                vcpu=vcpu,
            )
            outcome, verdict = await self._compile_and_run(steps, plan)
            collected = None
            if request.return_artifact and verdict.reason not in {"sandbox", "compile"}:
                limit = self.settings.artifact_limit_mb * MIB
                exclude = frozenset({source})
                collected = await asyncio.to_thread(
                    collect, layout.work, before, exclude=exclude, limit=limit
                )
            return local_result(
                job_id=job_id,
                language=request.language,
                isolation=self._facts(chain, share_network=share_network),
                network_mode=request.network_mode or "zerotrust",
                created_at=created_at,
                status=verdict.status,
                stdout=outcome.stdout.text(),
                stderr=outcome.stderr.text(),
                exit_code=verdict.exit_code,
                reason=verdict.reason,
                truncated=outcome.truncated,
                error=verdict.error,
                duration_ms=round((loop.time() - began) * 1000),
                completed_at=int(time.time()),
                artifacts=collected.files if collected else None,
                artifacts_omitted=collected.omitted if collected else (),
            )
        finally:
            self.leases.release(uid)
            if workspace is not None:
                await asyncio.shield(asyncio.to_thread(workspace.remove))

    def _facts(self, chain: Toolchain, *, share_network: bool) -> dict[str, object]:
        """The result's ``isolation``, with a warning for toolchain paths left out."""
        facts = self.isolation.facts(self.level, share_network=share_network)
        refused = refused_binds(self.isolation.host, chain.binds)
        if refused and self.level != "none":
            warnings = list(facts["warnings"])
            warnings.append(
                f"toolchain paths not exposed because they are or contain a home directory:"
                f" {', '.join(refused)}"
            )
            facts["warnings"] = warnings
        return facts

    async def _compile_and_run(self, steps: _Steps, plan: Plan) -> tuple[Outcome, Verdict]:
        """The compile step (if any), then — if it succeeded — the run step."""
        limits = steps.limits
        described = (
            f"{limits.wall_seconds:g} s wall clock, {limits.cpu_seconds} s CPU, "
            f"{limits.memory_mb} MiB memory per process, {limits.processes} processes, "
            f"{limits.file_size_bytes // MIB} MiB per file, "
            f"{limits.disk_bytes // MIB} MiB of disk in all"
        )
        for argv, compiling in ((plan.compile, True), (plan.run, False)):
            if argv is None:
                continue
            outcome = await steps.run(argv, compiling=compiling)
            verdict = judge(
                outcome,
                compiling=compiling,
                exact_signals=self.level == "none",
                oom_markers=steps.chain.oom_markers,
                limits_text=described,
            )
            disk_full = steps.disk_full.is_set() and not steps.cancel.is_set()
            if outcome.ended_by == "cancel" and disk_full:
                verdict = Verdict(
                    status=JobStatus.FAILED,
                    reason="file_size",
                    exit_code=KILLED,
                    error=f"disk limit reached ({described})",
                )
            if not compiling or not verdict.ok:
                break
        return outcome, verdict
