"""Fault injection and timing models for the fake unsandbox server.

A :class:`Fault` says *what* goes wrong (an error status, a dropped connection, a broken
body, extra delay, an API restart, a 404 race for new jobs) and *when*: which requests it
matches (``method``, ``path``), how many matching requests it skips first (``after``), how
often it fires (``times``; ``None`` = forever) and with which probability (``rate``, drawn
from the server's seeded :class:`random.Random`, so runs are reproducible).

``path`` matching: a string matches the exact path or any path below it on a segment
boundary (``"/jobs"`` matches ``/jobs`` and ``/jobs/abc`` but not ``/jobsx``); pass
``exact=True`` for equality only, or a compiled regex (``re.search`` semantics).

A fault object keeps its own counters (``seen``, ``fired``); inject a fresh one per server.

Timing models follow spec §9.6: :class:`LatencyModel` draws a per-request delay and
:class:`DurationModel` a per-language run time, both shrinkable with ``scale``.
"""

from __future__ import annotations

import enum
import json
import math
import random
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Protocol, TypedDict, Unpack

import attrs

__all__ = [
    "SPEC_DURATIONS",
    "DurationModel",
    "Fault",
    "FaultKind",
    "LatencyModel",
    "LatencySource",
    "MatchOptions",
    "error_mix",
    "parse_latency",
    "select_faults",
]


class FaultKind(enum.Enum):
    """What a fault does. Only ``RESET_AFTER_READ`` and ``TRUNCATED_BODY`` let the
    request be processed; every other kind answers (or drops) instead of the server."""

    STATUS = "status"
    RESET_BEFORE_READ = "reset_before_read"
    RESET_AFTER_READ = "reset_after_read"
    TRUNCATED_BODY = "truncated_body"
    MALFORMED_JSON = "malformed_json"
    NON_JSON = "non_json"
    EMPTY_204 = "empty_204"
    DELAY = "delay"
    RESTART = "restart"
    NOT_FOUND_RACE = "not_found_race"
    STREAMED = "streamed"


class MatchOptions(TypedDict, total=False):
    """Keyword arguments every :class:`Fault` constructor accepts."""

    method: str | None
    path: str | re.Pattern[str] | None
    exact: bool
    times: int | None
    rate: float | None
    after: int


_ERROR_SLUGS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_REASONS = {
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


def _retry_after_value(value: float | str | datetime) -> str:
    if isinstance(value, datetime):
        return format_datetime(value, usegmt=True)
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _upper(method: str | None) -> str | None:
    return method.upper() if method else None


def _check_path(value: str | re.Pattern[str] | None) -> str | re.Pattern[str] | None:
    if isinstance(value, str) and not value.startswith("/"):
        raise ValueError(f"fault path must start with '/': {value!r}")
    return value


@attrs.define(kw_only=True, eq=False)
class Fault:
    """One injectable fault; build it with the classmethod constructors.

    ``times`` defaults to 1 when no ``rate`` is given and to ``None`` (forever) when it is.
    ``seen`` counts matching requests, ``fired`` how often the fault took effect.
    ``count`` is the number of 404s for ``not_found_race`` and the chunk size for
    ``streamed``.
    """

    kind: FaultKind
    status_code: int = 0
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    seconds: float = 0.0
    count: int = 0
    method: str | None = attrs.field(default=None, converter=_upper)
    path: str | re.Pattern[str] | None = attrs.field(default=None, converter=_check_path)
    exact: bool = False
    times: int | None = 1
    rate: float | None = None
    after: int = 0
    seen: int = 0
    fired: int = 0

    # --- matching ----------------------------------------------------------------------

    @property
    def exhausted(self) -> bool:
        """True once the fault has fired ``times`` times."""
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str) -> bool:
        """Whether a request's method and path are in scope (no counters change)."""
        if self.method is not None and self.method != method:
            return False
        pattern = self.path
        if pattern is None:
            return True
        if isinstance(pattern, re.Pattern):
            return pattern.search(path) is not None
        if path == pattern:
            return True
        return not self.exact and path.startswith(pattern.rstrip("/") + "/")

    def trigger(self, method: str, path: str, rng: random.Random) -> bool:
        """Count a request and decide whether the fault fires for it."""
        if self.exhausted or not self.matches(method, path):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.rate is not None and rng.random() >= self.rate:
            return False
        self.fired += 1
        return True

    # --- constructors ------------------------------------------------------------------

    @classmethod
    def _make(cls, kind: FaultKind, match: MatchOptions, **fields: Any) -> Fault:
        options: dict[str, Any] = dict(match)
        if "times" not in options:
            options["times"] = None if options.get("rate") is not None else 1
        times = options["times"]
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        rate = options.get("rate")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        return cls(kind=kind, **fields, **options)

    @classmethod
    def status(
        cls,
        code: int,
        body: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        retry_after: float | str | datetime | None = None,
        **match: Unpack[MatchOptions],
    ) -> Fault:
        """Answer ``code`` instead of processing the request.

        ``body`` defaults to ``{"error": <slug>, "message": <text>}``; a mapping is sent as
        JSON, ``str``/``bytes`` verbatim as ``text/plain`` (e.g. an nginx error page).
        ``retry_after`` (seconds, a preformatted string or a datetime rendered as an HTTP
        date) sets the ``Retry-After`` header.
        """
        content_type = "application/json"
        if body is None:
            slug = _ERROR_SLUGS.get(code, "error")
            message = _REASONS.get(code, f"simulated HTTP {code}")
            payload = _json_bytes({"error": slug, "message": message})
        elif isinstance(body, Mapping):
            payload = _json_bytes(dict(body))
        else:
            payload = body.encode() if isinstance(body, str) else bytes(body)
            content_type = "text/plain"
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["Retry-After"] = _retry_after_value(retry_after)
        return cls._make(
            FaultKind.STATUS,
            match,
            status_code=code,
            body=payload,
            content_type=content_type,
            headers=all_headers,
        )

    @classmethod
    def rate_limited(
        cls, retry_after: float | str | datetime | None = None, **match: Unpack[MatchOptions]
    ) -> Fault:
        """429 ``{"error": "rate_limit_exceeded"}``, optionally with ``Retry-After``."""
        return cls.status(429, retry_after=retry_after, **match)

    @classmethod
    def concurrency_limited(
        cls, active: int = 5, limit: int = 5, **match: Unpack[MatchOptions]
    ) -> Fault:
        """429 ``{"error": "concurrency_limit_reached", "active_executions", ...}``."""
        body = {
            "error": "concurrency_limit_reached",
            "message": "Concurrency limit reached",
            "active_executions": active,
            "concurrency_limit": limit,
        }
        return cls.status(429, body, **match)

    @classmethod
    def reset_before_read(cls, **match: Unpack[MatchOptions]) -> Fault:
        """Drop the connection before the body is read; nothing is processed."""
        return cls._make(FaultKind.RESET_BEFORE_READ, match)

    @classmethod
    def reset_after_read(cls, **match: Unpack[MatchOptions]) -> Fault:
        """Process the request fully (a job is created), then drop the connection unanswered."""
        return cls._make(FaultKind.RESET_AFTER_READ, match)

    @classmethod
    def truncated_body(cls, **match: Unpack[MatchOptions]) -> Fault:
        """Process the request, send its headers and only part of its body, then close."""
        return cls._make(FaultKind.TRUNCATED_BODY, match)

    @classmethod
    def malformed_json(cls, status: int = 200, **match: Unpack[MatchOptions]) -> Fault:
        """Answer ``status`` with a JSON content type and a body that is not valid JSON."""
        return cls._make(
            FaultKind.MALFORMED_JSON, match, status_code=status, body=b'{"job_id": "trunc'
        )

    @classmethod
    def non_json(
        cls,
        status: int = 200,
        text: str = "<html><body>upstream says hi</body></html>",
        content_type: str = "text/html",
        **match: Unpack[MatchOptions],
    ) -> Fault:
        """Answer ``status`` with a non-JSON body (an HTML page by default)."""
        return cls._make(
            FaultKind.NON_JSON,
            match,
            status_code=status,
            body=text.encode(),
            content_type=content_type,
        )

    @classmethod
    def streamed(
        cls,
        body: Mapping[str, Any] | str | bytes,
        status: int = 200,
        *,
        chunk_size: int = 16384,
        **match: Unpack[MatchOptions],
    ) -> Fault:
        """Answer ``status`` with ``body`` sent in chunks (``Transfer-Encoding: chunked``,
        no ``Content-Length``); e.g. an oversized reply whose size is not announced."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if isinstance(body, Mapping):
            payload, content_type = _json_bytes(dict(body)), "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else bytes(body)
            content_type = "application/octet-stream"
        return cls._make(
            FaultKind.STREAMED,
            match,
            status_code=status,
            body=payload,
            content_type=content_type,
            count=chunk_size,
        )

    @classmethod
    def empty_204(cls, **match: Unpack[MatchOptions]) -> Fault:
        """Answer 204 No Content with no body."""
        return cls._make(FaultKind.EMPTY_204, match, status_code=204)

    @classmethod
    def delay(cls, seconds: float, **match: Unpack[MatchOptions]) -> Fault:
        """Wait ``seconds`` after reading the request, then process it normally.

        Delays stack with each other and with one non-delay fault on the same request.
        """
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        return cls._make(FaultKind.DELAY, match, seconds=seconds)

    @classmethod
    def restart(cls, errors: int = 2, status: int = 503, **match: Unpack[MatchOptions]) -> Fault:
        """Simulate an API restart (spec §4.2).

        When the fault first fires every job known at that moment is lost; it then answers
        ``status`` to ``errors`` matching requests in total, and lost jobs answer 404
        forever after. ``times`` is fixed to ``errors``.
        """
        if errors < 1:
            raise ValueError("errors must be >= 1")
        options: MatchOptions = {**match, "times": errors}
        body = _json_bytes({"error": _ERROR_SLUGS.get(status, "error"), "message": "restarting"})
        return cls._make(FaultKind.RESTART, options, status_code=status, body=body)

    @classmethod
    def not_found_race(cls, count: int = 1, **match: Unpack[MatchOptions]) -> Fault:
        """Newly created jobs answer 404 to their first ``count`` lookups.

        Matched against the *creating* request (``POST /execute`` or ``/execute/async`` by
        default); ``times`` is the number of jobs affected.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        options: MatchOptions = {"method": "POST", "path": "/execute", **match}
        return cls._make(FaultKind.NOT_FOUND_RACE, options, count=count)


def error_mix(rates: Mapping[int, float], **match: Unpack[MatchOptions]) -> list[Fault]:
    """Rate-based status faults, one per ``{status: probability}`` entry, that together
    answer each matching request with exactly that status at that rate (spec §9.4/§9.6).

    Inject them all, in order: each later fault's rate is conditioned on the earlier ones
    not firing, so ``{500: 0.05, 503: 0.05}`` yields 5 % of each, 90 % untouched. A 429
    entry is a ``rate_limit_exceeded`` reply. The probabilities must sum to at most 1.
    """
    if any(rate < 0 for rate in rates.values()) or sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("error rates must be >= 0 and sum to at most 1")
    faults: list[Fault] = []
    taken = 0.0
    for status, rate in rates.items():
        conditional = min(1.0, rate / (1.0 - taken)) if taken < 1.0 else 0.0
        options: MatchOptions = {**match, "rate": conditional, "times": None}
        faults.append(
            Fault.rate_limited(**options) if status == 429 else Fault.status(status, **options)
        )
        taken += rate
    return faults


def _json_bytes(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data).encode()


# --- timing models -------------------------------------------------------------------------


class LatencySource(Protocol):
    """Anything that yields a per-request delay in seconds."""

    def sample(self) -> float: ...


@attrs.define(kw_only=True)
class LatencyModel:
    """Per-request delay: log-normal around ``median`` seconds with ``p95`` at the 95th
    percentile, a small heavy tail, and an optional degraded mode where a share of
    requests stalls for about ``stall`` seconds. Every value is multiplied by ``scale``.
    """

    median: float = 0.19
    p95: float = 0.45
    tail_rate: float = 0.015
    tail: float = 1.25
    degraded_rate: float = 0.0
    stall: float = 5.2
    scale: float = 1.0
    seed: int | None = 0
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def spec_default(
        cls, *, seed: int | None = 0, scale: float = 1.0, degraded: bool = False
    ) -> LatencyModel:
        """Spec §9.2/§9.6: p50 ≈ 0.19 s, p95 ≈ 0.45 s, p99 ≈ 1.25 s; ``degraded`` adds
        ~22 % of requests at ≈ 5.2 s (the 4.2.13-4.2.21 window)."""
        return cls(seed=seed, scale=scale, degraded_rate=0.22 if degraded else 0.0)

    @classmethod
    def fixed(cls, seconds: float) -> LatencyModel:
        """Every request takes exactly ``seconds``."""
        return cls(median=seconds, p95=seconds, tail_rate=0.0, scale=1.0)

    def sample(self) -> float:
        """Draw one delay in seconds."""
        rng = self._rng
        roll = rng.random()
        if roll < self.degraded_rate:
            value = rng.gauss(self.stall, self.stall * 0.02)
        elif roll < self.degraded_rate + self.tail_rate:
            value = rng.lognormvariate(math.log(self.tail), 0.25)
        elif self.p95 <= self.median:
            value = self.median
        else:
            sigma = (math.log(self.p95) - math.log(self.median)) / 1.6449
            value = rng.lognormvariate(math.log(self.median), sigma)
        return max(0.0, value) * self.scale


# Spec §9.1 end-to-end ms minus ~0.3 s of client/HTTP overhead, in seconds.
SPEC_DURATIONS: Mapping[str, float] = {
    lang: (ms - 300) / 1000
    for lang, ms in {
        "perl": 1692, "scheme": 3951, "php": 4021, "lua": 4102, "ruby": 4236, "tcl": 4249,
        "python": 4260, "forth": 4265, "commonlisp": 4364, "javascript": 4402,
        "erlang": 4416, "prolog": 4493, "objc": 4536, "ocaml": 4537, "r": 4554,
        "raku": 4623, "v": 4643, "c": 4727, "dart": 4751, "bash": 4805,
        "typescript": 4874, "fortran": 4890, "csharp": 5063, "julia": 5135, "cpp": 5167,
        "elixir": 5366, "clojure": 5400, "cobol": 5419, "nim": 5447, "java": 5583,
        "groovy": 5662, "d": 6228, "rust": 6598, "crystal": 6945, "fsharp": 7016,
        "haskell": 7762, "kotlin": 11305, "go": 11784, "zig": 12806,
    }.items()
}  # fmt: skip


@attrs.define(kw_only=True)
class DurationModel:
    """Per-language run time in seconds: ``base[language]`` (``default`` when unknown)
    with multiplicative jitter of ±``jitter``, times ``scale``."""

    base: Mapping[str, float] = attrs.field(factory=lambda: dict(SPEC_DURATIONS))
    default: float = 4.505
    jitter: float = 0.1
    scale: float = 1.0
    seed: int | None = 0
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def spec_default(
        cls, *, seed: int | None = 0, scale: float = 1.0, jitter: float = 0.1
    ) -> DurationModel:
        """Spec §9.1/§9.6 figures (python ≈ 4 s, go ≈ 11.5 s, perl ≈ 1.4 s)."""
        return cls(seed=seed, scale=scale, jitter=jitter)

    def duration(self, language: str) -> float:
        """Draw the run time for one job in ``language``."""
        value = self.base.get(language, self.default)
        if self.jitter:
            value *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
        return max(0.0, value) * self.scale


def parse_latency(spec: str, *, scale: float = 1.0, seed: int | None = 0) -> LatencySource | None:
    """Parse a CLI latency name: ``none``, ``spec``, ``degraded`` or ``fixed:SECONDS``."""
    name, _, arg = spec.partition(":")
    if name == "none":
        return None
    if name in ("spec", "degraded"):
        return LatencyModel.spec_default(seed=seed, scale=scale, degraded=name == "degraded")
    if name == "fixed" and arg:
        return LatencyModel.fixed(float(arg) * scale)
    raise ValueError(f"unknown latency model {spec!r} (none, spec, degraded, fixed:SECONDS)")


def select_faults(
    faults: Iterable[Fault], method: str, path: str, rng: random.Random
) -> tuple[float, Fault | None]:
    """Total extra delay and the first firing non-delay fault for one request.

    Every matching delay fault counts; of the other kinds only the first that fires does.
    Creation-time faults (``NOT_FOUND_RACE``) are skipped here.
    """
    delay = 0.0
    chosen: Fault | None = None
    for fault in faults:
        if fault.kind is FaultKind.NOT_FOUND_RACE:
            continue
        if fault.kind is FaultKind.DELAY:
            if fault.trigger(method, path, rng):
                delay += fault.seconds
        elif chosen is None and fault.trigger(method, path, rng):
            chosen = fault
    return delay, chosen
