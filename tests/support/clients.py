"""The test account's keys and client settings that ride out faults in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from un_async import AsyncClient
from un_async.core.config import ClientConfig
from un_async.core.credentials import Credentials
from un_async.core.retry import RetryPolicy
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

__all__ = ["CREDENTIALS", "FAST_RETRY", "KEYS", "MakeClient", "fast_config", "request_paths"]

KEYS: dict[str, Any] = {"public_key": TEST_PUBLIC_KEY, "secret_key": TEST_SECRET_KEY}
"""The fake server's test account as keyword arguments: ``AsyncClient(**KEYS)``."""

CREDENTIALS = Credentials(TEST_PUBLIC_KEY, TEST_SECRET_KEY)
"""The fake server's test account, for executor-level calls."""

FAST_RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.001, max_delay=0.005, retry_after_cap=0.02, deadline=10.0
)
"""Four attempts a few milliseconds apart; ``Retry-After`` capped at 20 ms."""

MakeClient = Callable[..., AsyncClient]
"""``make_client(fake_or_url, **config_fields)``: the ``make_client`` fixture."""


def fast_config(target: FakeUnsandbox | str | None = None, **overrides: Any) -> ClientConfig:
    """A config that polls every 10 ms without jitter, retries with :data:`FAST_RETRY`,
    gives up waiting after 10 s and keeps no languages cache; ``target`` (a fake server or
    a URL) sets ``base_url``; ``overrides`` are further :class:`ClientConfig` fields."""
    values: dict[str, Any] = {
        "poll_schedule": (0.01,),
        "poll_jitter": 0.0,
        "retry": FAST_RETRY,
        "languages_cache_path": False,
        "wait_timeout": 10.0,
    }
    if target is not None:
        values["base_url"] = target if isinstance(target, str) else target.url
    values.update(overrides)
    return ClientConfig(**values)


def request_paths(fake: FakeUnsandbox) -> list[tuple[str, str]]:
    """``(method, path)`` of every request ``fake`` has recorded, in arrival order."""
    return [(r.method, r.path) for r in fake.requests]
