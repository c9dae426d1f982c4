"""Wire format <-> models.

Requests are unstructured to wire dicts by a private cattrs converter (unset options
omitted, input files base64-encoded). Replies are built into models by hand, on the
polling hot path: the server's field names are not fully pinned down (spec §4.3) —
timing arrives as ``execution_time_ms``, ``duration_ms``, ``total_time_ms`` or
``execution_time``; artifacts as ``content_base64`` or ``content`` — so each reply is
normalised to the model's fields and the original object is kept as ``raw``. Unknown
keys are ignored; ``strict=True`` (used by tests) rejects keys this module does not
know, so protocol drift shows up as a failing test.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from un_async.core.errors import TransportError
from un_async.core.models import (
    Artifact,
    ExecutionRequest,
    ExecutionResult,
    InputFile,
    JobInfo,
    JobStatus,
    Snapshot,
)

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


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _duration_ms(body: Mapping[str, Any]) -> int | None:
    for key in TIMING_ALIASES:
        value = _optional_int(body.get(key))
        if value is not None:
            return value
    return _optional_int(body.get("execution_time"))


def _b64decode(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(_text(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TransportError(f"malformed reply: {what} is not valid base64") from exc


def _artifact(value: Mapping[str, Any]) -> Artifact:
    return Artifact(
        filename=_text(value.get("filename")),
        content=_b64decode(value.get("content_base64", value.get("content")), "artifact content"),
    )


_STATUSES: dict[str, JobStatus] = {status.value: status for status in JobStatus}


class WireCodec:
    """Converts requests to wire dicts and replies to models."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._converter = cattrs.Converter()
        self._converter.register_unstructure_hook(
            InputFile,
            lambda item: {
                "filename": item.filename,
                "content": base64.b64encode(item.content).decode("ascii"),
            },
        )
        self._converter.register_unstructure_hook(
            ExecutionRequest,
            make_dict_unstructure_fn(
                ExecutionRequest,
                self._converter,
                _cattrs_omit_if_default=True,
                env=override(unstruct_hook=dict),
            ),
        )

    # -- requests -------------------------------------------------------------------------

    def execution_request(self, request: ExecutionRequest) -> dict[str, Any]:
        """The JSON object for ``POST /execute``; unset options are omitted."""
        payload: dict[str, Any] = self._converter.unstructure(request)
        payload.setdefault("language", request.language)
        payload.setdefault("code", request.code)
        return payload

    # -- replies --------------------------------------------------------------------------

    def _check_known(self, body: Mapping[str, Any], known: frozenset[str], what: str) -> None:
        if self.strict:
            unknown = sorted(set(body) - known)
            if unknown:
                raise TransportError(f"unexpected {what} fields: {', '.join(unknown)}")

    def result(self, body: Mapping[str, Any], *, job_id: str | None = None) -> ExecutionResult:
        """An :class:`ExecutionResult` from a ``/execute`` or ``/jobs/{id}`` reply.

        A reply without ``status`` but with output is final (as the C poller treats it).
        """
        if self.strict:
            self._check_known(body, KNOWN_RESULT_KEYS, "result")
        # The hot path of every poll: built directly (the fields are already normalised,
        # which is all the converter would do) rather than through cattrs.
        get = body.get
        raw_status = get("status")
        status = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
        if status is None:
            status = JobStatus.parse(raw_status)
            if raw_status is None and ("exit_code" in body or "stdout" in body):
                status = JobStatus.COMPLETED
        # ``type(x) is ...`` fast paths skip a helper call when the value is already
        # canonical; anything else goes through the helper, so results are unchanged.
        found, stdout, stderr = get("job_id"), get("stdout"), get("stderr")
        exit_code, language, duration = get("exit_code"), get("language"), get("execution_time_ms")
        error, artifacts = get("error"), get("artifacts")
        return ExecutionResult(
            job_id=found
            if type(found) is str and found
            else _optional_text(found) or _optional_text(get("id")) or job_id,
            status=status,
            raw_status=raw_status if isinstance(raw_status, str) else None,
            stdout=stdout if type(stdout) is str else _text(stdout),
            stderr=stderr if type(stderr) is str else _text(stderr),
            exit_code=exit_code if type(exit_code) is int else _optional_int(exit_code),
            language=language if type(language) is str and language else _optional_text(language),
            duration_ms=duration if type(duration) is int else _duration_ms(body),
            error=None if error is None else _optional_text(error),
            artifacts=tuple(_artifact(a) for a in artifacts if isinstance(a, Mapping))
            if isinstance(artifacts, list)
            else (),
            raw=dict(body),
        )

    def job_info(self, body: Mapping[str, Any]) -> JobInfo:
        """A :class:`JobInfo` from one ``GET /jobs`` entry."""
        self._check_known(body, KNOWN_JOB_KEYS, "job")
        job_id = _optional_text(body.get("job_id")) or _optional_text(body.get("id"))
        if job_id is None:
            raise TransportError("malformed reply: a listed job has no job_id")
        raw_status = body.get("status")
        return JobInfo(
            job_id=job_id,
            status=JobStatus.parse(raw_status),
            raw_status=raw_status if isinstance(raw_status, str) else None,
            language=_optional_text(body.get("language")),
            created_at=body.get("created_at"),
            completed_at=body.get("completed_at"),
            error=_optional_text(body.get("error")),
            raw=dict(body),
        )

    def snapshot(self, body: Mapping[str, Any]) -> Snapshot:
        """A :class:`Snapshot` from one ``GET /snapshots`` entry."""
        self._check_known(body, KNOWN_SNAPSHOT_KEYS, "snapshot")
        snapshot_id = _optional_text(body.get("id")) or _optional_text(body.get("snapshot_id"))
        if snapshot_id is None:
            raise TransportError("malformed reply: a listed snapshot has no id")
        hot, locked = body.get("hot"), body.get("locked")
        return Snapshot(
            id=snapshot_id,
            name=_optional_text(body.get("name")),
            source_type=_optional_text(body.get("source_type")) or _optional_text(body.get("type")),
            source_id=_optional_text(body.get("source_id"))
            or _optional_text(body.get("session_id"))
            or _optional_text(body.get("service_id")),
            size_bytes=_optional_int(body.get("size_bytes")),
            hot=hot if isinstance(hot, bool) else None,
            locked=locked if isinstance(locked, bool) else None,
            created_at=body.get("created_at"),
            raw=dict(body),
        )

    @staticmethod
    def listing(body: Any, key: str) -> list[Mapping[str, Any]]:
        """The list under ``key`` (or a bare list); anything else is a malformed reply."""
        items = body.get(key) if isinstance(body, Mapping) else body
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise TransportError(f"malformed reply: expected a list of objects under {key!r}")
        return items
