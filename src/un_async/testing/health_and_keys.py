"""Service-level endpoints of the fake server: ``GET``/``HEAD /health`` and
``GET /languages`` (both unauthenticated, spec §2.4) and ``POST /keys/validate``
(spec §2.6).

Key validation answers 200 for every signed request: ``{"valid": true, ...}`` for an active
key, else ``{"valid": false, "reason": "expired"|"suspended", ...}`` (the spec allows a
non-200 too; a 200 keeps one body shape). ``tier`` is a string, as ``un.h`` declares it
(the C client reads a number) [disputed]; the rate appears as ``rate_per_minute`` (C)
and as ``rate_limit`` (other clients) [disputed], the expiry as
``valid_through_datetime`` and ``expires_at`` (Python CLI). Unknown keys never get here:
the pipeline answers 401.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .access_control import ACCOUNT
from .fake_state import FakeState
from .http_replies import json_response
from .records import FakeAccount

__all__ = ["KEY_VALIDITY_DAYS", "RENEW_URL", "HealthAndKeyRoutes"]

KEY_VALIDITY_DAYS = 30
RENEW_URL = "https://unsandbox.com/keys/extend?pk={public_key}"


class HealthAndKeyRoutes:
    """``/health``, ``/languages`` and ``/keys/validate`` over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router`` (``add_get`` also serves ``HEAD``)."""
        router.add_get("/health", self.health)
        router.add_get("/languages", self.languages)
        router.add_post("/keys/validate", self.validate_keys)

    async def health(self, request: web.Request) -> web.StreamResponse:
        """``GET /health`` → ``{"status": "ok"}``."""
        return json_response({"status": "ok"})

    async def languages(self, request: web.Request) -> web.StreamResponse:
        """``GET /languages`` → ``{"languages": [...]}``."""
        return json_response({"languages": self.state.languages})

    async def validate_keys(self, request: web.Request) -> web.StreamResponse:
        """``POST /keys/validate`` (empty body or ``{}``)."""
        account = request[ACCOUNT]
        if account.status == "active":
            return json_response(self._valid(account))
        return json_response(self._invalid(account))

    def _valid(self, account: FakeAccount) -> dict[str, Any]:
        state = self.state
        until = datetime.fromtimestamp(state.server_time() + KEY_VALIDITY_DAYS * 86400, UTC)
        per_minute = int(state.rate_limit[0] * 60 / state.rate_limit[1]) if state.rate_limit else 60
        return {
            "valid": True,
            "public_key": account.public_key,
            "tier": account.tier,
            "status": "active",
            "valid_through_datetime": until.isoformat(timespec="seconds"),
            "expires_at": until.isoformat(timespec="seconds"),
            "valid_for_human": f"{KEY_VALIDITY_DAYS} days",
            "rate_per_minute": per_minute,
            "rate_limit": per_minute,
            "burst": state.rate_limit[0] if state.rate_limit else per_minute,
            "concurrency": state.concurrency_limit or 10,
        }

    def _invalid(self, account: FakeAccount) -> dict[str, Any]:
        body: dict[str, Any] = {
            "valid": False,
            "reason": account.status,
            "status": account.status,
            "public_key": account.public_key,
            "tier": account.tier,
        }
        if account.status == "expired":
            ago = datetime.fromtimestamp(self.state.server_time() - 86400, UTC)
            body.update(
                expired=True,
                expired_at_datetime=ago.isoformat(timespec="seconds"),
                expired_ago="1 day",
                renew_url=RENEW_URL.format(public_key=account.public_key),
            )
        return body
