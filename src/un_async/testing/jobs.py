"""Execution endpoints of the fake server: ``POST /execute``, ``/execute/async`` and
``/jobs`` (spec §3-§4).

``DELETE /jobs/{id}`` on a finished job answers 200 with its unchanged terminal status (or
204 when ``cancel_status=204``), never 409. Lost jobs answer their configured error
status, then 404 (spec §4.2).
"""

from __future__ import annotations

import asyncio
import heapq
import uuid
from typing import Any

import attrs
from aiohttp import web

from .base import ACCOUNT, ServerState
from .faults import FaultKind
from .programs import ScriptedOutput, emulate
from .replies import (
    HTTPError,
    bad_request,
    check_env,
    decode_files,
    flag,
    int_in_range,
    json_response,
    parse_network_mode,
    parse_object,
)
from .state import FakeJob

__all__ = ["JobRoutes"]


class JobRoutes(ServerState):
    """Handlers for job creation, lookup, cancellation and listing."""

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
            raise bad_request("language is required")
        if language not in self._language_set:
            raise HTTPError(400, "unsupported_language", f"Unsupported language: {language}")
        code = payload.get("code")
        if not isinstance(code, str):
            raise bad_request("code is required")
        ttl = int_in_range(payload, "ttl", 1, 900)
        int_in_range(payload, "vcpu", 1, 8)
        network_mode = parse_network_mode(payload)
        check_env(payload.get("env"))
        decode_files(payload.get("input_files"))
        return_artifact = flag(payload, "return_artifact", "return_artifacts")

        owner = request[ACCOUNT].public_key
        if self.concurrency_limit is not None:
            active = self.active_jobs(owner)
            if active >= self.concurrency_limit:
                raise HTTPError(
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
        job = self._create_job(request, parse_object(await request.read(), allow_empty=False))
        remaining = job.end - self._now()
        if self.mode == "job" or (self.mode == "auto" and remaining > self.sync_threshold):
            return json_response({"job_id": job.job_id, "status": "pending"})
        if remaining > 0:
            await asyncio.sleep(remaining)
        return json_response(job.view(max(self._now(), job.end)))

    async def _h_execute_async(self, request: web.Request) -> web.StreamResponse:
        job = self._create_job(request, parse_object(await request.read(), allow_empty=False))
        return json_response({"job_id": job.job_id, "status": "pending"}, self.async_status)

    def _job_for(self, request: web.Request) -> FakeJob:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None or job.account != request[ACCOUNT].public_key:
            raise HTTPError(404, "not_found", "job not found")
        job.polls += 1
        if job.lost:
            if job.lost_errors > 0:
                job.lost_errors -= 1
                raise HTTPError(job.lost_status, "service_unavailable", "API restarting")
            raise HTTPError(404, "not_found", "job not found")
        if job.not_found_polls > 0:
            job.not_found_polls -= 1
            raise HTTPError(404, "not_found", "job not found")
        return job

    async def _h_get_job(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._job_for(request).view(self._now()))

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
        return json_response(body)

    async def _h_list_jobs(self, request: web.Request) -> web.StreamResponse:
        owner, now = request[ACCOUNT].public_key, self._now()
        jobs = [
            job.summary(now) for job in self.jobs.values() if job.account == owner and not job.lost
        ]
        return json_response({"jobs": jobs})
