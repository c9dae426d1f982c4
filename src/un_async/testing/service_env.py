"""The service environment vault of the fake server (spec §3.5).

Uploads replace the whole vault. Three upload styles are accepted, because the clients
disagree [disputed]: the C client's ``PUT`` with ``Content-Type: text/plain`` and raw
``KEY=VALUE`` lines (the most evidenced: the endpoint expects text, as the Python client's
own comment admits), the JS client's ``PUT`` JSON ``{"content": text}`` and the Python
client's ``POST`` JSON ``{"env": text}`` (an object of strings is accepted there too).
The ``.env`` text may hold blank lines, ``#`` comments, ``export`` prefixes and single- or
double-quoted values (double quotes with JSON escapes); more than 64 KB (``C:50``) answers
413 ``payload_too_large``.

``DELETE`` without a body removes the vault; with ``{"keys": [...]}`` (JS) only those
keys. ``POST .../env/export`` answers ``{"env": text}`` (C, Python) and the same text as
``content`` (Rust); free-tier accounts get 403.
"""

from __future__ import annotations

import json
import re

from aiohttp import web

from .access_control import ACCOUNT, owned
from .fake_state import FakeState
from .http_replies import HTTPError, bad_request, json_response, not_found
from .payload_checks import parse_object, string_list
from .resource_records import FakeService

__all__ = ["ENV_VAULT_LIMIT", "ServiceEnvRoutes", "format_env", "parse_env"]

ENV_VAULT_LIMIT = 64 * 1024  # bytes of .env text (spec §3.5, ``C:50``)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN_VALUE = re.compile(r"^[^\s#'\"\\]*$")


def parse_env(text: str) -> dict[str, str]:
    """``.env`` text as ``{KEY: VALUE}``; 400 naming the first malformed line."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key):
            raise bad_request(f"line {number}: expected KEY=VALUE", "invalid_env")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                raise bad_request(f"line {number}: bad quoting", "invalid_env") from None
        env[key] = value
    return env


def format_env(env: dict[str, str]) -> str:
    """``{KEY: VALUE}`` as ``.env`` text that :func:`parse_env` reads back."""
    lines = []
    for key, value in env.items():
        shown = value if _PLAIN_VALUE.match(value) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}={shown}\n")
    return "".join(lines)


def _check_size(text: str) -> None:
    if len(text.encode()) > ENV_VAULT_LIMIT:
        raise HTTPError(
            413, "payload_too_large", f"environment exceeds {ENV_VAULT_LIMIT // 1024} KB"
        )


def _uploaded_env(request: web.Request, body: bytes) -> dict[str, str]:
    """The vault sent in any of the three styles (see the module docstring)."""
    as_json = request.content_type == "application/json" or (
        request.content_type != "text/plain" and body.lstrip().startswith(b"{")
    )
    if not as_json:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise bad_request("environment must be UTF-8 text", "invalid_env") from None
        _check_size(text)
        return parse_env(text)
    payload = parse_object(body, allow_empty=False)
    value = payload.get("content", payload.get("env"))
    if isinstance(value, dict):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise bad_request("env must be an object of string values", "invalid_env")
        bad = [k for k in value if not _KEY.match(k)]
        if bad:
            raise bad_request(f"invalid variable name: {bad[0]!r}", "invalid_env")
        _check_size(format_env(value))
        return dict(value)
    if not isinstance(value, str):
        raise bad_request("send KEY=VALUE text, or JSON with content or env", "invalid_env")
    _check_size(value)
    return parse_env(value)


class ServiceEnvRoutes:
    """``/services/{id}/env`` handlers over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router``."""
        router.add_get("/services/{id}/env", self.status)
        router.add_put("/services/{id}/env", self.upload)
        router.add_post("/services/{id}/env", self.upload)
        router.add_delete("/services/{id}/env", self.delete)
        router.add_post("/services/{id}/env/export", self.export)

    def _service(self, request: web.Request) -> FakeService:
        return owned(self.state.services, request, "service")

    @staticmethod
    def _status(service: FakeService) -> dict[str, object]:
        return {
            "has_vault": service.env is not None,
            "count": len(service.env or {}),
            "updated_at": service.env_updated_at,
        }

    async def status(self, request: web.Request) -> web.StreamResponse:
        """``GET /services/{id}/env`` → ``{"has_vault", "count", "updated_at"}``."""
        return json_response(self._status(self._service(request)))

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """``PUT`` (or ``POST``) ``/services/{id}/env``: replace the vault."""
        service = self._service(request)
        env = _uploaded_env(request, await request.read())
        service.env = env
        service.env_updated_at = int(self.state.server_time())
        return json_response(
            {**self._status(service), "message": f"Environment vault updated ({len(env)} keys)"}
        )

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /services/{id}/env[ {"keys": [...]}]``: 404 when there is no vault."""
        service = self._service(request)
        payload = parse_object(await request.read(), allow_empty=True)
        keys = string_list(payload, "keys")
        if service.env is None:
            raise not_found("environment vault")
        if keys is None:
            service.env = None
            message = "Environment vault deleted"
        else:
            for key in keys:
                service.env.pop(key, None)
            message = f"Removed {len(keys)} keys"
        service.env_updated_at = int(self.state.server_time())
        return json_response({**self._status(service), "message": message})

    async def export(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/env/export`` → ``{"env": text, "content": text}``."""
        service = self._service(request)
        if request[ACCOUNT].tier == "free":
            raise HTTPError(403, "forbidden", "Environment export is not available for free tier")
        text = format_env(service.env or {})
        return json_response({"env": text, "content": text, "count": len(service.env or {})})
