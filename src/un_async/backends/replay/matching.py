"""Normalised requests, the index that serves them, and miss diagnostics.

A request is matched on its normalised form: for HTTP the method, path, sorted query and
parsed body (JSON as JSON); for executor operations the operation name and its arguments
(language, code, options, input-file digests, ids); for resource calls
(:meth:`~un_async.core.executor.BaseExecutor.api_call`) the call's name, method, path,
sorted query and body (input-file contents as digests). ``headers`` are stored in a cassette
but never matched, so ``Authorization``, ``X-Timestamp``, ``X-Signature`` and
``User-Agent`` play no part. Live requests pass through the same
:meth:`~un_async.backends.replay.redaction.Redactor.scrub` as saved ones, so secrets
compare as their placeholders.

Identical requests are served in recorded order: a job polled three times replays
``pending``, ``running``, ``completed``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from un_async.backends.replay.errors import CassetteMissError
from un_async.core.models import ExecutionRequest

if TYPE_CHECKING:
    from un_async.backends.replay.cassette import Interaction
    from un_async.backends.unsandbox.transport import HttpRequest

__all__ = [
    "IGNORED_FIELDS",
    "InteractionIndex",
    "api_request",
    "decode_body",
    "differences",
    "encode_body",
    "header",
    "http_request",
    "match_fields",
    "operation_request",
    "request_key",
    "submit_request",
    "summary",
]

IGNORED_FIELDS = frozenset({"headers"})
"""Normalised-request fields kept in cassettes but never compared."""

_PRIMARY = ("operation", "method", "path")


# -- normalisers ------------------------------------------------------------------------


def encode_body(data: bytes, content_type: str | None = None) -> dict[str, Any] | None:
    """A readable form of a body: ``{"json": value}``, ``{"text": str}`` or
    ``{"base64": str}``; ``None`` when empty. JSON is recognised by parsing, whatever
    the content type says."""
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") or (content_type or "").lower().startswith("application/json"):
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    return {"text": text}


def decode_body(body: Mapping[str, Any] | None) -> bytes:
    """Bytes for a body stored by :func:`encode_body` (JSON re-serialised compactly)."""
    if not body:
        return b""
    if "json" in body:
        return json.dumps(body["json"], separators=(",", ":"), ensure_ascii=False).encode()
    if "text" in body:
        return str(body["text"]).encode("utf-8")
    return base64.b64decode(str(body.get("base64", "")))


def http_request(request: HttpRequest) -> dict[str, Any]:
    """The normalised form of an HTTP request (headers included but never matched)."""
    normalised: dict[str, Any] = {
        "method": request.method.upper(),
        "path": request.path,
        "query": sorted([str(key), str(value)] for key, value in request.query),
        "headers": dict(request.headers),
    }
    body = encode_body(request.body, header(request.headers, "content-type"))
    if body is not None:
        normalised["body"] = body
    return normalised


def submit_request(request: ExecutionRequest, *, wait: bool) -> dict[str, Any]:
    """The normalised ``submit`` operation: language, code, set options, file digests."""
    options: dict[str, Any] = {}
    if request.env:
        options["env"] = dict(request.env)
    for name in ("network_mode", "ttl", "vcpu"):
        value = getattr(request, name)
        if value is not None:
            options[name] = value
    if request.return_artifact:
        options["return_artifact"] = True
    return {
        "operation": "submit",
        "wait": wait,
        "language": request.language,
        "code": request.code,
        "options": options,
        "input_files": [
            {
                "filename": item.filename,
                "sha256": hashlib.sha256(item.content).hexdigest(),
                "size": len(item.content),
            }
            for item in request.input_files
        ],
    }


def operation_request(operation: str, **arguments: Any) -> dict[str, Any]:
    """The normalised form of any other executor operation."""
    return {"operation": operation, **arguments}


def api_request(
    call: str,
    method: str,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    text: str | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The normalised form of a resource call (``api_call``): ``call`` is its name (such
    as ``sessions.create``); the body is kept as JSON data, with the contents of any
    ``input_files`` replaced by their digests, as for ``submit``. A ``text`` body (a
    service's environment file, which holds secrets) is kept only as its digest and size."""
    normalised: dict[str, Any] = {
        "operation": "api_call",
        "call": call,
        "method": method.upper(),
        "path": path,
        "query": sorted([str(key), str(value)] for key, value in (query or {}).items()),
    }
    if body is not None:
        normalised["body"] = _digest_files(json.loads(json.dumps(body, ensure_ascii=False)))
    if text is not None:
        data = text.encode("utf-8")
        normalised["text_sha256"] = hashlib.sha256(data).hexdigest()
        normalised["text_size"] = len(data)
    return normalised


def _digest_files(body: Any) -> Any:
    """``body`` with each ``input_files`` entry's content replaced by its digest."""
    files = body.get("input_files") if isinstance(body, dict) else None
    if not isinstance(files, list):
        return body
    digested = []
    for item in files:
        if isinstance(item, dict):
            item = dict(item)
            for key in ("content", "content_base64"):
                if isinstance(item.get(key), str):
                    data = item.pop(key).encode("utf-8")
                    item[f"{key}_sha256"] = hashlib.sha256(data).hexdigest()
                    item[f"{key}_size"] = len(data)
        digested.append(item)
    return {**body, "input_files": digested}


def match_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a normalised request that takes part in matching."""
    return {key: value for key, value in request.items() if key not in IGNORED_FIELDS}


def request_key(request: Mapping[str, Any]) -> str:
    """A canonical string for the matched fields (equal requests, equal keys)."""
    return json.dumps(
        match_fields(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def summary(request: Mapping[str, Any]) -> str:
    """A short, secret-free description: ``POST /execute`` or ``submit python``."""
    if "method" in request:
        call = f"{request['call']} " if "call" in request else ""
        return f"{call}{request.get('method')} {request.get('path')}"
    detail = request.get("language") or request.get("job_id") or request.get("snapshot_id")
    detail = detail or request.get("session_id")
    return f"{request.get('operation')} {detail}" if detail else str(request.get("operation"))


def differences(recorded: Any, actual: Any, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two normalised requests."""
    if isinstance(recorded, Mapping) and isinstance(actual, Mapping):
        found: list[str] = []
        for key in sorted(set(recorded) | set(actual), key=str):
            if key in IGNORED_FIELDS and not prefix:
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in recorded or key not in actual:
                found.append(name)
            else:
                found.extend(differences(recorded[key], actual[key], name))
        return found
    return [] if recorded == actual else [prefix or "(request)"]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` in ``headers``, compared case-insensitively."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


# -- the index ----------------------------------------------------------------------------


class InteractionIndex:
    """Recorded interactions by request, each served once, in recorded order.

    ``repeat=True`` starts over once every interaction for a request has been served
    (useful for benchmarks that replay one recording many times). ``scrub`` is applied to
    live requests before lookup. Thread-safe.
    """

    def __init__(
        self,
        interactions: Sequence[Interaction],
        *,
        repeat: bool = False,
        scrub: Callable[[Any], Any] | None = None,
        source: str = "the cassette",
    ) -> None:
        self.interactions = list(interactions)
        self.repeat = repeat
        self.source = source
        self._scrub = scrub
        self._lock = threading.Lock()
        self._all: dict[str, list[int]] = {}
        for position, interaction in enumerate(self.interactions):
            self._all.setdefault(request_key(interaction.request), []).append(position)
        self._queues: dict[str, deque[int]] = {k: deque(v) for k, v in self._all.items()}

    def __len__(self) -> int:
        return len(self.interactions)

    def prepare(self, request: dict[str, Any]) -> dict[str, Any]:
        """``request`` as it is compared: secrets replaced by placeholders."""
        if self._scrub is None:
            return request
        scrubbed: dict[str, Any] = self._scrub(request)
        return scrubbed

    def take(self, request: dict[str, Any]) -> Interaction | None:
        """The next unused interaction recorded for ``request``, or ``None``."""
        key = request_key(self.prepare(request))
        with self._lock:
            queue = self._queues.get(key)
            if not queue:
                if not self.repeat or key not in self._all:
                    return None
                queue = self._queues[key] = deque(self._all[key])
            return self.interactions[queue.popleft()]

    def remaining(self) -> int:
        """How many interactions have not been served yet."""
        with self._lock:
            return sum(len(queue) for queue in self._queues.values())

    def miss(self, request: dict[str, Any], *, hint: str = "") -> CassetteMissError:
        """The error for ``request`` having no unused match, naming the closest one."""
        prepared = self.prepare(request)
        key = request_key(prepared)
        what = summary(prepared)
        suffix = f" ({hint})" if hint else ""
        if key in self._all:
            count = len(self._all[key])
            plural = "interaction matches" if count == 1 else "interactions match"
            return CassetteMissError(
                f"{self.source}: {count} recorded {plural} {what}, and all were already "
                f"used{suffix}",
                request=prepared,
                closest=self.interactions[self._all[key][-1]].request,
                closest_index=self._all[key][-1],
                exhausted=True,
            )
        best: tuple[tuple[int, int, int], int, list[str]] | None = None
        for position, interaction in enumerate(self.interactions):
            diff = differences(interaction.request, prepared)
            primary = sum(1 for name in diff if name in _PRIMARY)
            score = (primary, len(diff), position)
            if best is None or score < best[0]:
                best = (score, position, diff)
        if best is None:
            return CassetteMissError(
                f"{self.source} has no recorded interactions; nothing matches {what}{suffix}",
                request=prepared,
            )
        _, position, diff = best
        closest = self.interactions[position].request
        return CassetteMissError(
            f"{self.source}: no recorded interaction matches {what}; the closest is "
            f"#{position} {summary(closest)}, which differs in {', '.join(diff)}{suffix}",
            request=prepared,
            closest=closest,
            closest_index=position,
            differences=diff,
        )
