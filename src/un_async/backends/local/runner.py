"""One execution from request to result: workspace, compile, run, verdict, artifacts,
cleanup — in that order, with the workspace removed and every process gone whatever
happens (cancellation of the calling task included).

The program's environment is exactly: ``PATH`` (the system directories, after the
language's own ``bin`` directory when that lies outside them), ``HOME`` and ``PWD`` (the
work directory, which is also the current directory), ``LANG`` and ``LC_ALL``
(``C.UTF-8``), ``TMPDIR`` (``/tmp`` inside the ``bubblewrap`` sandbox, the execution's own
``tmp/`` directory below it), the variables its language needs (see
:mod:`~un_async.backends.local.toolchains`), then the call's ``env=``, which wins.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping

import attrs

from un_async.backends.local.artifacts import Snapshot, collect, snapshot
from un_async.backends.local.host import SYSTEM_PATH, Host
from un_async.backends.local.isolation import Isolation
from un_async.backends.local.limits import DEFAULT_TTL, Limits
from un_async.backends.local.process import Outcome, run_program
from un_async.backends.local.results import local_result
from un_async.backends.local.sandbox import SANDBOX_TMP, Layout, Step, command
from un_async.backends.local.settings import LocalSettings
from un_async.backends.local.toolchains import Plan, Toolchain
from un_async.backends.local.uids import UidLeases, count_processes, kill_uid
from un_async.backends.local.verdict import Verdict, judge
from un_async.backends.local.workspace import Workspace
from un_async.core.models import ExecutionRequest, ExecutionResult

__all__ = ["Runner", "program_env", "source_name_for"]

MIB = 1024 * 1024


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
        "TMPDIR": SANDBOX_TMP if level == "bubblewrap" else layout.tmp,
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

    async def run(self, argv: tuple[str, ...], *, compiling: bool) -> Outcome:
        """Start one step in the sandbox and wait for its end (see :func:`run_program`)."""
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
        )
        layout = self.workspace.layout
        outcome = await run_program(
            command(self.level, self.host, layout, step),
            env=self.env,
            cwd=layout.work,
            deadline=self.deadline,
            cancel=self.cancel,
            output_limit=self.output_limit,
            # At level none, escaped descendants die by uid once the program has exited.
            after_exit=self.kill_leftovers if self.level == "none" else None,
        )
        if outcome.ended_by != "exit" and self.level != "none":
            await self.kill_leftovers()  # the namespace is going; make sure of it
        return outcome

    async def kill_leftovers(self) -> None:
        if self.uid is not None:
            await kill_uid(self.host, self.uid)


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
            workspace = Workspace.create(uid, build=chain.compiled, etc=self.level == "bubblewrap")
            source = source_name_for(chain, request)
            for item in request.input_files:
                workspace.write(item.filename, bytes(item.content))
            workspace.write(source, request.code.encode("utf-8"))
            layout = workspace.layout
            before: Snapshot = snapshot(layout.work) if request.return_artifact else {}
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
                isolation=self.isolation.facts(self.level, share_network=share_network),
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

    async def _compile_and_run(self, steps: _Steps, plan: Plan) -> tuple[Outcome, Verdict]:
        """The compile step (if any), then — if it succeeded — the run step."""
        limits = steps.limits
        described = (
            f"{limits.wall_seconds:g} s wall clock, {limits.cpu_seconds} s CPU, "
            f"{limits.memory_mb} MiB memory, {limits.processes} processes, "
            f"{limits.file_size_bytes // MIB} MiB per file"
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
            if not compiling or not verdict.ok:
                break
        return outcome, verdict
