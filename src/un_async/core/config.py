"""Client configuration: one immutable object, built from arguments and the environment."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from un_async.core.errors import ConfigurationError
from un_async.core.retry import RetryPolicy

__all__ = ["DEFAULT_BASE_URL", "POLL_SCHEDULE", "ClientConfig", "is_loopback_host"]

DEFAULT_BASE_URL = "https://api.unsandbox.com"
POLL_SCHEDULE: tuple[float, ...] = (0.3, 0.45, 0.7, 0.9, 0.65, 1.6, 2.0)
"""Seconds to sleep before each poll of a job; the last value repeats (seed README)."""

ENV_API_URL = "UNSANDBOX_API_URL"
ENV_BACKEND = "UN_ASYNC_BACKEND"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _normalise_base_url(value: str) -> str:
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(f"base URL must be an http(s) URL with a host, got {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError("base URL must not contain credentials, a query or a fragment")
    return text


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything an :class:`~un_async.AsyncClient` needs besides credentials.

    Timeouts are seconds. ``wait_timeout`` is the default deadline of every wait
    (``None``: wait without a deadline). ``languages_cache_path=False`` disables the
    languages cache; ``None`` means ``~/.unsandbox/languages.json`` for the service's own URL
    and ``~/.unsandbox/languages-<hash of base_url>.json`` for any other server. ``shared_polling``
    serves concurrent waits with one ``GET /jobs`` per tick instead of one poll per job
    (:mod:`~un_async.core.shared_polling`). ``abandon_cancel_timeout`` bounds the cancel
    sent for an abandoned job (and how long ``aclose()`` waits for such cancels);
    ``abandon_cancel_grace`` is how long a timed-out call waits for that cancel before
    raising. ``options`` are free-form settings for backends (``ssl_context``, ...); a
    backend's own settings go to ``AsyncClient(backend_options=...)``.
    """

    base_url: str = attrs.field(default=DEFAULT_BASE_URL, converter=_normalise_base_url)
    backend: str = "unsandbox"
    connect_timeout: float = 10.0
    request_timeout: float = 120.0
    wait_timeout: float | None = 1200.0
    poll_schedule: tuple[float, ...] = POLL_SCHEDULE
    poll_jitter: float = 0.1
    shared_polling: bool = True
    cancel_on_abandon: bool = True
    abandon_cancel_timeout: float = 10.0
    abandon_cancel_grace: float = 1.0
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    max_concurrency: int | None = None
    languages_cache_path: Path | bool | None = None
    languages_cache_ttl: float = 3600.0
    result_cache: bool = False
    allow_insecure_http: bool = False
    max_response_bytes: int = 128 * 1024 * 1024
    user_agent: str = ""
    options: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if parts.scheme == "http" and not self.allow_insecure_http and not is_loopback_host(host):
            raise ConfigurationError(
                f"refusing plain http:// to non-loopback host {host!r}; "
                "use https:// or pass allow_insecure_http=True"
            )
        if not self.poll_schedule or any(step < 0 for step in self.poll_schedule):
            raise ConfigurationError("poll_schedule must be a non-empty list of delays >= 0")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if self.abandon_cancel_timeout <= 0 or self.abandon_cancel_grace < 0:
            raise ConfigurationError(
                "abandon_cancel_timeout must be positive and abandon_cancel_grace >= 0"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ClientConfig:
        """Build a config from ``UNSANDBOX_API_URL`` and ``UN_ASYNC_BACKEND``, then overrides.

        Explicit overrides win over the environment; ``None`` overrides are ignored.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get(ENV_API_URL):
            values["base_url"] = env[ENV_API_URL]
        if env.get(ENV_BACKEND):
            values["backend"] = env[ENV_BACKEND]
        values.update({key: value for key, value in overrides.items() if value is not None})
        if isinstance(values.get("languages_cache_path"), str):
            values["languages_cache_path"] = Path(values["languages_cache_path"])
        return cls(**values)

    @classmethod
    def from_arguments(
        cls,
        config: ClientConfig | None,
        environ: Mapping[str, str],
        overrides: Mapping[str, Any],
        *,
        wait_timeout: Any,
        unset: Any,
    ) -> ClientConfig:
        """The config of a client built with ``config=`` or with individual settings
        (``overrides``, ``None`` meaning "not given"), never both; ``wait_timeout`` applies
        unless it is the ``unset`` marker."""
        if config is None:
            config = cls.from_env(environ, **overrides)
        elif any(value is not None for value in overrides.values()):
            raise ConfigurationError("pass either config= or individual settings, not both")
        if wait_timeout is not unset:
            config = attrs.evolve(config, wait_timeout=wait_timeout)
        return config

    @property
    def languages_cache_file(self) -> Path | None:
        """The languages cache file, or ``None`` when caching is disabled."""
        if self.languages_cache_path is False:
            return None
        if self.languages_cache_path is None or self.languages_cache_path is True:
            # The seed's file serves the real service; any other server (un-async serve,
            # a fake, a proxy) gets a file of its own, so their lists never mix.
            name = "languages.json"
            if self.base_url != DEFAULT_BASE_URL:
                digest = hashlib.sha256(self.base_url.encode("utf-8")).hexdigest()[:12]
                name = f"languages-{digest}.json"
            return Path.home() / ".unsandbox" / name
        return Path(self.languages_cache_path)
