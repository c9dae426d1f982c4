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
from typing import Any

import attrs

from un_async.backends.local.artifacts import Snapshot, collect, snapshot
from un_async.backends.local.host import SYSTEM_PATH
from un_async.backends.local.isolation import Isolation
from un_async.backends.local.limits import DEFAULT_TTL, Limits
from un_async.backends.local.process import Outcome, run_program
from un_async.backends.local.results import local_result
from un_async.backends.local.sandbox import SANDBOX_TMP, Layout, Step, command
from un_async.backends.local.settings import LocalSettings
from un_async.backends.local.toolchains import Toolchain
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
        facts = self.isolation.facts(self.level, share_network=share_network)
        common: dict[str, Any] = {
            "job_id": job_id,
            "language": request.language,
            "isolation": facts,
            "network_mode": request.network_mode or "zerotrust",
            "created_at": created_at,
        }
        loop = asyncio.get_running_loop()
        began = loop.time()
        deadline = began + limits.wall_seconds
        uid = self.leases.acquire()
        workspace: Workspace | None = None
        try:
            compiled = chain.compiled
            workspace = Workspace.create(uid, build=compiled, etc=self.level == "bubblewrap")
            layout = workspace.layout
            source = source_name_for(chain, request)
            for item in request.input_files:
                workspace.write(item.filename, bytes(item.content))
            workspace.write(source, request.code.encode("utf-8"))
            before: Snapshot = snapshot(layout.work) if request.return_artifact else {}
            vcpu = request.vcpu or 1
            plan = chain.plan(
                source=os.path.join(layout.work, source),
                build=layout.build,
                workdir=layout.work,
                memory_mb=limits.memory_mb,
                vcpu=vcpu,
            )
            env = program_env(chain, layout, level=self.level, vcpu=vcpu, env=request.env)
            stdout = stderr = ""
            truncated = False
            verdict: Verdict | None = None
            steps = [(plan.compile, True)] if plan.compile else []
            steps.append((plan.run, False))
            for argv, compiling in steps:
                assert argv is not None
                outcome = await self._step(
                    argv,
                    compiled,
                    chain,
                    limits,
                    uid,
                    layout,
                    env,
                    deadline,
                    cancel,
                    compiling=compiling,
                    share_network=share_network,
                )
                verdict = judge(
                    outcome,
                    compiling=compiling,
                    exact_signals=self.level == "none",
                    oom_markers=chain.oom_markers,
                    limits_text=self._describe(limits),
                )
                stdout, stderr = outcome.stdout.text(), outcome.stderr.text()
                truncated = outcome.truncated
                if not compiling or not verdict.ok:
                    break
            assert verdict is not None
            collected = None
            if request.return_artifact and verdict.reason not in {"sandbox", "compile"}:
                collected = await asyncio.to_thread(
                    collect,
                    layout.work,
                    before,
                    exclude=frozenset({source}),
                    limit=self.settings.artifact_limit_mb * MIB,
                )
            return local_result(
                **common,
                status=verdict.status,
                stdout=stdout,
                stderr=stderr,
                exit_code=verdict.exit_code,
                reason=verdict.reason,
                truncated=truncated,
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

    @staticmethod
    def _describe(limits: Limits) -> str:
        return (
            f"{limits.wall_seconds:g} s wall clock, {limits.cpu_seconds} s CPU, "
            f"{limits.memory_mb} MiB memory, {limits.processes} processes, "
            f"{limits.file_size_bytes // MIB} MiB per file"
        )

    async def _step(
        self,
        argv: tuple[str, ...],
        has_build: bool,
        chain: Toolchain,
        limits: Limits,
        uid: int | None,
        layout: Layout,
        env: Mapping[str, str],
        deadline: float,
        cancel: asyncio.Event,
        *,
        compiling: bool,
        share_network: bool,
    ) -> Outcome:
        host = self.isolation.host
        rlimits = limits.rlimits(chain.memory, compiling=compiling)
        if uid is None and not host.is_root:
            # RLIMIT_NPROC counts every process of our user: leave room for those.
            used = await asyncio.to_thread(count_processes, os.getuid())
            rlimits["nproc"] = (used + limits.processes, used + limits.processes)
        step = Step(
            argv=argv,
            rlimits=rlimits,
            uid=uid,
            share_network=share_network,
            binds=chain.binds,
            build=has_build,
            build_writable=compiling,
        )
        argv_full = command(self.level, host, layout, step)

        async def kill_leftovers() -> None:
            if uid is not None:
                await kill_uid(host, uid)

        outcome = await run_program(
            argv_full,
            env=env,
            cwd=layout.work,
            deadline=deadline,
            cancel=cancel,
            output_limit=self.settings.output_limit_bytes,
            after_exit=kill_leftovers if self.level == "none" else None,
        )
        if outcome.ended_by != "exit" and self.level != "none":
            await kill_leftovers()
        return outcome
