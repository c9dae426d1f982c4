"""When and how long to wait before re-sending a failed request.

The rule that protects against duplicate work: a request that is not idempotent
(``POST /execute``) is re-sent only when the server cannot have acted on it — the
failure happened before any byte was sent, or the server explicitly refused it with 429
or 503. Idempotent requests are also retried on 408, 500, 502, 504 and on transport
failures after sending.
"""

from __future__ import annotations

import random
import time

import attrs

from un_async.core.governor import owns_concurrency_retries

__all__ = ["RetryPolicy", "parse_retry_after"]

_REFUSED_UNPROCESSED = frozenset({429, 503})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare: the HTTP-date form only

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    ``max_attempts`` counts the first try; ``deadline`` bounds the whole call including
    waits (``None``: only attempts bound it). A ``Retry-After`` header replaces the
    computed delay, capped at ``retry_after_cap``.
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base_delay: float = 0.25
    max_delay: float = 20.0
    retry_after_cap: float = 60.0
    deadline: float | None = 300.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def is_retryable(self, error: Exception, *, idempotent: bool) -> bool:
        """Whether ``error`` may be retried for a request of the given idempotency.

        A concurrency-limit 429 inside a governed submission is left to the
        :mod:`~un_async.core.governor`, which re-sends it under a lowered limit.
        """
        from un_async.core.service_errors import APIError, RateLimitError, TransportError

        if isinstance(error, TransportError):
            return idempotent or not error.request_sent
        if (
            isinstance(error, RateLimitError)
            and error.is_concurrency_limit
            and owns_concurrency_retries()
        ):
            return False
        if isinstance(error, APIError) and error.status in self.retry_statuses:
            return idempotent or error.status in _REFUSED_UNPROCESSED
        return False

    def delay(self, attempt: int, error: Exception, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` starts at 1)."""
        from un_async.core.service_errors import APIError

        if isinstance(error, APIError):
            hinted = parse_retry_after(error.headers.get("Retry-After"))
            if hinted is not None:
                return min(hinted, self.retry_after_cap)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)
