"""Execution endpoints of the fake server: ``POST /execute``, ``/execute/async`` and
``/jobs`` (spec §3-§4).

``DELETE /jobs/{id}`` on a finished job answers 200 with its unchanged terminal status (or
204 when ``cancel_status=204``), never 409. Lost jobs answer their configured error
status, then 404 (spec §4.2). ``GET /jobs`` goes through the state's ``listing``
pathologies (:mod:`.listing`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .access_control import ACCOUNT
from .fake_state import FakeState
from .http_replies import HTTPError, bad_request, json_response
from .job_launcher import launch_job
from .listing import listing_entries
from .payload_checks import (
    check_env,
    decode_files,
    flag,
    int_in_range,
    parse_network_mode,
    parse_object,
)
from .records import FakeJob

__all__ = ["JobRoutes"]


class JobRoutes:
    """Handlers for job creation, lookup, cancellation and listing over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router``."""
        router.add_post("/execute", self.execute)
        router.add_post("/execute/async", self.execute_async)
        router.add_get("/jobs", self.list_jobs)
        router.add_get("/jobs/{job_id}", self.get_job)
        router.add_delete("/jobs/{job_id}", self.cancel_job)
        router.add_post("/jobs/{job_id}/cancel", self.cancel_job)

    def _create_job(self, request: web.Request, payload: dict[str, Any]) -> FakeJob:
        language = payload.get("language")
        if not isinstance(language, str) or not language:
            raise bad_request("language is required")
        if not self.state.knows_language(language):
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
        return launch_job(
            self.state,
            request,
            owner=request[ACCOUNT].public_key,
            language=language,
            code=code,
            payload=payload,
            network_mode=network_mode,
            return_artifact=return_artifact,
            ttl=float(ttl) if ttl is not None else None,
        )

    async def execute(self, request: web.Request) -> web.StreamResponse:
        """``POST /execute``: the result, or ``{job_id, status: "pending"}`` per ``mode``."""
        state = self.state
        job = self._create_job(request, parse_object(await request.read(), allow_empty=False))
        remaining = job.end - state.lifecycle_now()
        if state.mode == "job" or (state.mode == "auto" and remaining > state.sync_threshold):
            return json_response({"job_id": job.job_id, "status": "pending"})
        if remaining > 0:
            await asyncio.sleep(remaining)
        return json_response(job.view(max(state.lifecycle_now(), job.end)))

    async def execute_async(self, request: web.Request) -> web.StreamResponse:
        """``POST /execute/async`` → ``{job_id, status: "pending"}`` (``async_status``)."""
        job = self._create_job(request, parse_object(await request.read(), allow_empty=False))
        return json_response({"job_id": job.job_id, "status": "pending"}, self.state.async_status)

    def _job_for(self, request: web.Request) -> FakeJob:
        job = self.state.jobs.get(request.match_info["job_id"])
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

    async def get_job(self, request: web.Request) -> web.StreamResponse:
        """``GET /jobs/{id}``: the job object."""
        return json_response(self._job_for(request).view(self.state.lifecycle_now()))

    async def cancel_job(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /jobs/{id}`` or ``POST /jobs/{id}/cancel``."""
        job = self._job_for(request)
        now = self.state.lifecycle_now()
        status = job.status_at(now)
        if status in ("pending", "running"):
            self.state.mark_cancelled(job, now)
            body = {"job_id": job.job_id, "status": "cancelled", "message": "Job cancelled"}
        else:
            body = {"job_id": job.job_id, "status": status, "message": f"Job already {status}"}
        if self.state.cancel_status == 204:
            return web.Response(status=204)
        return json_response(body)

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:
        """``GET /jobs`` → ``{"jobs": [...]}``."""
        state = self.state
        owner, now = request[ACCOUNT].public_key, state.lifecycle_now()
        jobs = (job for job in state.jobs.values() if job.account == owner and not job.lost)
        return json_response({"jobs": listing_entries(jobs, now, state.listing)})
