"""Starting a job on the fake server: the shared step behind ``POST /execute``,
``/execute/async`` and ``POST /services/{id}/execute``.

A job's outcome is scripted (``FakeUnsandbox.script``) or emulated from its source text
(:mod:`.programs`); its run time comes from the script, else the duration model, else
``default_duration``. The per-account ``concurrency_limit`` answers 429
``concurrency_limit_reached`` (spec §5.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from aiohttp import web

from .fake_state import FakeState
from .faults import FaultKind
from .http_replies import HTTPError
from .programs import ScriptedOutput, emulate
from .records import FakeJob

__all__ = ["launch_job", "outcome_for"]


def outcome_for(state: FakeState, language: str, code: str) -> ScriptedOutput:
    """The scripted (else emulated) outcome, with its run time filled in."""
    scripted = state.scripted_output(language, code)
    if scripted is not None and scripted.duration is not None:
        return scripted
    if state.duration_model is not None:
        base = state.duration_model.duration(language)
    else:
        base = state.default_duration
    if scripted is not None:
        return attrs.evolve(scripted, duration=base)
    emulated = emulate(language, code)
    return attrs.evolve(emulated, duration=base + (emulated.duration or 0.0))


def launch_job(
    state: FakeState,
    request: web.Request,
    *,
    owner: str,
    language: str,
    code: str,
    payload: Mapping[str, Any],
    network_mode: str,
    return_artifact: bool = False,
    ttl: float | None = None,
) -> FakeJob:
    """Create and register a job for ``owner``; ``ttl`` (seconds) defaults to the
    server's ``default_ttl``. A ``not_found_race`` fault matching ``request`` makes the
    job's first lookups answer 404."""
    if state.concurrency_limit is not None:
        active = state.active_jobs(owner)
        if active >= state.concurrency_limit:
            raise HTTPError(
                429,
                "concurrency_limit_reached",
                "Concurrency limit reached",
                active_executions=active,
                concurrency_limit=state.concurrency_limit,
            )
    outcome = outcome_for(state, language, code)
    duration = outcome.duration or 0.0
    limit = ttl if ttl is not None else state.default_ttl
    now = state.lifecycle_now()
    queued_until = now + state.queue_delay
    job = FakeJob(
        job_id=state.new_job_id(),
        account=owner,
        language=language,
        code=code,
        request=payload,
        network_mode=network_mode,
        return_artifact=return_artifact,
        ttl=limit,
        outcome=outcome,
        created_at=state.server_time(),
        started=now,
        queued_until=queued_until,
        end=queued_until + min(duration, limit),
        timed_out=duration > limit,
    )
    for fault in state.faults:
        if fault.kind is FaultKind.NOT_FOUND_RACE and fault.trigger(
            request.method, request.path, state.fault_rng
        ):
            job.not_found_polls = fault.count
            break
    state.track_running(job)
    return job
