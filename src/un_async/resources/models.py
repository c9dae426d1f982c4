"""Typed replies of the resource API: each one *is* a ``dict`` (a :class:`Record`).

A model is the server's JSON object with its documented keys filled in where the server
left them out (``DEFAULTS``, plus the id the call addressed), so ``isinstance(r, dict)``,
``json.dumps(r)``, ``r.copy()`` and ``dict(r)`` behave as with the reference client's plain
dicts. Attributes give normalised values: ``session.id`` reads ``id``, else
``session_id``; a key without a property is read as an attribute too (``service.url``),
as on every :class:`Record`. Unknown keys are kept.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from un_async.core.credentials import mask_key
from un_async.core.models import Record

__all__ = [
    "EnvExport",
    "EnvStatus",
    "GeneratedImages",
    "Health",
    "Image",
    "KeyValidation",
    "ResourceRecord",
    "Service",
    "ServiceLogs",
    "Session",
    "ShellResult",
    "SnapshotClone",
]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


_KEY_FIELD = re.compile(r"(^|_)(api_key|public_key|keys|trusted)$")


def _masked(key: str, value: Any) -> Any:
    """``value`` with API keys shortened to a log-safe prefix when ``key`` holds keys."""
    if not _KEY_FIELD.search(key):
        return value
    if isinstance(value, str):
        return mask_key(value)
    if isinstance(value, list):
        return [mask_key(item) if isinstance(item, str) else item for item in value]
    return value


class _MaskedRecord(Record):
    """A :class:`Record` whose ``repr`` shows API keys (owner, trusted, ...) masked."""

    __slots__ = ()

    def __repr__(self) -> str:
        masked = Record({key: _masked(key, value) for key, value in self.items()})
        return type(self).__name__ + Record.__repr__(masked).removeprefix("Record")


class ResourceRecord(_MaskedRecord):
    """A resource reply: ``DEFAULTS`` overlaid with the server's object.

    ``ID_KEYS`` are the names the id arrives under (the first is canonical); each is
    filled with the id the reply (or the call) names. ``ID_SOURCES`` are further keys the
    id may be read from, never filled.
    """

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    ID_KEYS: ClassVar[tuple[str, ...]] = ()
    ID_SOURCES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_reply(cls, data: Mapping[str, Any] | None, *, id: str | None = None) -> Self:
        """The model of ``data`` (``None``: an empty reply); ``id`` is the id the call
        addressed, used when the reply names none."""
        merged: dict[str, Any] = dict(cls.DEFAULTS)
        merged.update(data or {})
        if cls.ID_KEYS:
            sources = (*cls.ID_KEYS, *cls.ID_SOURCES)
            found = next((merged[k] for k in sources if _text(merged.get(k))), None) or id
            for key in cls.ID_KEYS:
                if merged.get(key) is None:
                    merged[key] = found
        return cls(merged)

    @property
    def id(self) -> str:
        """The resource's id (``""`` when the reply and the call named none)."""
        for key in (*self.ID_KEYS, *self.ID_SOURCES):
            value = _text(self.get(key))
            if value is not None:
                return value
        return ""

    @property
    def message(self) -> str | None:
        """The server's human-readable note, if any."""
        return _text(self.get("message"))


class Session(ResourceRecord):
    """An interactive session (spec §3.4): ``id``, ``status`` (``running``/``frozen``),
    ``container_name``, ``shell``, ``network_mode``, ``vcpu``, ``remaining_ttl``, ..."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"id": None, "session_id": None, "status": None}
    ID_KEYS: ClassVar[tuple[str, ...]] = ("id", "session_id")

    @property
    def status(self) -> str | None:
        return _text(self.get("status"))

    @property
    def container_name(self) -> str | None:
        return _text(self.get("container_name"))

    @property
    def vcpu(self) -> int | None:
        return _int(self.get("vcpu"))


class ShellResult(ResourceRecord):
    """The output of one command run in a session: ``stdout``, ``stderr``, ``exit_code``."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "session_id": None,
        "stdout": "",
        "stderr": "",
        "exit_code": None,
    }
    ID_KEYS: ClassVar[tuple[str, ...]] = ("session_id",)

    @property
    def stdout(self) -> str:
        return _text(self.get("stdout")) or ""

    @property
    def stderr(self) -> str:
        return _text(self.get("stderr")) or ""

    @property
    def exit_code(self) -> int | None:
        return _int(self.get("exit_code"))

    @property
    def success(self) -> bool:
        """Exit code 0 and no ``error``."""
        return self.exit_code == 0 and not self.get("error")


class Service(ResourceRecord):
    """A persistent service (spec §3.5): ``id``, ``name``, ``status``, ``ports``,
    ``url``, ``locked``, ``vcpu``, ``custom_domains``, ..."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "id": None,
        "service_id": None,
        "name": None,
        "status": None,
    }
    ID_KEYS: ClassVar[tuple[str, ...]] = ("id", "service_id")

    @property
    def name(self) -> str | None:
        return _text(self.get("name"))

    @property
    def status(self) -> str | None:
        return _text(self.get("status"))

    @property
    def locked(self) -> bool | None:
        return _flag(self.get("locked"))

    @property
    def vcpu(self) -> int | None:
        return _int(self.get("vcpu"))

    @property
    def ports(self) -> list[int]:
        value = self.get("ports")
        return [p for p in value if _int(p) is not None] if isinstance(value, list) else []

    @property
    def custom_domains(self) -> list[str]:
        """``custom_domains`` (the domains call's reply), else ``domains``."""
        value = self.get("custom_domains", self.get("domains"))
        return [d for d in value if isinstance(d, str)] if isinstance(value, list) else []


class ServiceLogs(ResourceRecord):
    """A service's bootstrap and runtime log: ``log`` (text)."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"log": ""}
    ID_KEYS: ClassVar[tuple[str, ...]] = ("id",)

    @property
    def log(self) -> str:
        value = self.get("log")
        return value if isinstance(value, str) else ""

    @property
    def lines(self) -> list[str]:
        return self.log.splitlines()


class EnvStatus(ResourceRecord):
    """The environment vault's metadata (never its values): ``has_vault``, ``count``,
    ``updated_at``."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"has_vault": None, "count": None}

    @property
    def has_vault(self) -> bool | None:
        return _flag(self.get("has_vault"))

    @property
    def count(self) -> int | None:
        return _int(self.get("count"))


class EnvExport(ResourceRecord):
    """The exported vault: ``env`` holds ``KEY=VALUE`` lines (``content`` in the Rust
    client's reading); the ``repr`` hides both."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"env": ""}

    @property
    def env(self) -> str:
        for key in ("env", "content"):
            value = self.get(key)
            if isinstance(value, str) and value:
                return value
        return ""

    def __repr__(self) -> str:
        return f"EnvExport(<{len(self.env.splitlines())} lines>)"


class SnapshotClone(ResourceRecord):
    """What a snapshot clone created: ``type`` and ``session_id`` or ``service_id``
    (``id`` holds the new resource's id too)."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"id": None, "type": None}
    ID_KEYS: ClassVar[tuple[str, ...]] = ("id",)
    ID_SOURCES: ClassVar[tuple[str, ...]] = ("session_id", "service_id")

    @property
    def type(self) -> str | None:
        return _text(self.get("type"))


class Image(ResourceRecord):
    """A portable image (spec §3.7): ``id``, ``name``, ``visibility``, ``locked``,
    ``fingerprint``, ``trusted_keys`` (owner only), ..."""

    __slots__ = ()
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"id": None, "image_id": None, "name": None}
    ID_KEYS: ClassVar[tuple[str, ...]] = ("id", "image_id")

    @property
    def name(self) -> str | None:
        return _text(self.get("name"))

    @property
    def visibility(self) -> str | None:
        return _text(self.get("visibility"))

    @property
    def locked(self) -> bool | None:
        return _flag(self.get("locked"))

    @property
    def trusted_keys(self) -> list[str]:
        """``trusted_keys``, else ``trusted`` (what the JS client reads)."""
        value = self.get("trusted_keys", self.get("trusted"))
        return [k for k in value if isinstance(k, str)] if isinstance(value, list) else []


class KeyValidation(_MaskedRecord):
    """The answer of ``POST /keys/validate`` (spec §2.6): ``valid``, ``tier``, ``reason``
    when not valid, the expiry and the rate limits (field names as the server sends them)."""

    __slots__ = ()

    @property
    def valid(self) -> bool:
        return self.get("valid") is True

    @property
    def reason(self) -> str | None:
        return _text(self.get("reason"))

    @property
    def tier(self) -> Any:
        """A string or a number: the clients disagree (spec §2.6)."""
        return self.get("tier")

    @property
    def expires_at(self) -> str | None:
        """``expires_at``, else ``valid_through_datetime``."""
        return _text(self.get("expires_at")) or _text(self.get("valid_through_datetime"))


class Health(Record):
    """The answer of ``GET /health`` (a 2xx reply; its body is not specified, spec §3.9)."""

    __slots__ = ()

    @property
    def status(self) -> str | None:
        return _text(self.get("status"))


class GeneratedImages(Record):
    """The answer of ``POST /image``: ``images`` (base64 data or URLs) and
    ``created_at``."""

    __slots__ = ()

    @property
    def images(self) -> list[str]:
        value = self.get("images")
        return [i for i in value if isinstance(i, str)] if isinstance(value, list) else []

    def decoded(self) -> list[bytes]:
        """The images that are base64 data, decoded (URLs are skipped)."""
        return [
            base64.b64decode(item, validate=True)
            for item in self.images
            if not item.startswith(("http://", "https://"))
        ]

    def __repr__(self) -> str:
        return f"GeneratedImages(<{len(self.images)} images>)"
