"""Wire format <-> models.

Requests are serialised by hand, once, to the bytes that are signed and sent (unset
options omitted, input files base64-encoded). Replies become models on the polling hot
path: the server's object is copied once into the model (a ``dict``) under the
documented defaults, and the keys the server names differently (spec §4.3) are filled in —
timing arrives as ``execution_time_ms``, ``duration_ms``, ``total_time_ms`` or
``execution_time``; the id as ``job_id`` or ``id``; artifacts as ``content_base64`` or
``content``. Unknown keys are kept; ``strict=True`` (used by tests) rejects keys this
module does not know, so protocol drift shows up as a failing test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from un_async.core.models import ExecutionRequest, ExecutionResult, JobInfo, Snapshot
from un_async.core.replies import optional_int, optional_text
from un_async.core.service_errors import TransportError

__all__ = ["WireCodec", "dumps"]

TIMING_ALIASES = ("execution_time_ms", "duration_ms", "total_time_ms")
KNOWN_RESULT_KEYS = frozenset(
    {
        "job_id",
        "id",
        "status",
        "stdout",
        "stderr",
        "exit_code",
        "success",
        "language",
        "error",
        "message",
        "artifacts",
        "network_mode",
        "output",
        "detected_language",
        "created_at",
        "started_at",
        "completed_at",
        "execution_time",
        "ttl",
        "vcpu",
        *TIMING_ALIASES,
    }
)
KNOWN_JOB_KEYS = frozenset(
    {"job_id", "id", "status", "language", "created_at", "completed_at", "started_at", "error"}
)
KNOWN_SNAPSHOT_KEYS = frozenset(
    {
        "id",
        "snapshot_id",
        "name",
        "source_type",
        "type",
        "source_id",
        "session_id",
        "service_id",
        "size_bytes",
        "hot",
        "locked",
        "created_at",
    }
)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return _ENCODER.encode(payload).encode()


def _duration_ms(body: Mapping[str, Any]) -> int | None:
    for key in TIMING_ALIASES:
        value = optional_int(body.get(key))
        if value is not None:
            return value
    return optional_int(body.get("execution_time"))


class WireCodec:
    """Converts requests to wire objects and replies to models."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict

    # -- requests -------------------------------------------------------------------------

    @staticmethod
    def execution_request(request: ExecutionRequest) -> dict[str, Any]:
        """The JSON object for ``POST /execute``; unset options are omitted.

        Built field by field: the request was validated (and its ``env`` frozen into a
        ``dict``) when it was constructed, so nothing is checked or copied again here.
        """
        payload: dict[str, Any] = {"language": request.language, "code": request.code}
        if request.env:
            payload["env"] = request.env
        if request.input_files:
            payload["input_files"] = [
                {"filename": item.filename, "content": base64.b64encode(item.content).decode()}
                for item in request.input_files
            ]
        if request.network_mode is not None:
            payload["network_mode"] = request.network_mode
        if request.ttl is not None:
            payload["ttl"] = request.ttl
        if request.vcpu is not None:
            payload["vcpu"] = request.vcpu
        if request.return_artifact:
            payload["return_artifact"] = True
        return payload

    def execution_body(self, request: ExecutionRequest) -> bytes:
        """The exact bytes of ``POST /execute``: :meth:`execution_request`, serialised once."""
        return dumps(self.execution_request(request))

    # -- replies --------------------------------------------------------------------------

    def _check_known(self, body: Mapping[str, Any], known: frozenset[str], what: str) -> None:
        if self.strict:
            unknown = sorted(set(body) - known)
            if unknown:
                raise TransportError(f"unexpected {what} fields: {', '.join(unknown)}")

    def result(self, body: Mapping[str, Any], *, job_id: str | None = None) -> ExecutionResult:
        """An :class:`ExecutionResult` from a ``/execute`` or ``/jobs/{id}`` reply (``job_id``:
        the id that was asked for, used when the reply names none).

        A reply without ``status`` but with output is final (as the C poller treats it).
        """
        if self.strict:
            self._check_known(body, KNOWN_RESULT_KEYS, "result")
        result = ExecutionResult._adopt(body)
        get = body.get
        if get("status") is None:
            completed = "exit_code" in body or "stdout" in body
            result["status"] = "completed" if completed else "unknown"
        found = get("job_id")
        if type(found) is not str or not found:
            found = optional_text(found) or optional_text(get("id")) or job_id
            result["job_id"] = found
        if get("id") is None:
            result["id"] = found
        if type(get("duration_ms")) is not int:
            duration = get("execution_time_ms")  # what the service sends
            if type(duration) is not int:
                duration = _duration_ms(body)
            if duration is not None:
                result["duration_ms"] = duration
        if get("artifacts"):
            try:
                result.artifacts  # noqa: B018  (decoded now: a bad reply fails here)
            except ValueError:
                raise TransportError(
                    "malformed reply: artifact content is not valid base64"
                ) from None
        return result

    def job_info(self, body: Mapping[str, Any]) -> JobInfo:
        """A :class:`JobInfo` from one ``GET /jobs`` entry."""
        self._check_known(body, KNOWN_JOB_KEYS, "job")
        job_id = optional_text(body.get("job_id")) or optional_text(body.get("id"))
        if job_id is None:
            raise TransportError("malformed reply: a listed job has no job_id")
        job = JobInfo._adopt(body)
        job["job_id"] = job_id
        if body.get("id") is None:
            job["id"] = job_id
        return job

    def snapshot(self, body: Mapping[str, Any]) -> Snapshot:
        """A :class:`Snapshot` from one ``GET /snapshots`` entry."""
        self._check_known(body, KNOWN_SNAPSHOT_KEYS, "snapshot")
        snapshot_id = optional_text(body.get("id")) or optional_text(body.get("snapshot_id"))
        if snapshot_id is None:
            raise TransportError("malformed reply: a listed snapshot has no id")
        snapshot = Snapshot._adopt(body)
        snapshot["id"] = snapshot_id
        if body.get("snapshot_id") is None:
            snapshot["snapshot_id"] = snapshot_id
        return snapshot

    @staticmethod
    def listing(body: Any, key: str) -> list[Mapping[str, Any]]:
        """The list under ``key`` (or a bare list); anything else is a malformed reply."""
        items = body.get(key) if isinstance(body, Mapping) else body
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise TransportError(f"malformed reply: expected a list of objects under {key!r}")
        return items
