"""The cassette model and its JSON file format (documented in ``docs/cassettes.md``).

A cassette is one JSON object::

    {"format": "un-async-cassette", "version": 2, "level": "execution" | "http",
     "recorded_at": "2025-01-01T12:00:00Z", "recorded_with": "un-async 0.1.0 ...",
     "backend": {"name": "local", "native_wait": true},
     "interactions": [{"request": {...}, "response": {...}, "timing": {...}}, ...]}

``backend`` (execution level, version 2) names the backend the recording went through and
whether it awaited jobs natively; version 1 files (without it, and without resource calls
or native waits) are still read.

Files are written with sorted keys and indentation so recordings diff well, through
:func:`save_cassette`: redaction and the secret scan first, then an atomic replace (a
temporary file in the same directory, then ``os.replace``), so a cassette on disk is
always either the old complete file or the new complete file.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import attrs

from un_async._version import __version__
from un_async.backends.replay.errors import CassetteFormatError, SecretLeakError
from un_async.backends.replay.redaction import Redactor, SecretSet
from un_async.core.atomic_files import existing_mode, write_atomic

__all__ = [
    "FORMAT",
    "LEVELS",
    "READABLE_VERSIONS",
    "VERSION",
    "Cassette",
    "Interaction",
    "Level",
    "load_cassette",
    "save_cassette",
]

FORMAT = "un-async-cassette"
VERSION = 2
"""The version written."""
READABLE_VERSIONS = (1, 2)
"""The versions read (1: before resource calls, native waits and ``backend``)."""
Level = Literal["execution", "http"]
LEVELS: tuple[Level, ...] = ("execution", "http")


@attrs.define(kw_only=True, eq=False)
class Interaction:
    """One recorded exchange.

    ``request`` is the normalised request; ``response`` is ``{"value": ...}`` or
    ``{"error": {...}}`` for executor operations (``{"unfinished": true}`` for a
    ``wait_job`` the caller gave up on) and ``{"status", "headers", "body"}`` (or
    ``{"error": ...}``) for HTTP; ``timing["elapsed"]`` is the call's duration in seconds.
    A ``submit`` whose caller waited also has ``timing["until_final"]`` and
    ``timing["polls"]`` and the recorded polls (or native waits) of its job in ``polls``
    (each ``{"response", "timing"}``).
    """

    request: dict[str, Any]
    response: dict[str, Any]
    timing: dict[str, Any] = attrs.Factory(dict)
    polls: list[dict[str, Any]] | None = None
    decoded: Any = attrs.field(default=None, init=False, repr=False)
    """Replay's memo of the decoded value it serves (not saved; served as copies)."""

    def to_json(self) -> dict[str, Any]:
        """The interaction as stored in a cassette."""
        data: dict[str, Any] = {
            "request": self.request,
            "response": self.response,
            "timing": self.timing,
        }
        if self.polls is not None:
            data["polls"] = list(self.polls)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> Interaction:
        """Parse a stored interaction; ``where`` locates it in error messages."""
        if not isinstance(data, dict):
            raise CassetteFormatError(f"{where} is not a JSON object")
        for name in ("request", "response"):
            if not isinstance(data.get(name), dict):
                raise CassetteFormatError(f"{where} has no {name!r} object")
        timing = data.get("timing", {})
        if not isinstance(timing, dict):
            raise CassetteFormatError(f"{where}: 'timing' is not an object")
        polls = data.get("polls")
        if polls is not None and not (
            isinstance(polls, list)
            and all(isinstance(p, dict) and isinstance(p.get("response"), dict) for p in polls)
        ):
            raise CassetteFormatError(f"{where}: 'polls' is not a list of {{'response': ...}}")
        return cls(request=data["request"], response=data["response"], timing=timing, polls=polls)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recorded_with() -> str:
    """``un-async <version> (python <x.y.z>)``."""
    return f"un-async {__version__} (python {platform.python_version()})"


@attrs.define(kw_only=True, eq=False)
class Cassette:
    """A list of interactions at one level (``execution`` or ``http``) plus provenance.

    ``backend`` (execution level) is ``{"name": ..., "native_wait": ...}`` of the backend
    the interactions were recorded through, or ``None`` when unknown.
    """

    level: Level
    interactions: list[Interaction] = attrs.Factory(list)
    recorded_at: str | None = None
    recorded_with: str | None = None
    backend: dict[str, Any] | None = None

    @property
    def native_wait(self) -> bool:
        """True when the recording's backend awaited jobs itself (``wait_job``)."""
        return bool(self.backend and self.backend.get("native_wait") is True)

    def to_json(self) -> dict[str, Any]:
        """The cassette document (before redaction)."""
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "level": self.level,
            "recorded_at": self.recorded_at or _now(),
            "recorded_with": self.recorded_with or recorded_with(),
            "interactions": [interaction.to_json() for interaction in self.interactions],
        }
        if self.backend is not None:
            document["backend"] = dict(self.backend)
        return document

    @classmethod
    def from_json(cls, data: Any, source: str = "cassette") -> Cassette:
        """Parse a cassette document; anything unexpected raises CassetteFormatError."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CassetteFormatError(f"{source} is not an un-async cassette (no format marker)")
        version = data.get("version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            readable = " and ".join(map(str, READABLE_VERSIONS))
            raise CassetteFormatError(
                f"{source} has cassette format version {version!r}; this un-async "
                f"({__version__}) reads versions {readable} — re-record it"
            )
        level = data.get("level")
        if level not in LEVELS:
            raise CassetteFormatError(f"{source}: unknown level {level!r} (expected {LEVELS})")
        items = data.get("interactions")
        if not isinstance(items, list):
            raise CassetteFormatError(f"{source}: 'interactions' is not a list")
        backend = data.get("backend")
        if backend is not None and not (
            isinstance(backend, dict) and isinstance(backend.get("name"), str)
        ):
            raise CassetteFormatError(f"{source}: 'backend' is not an object with a name")
        return cls(
            level=cast(Level, level),
            interactions=[
                Interaction.from_json(item, f"{source}: interaction #{index}")
                for index, item in enumerate(items)
            ],
            recorded_at=_optional_str(data.get("recorded_at")),
            recorded_with=_optional_str(data.get("recorded_with")),
            backend=backend,
        )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def load_cassette(path: str | os.PathLike[str]) -> Cassette:
    """Read a cassette file. A missing file raises ``FileNotFoundError``; a corrupt one,
    or one of another format version, :class:`CassetteFormatError`."""
    file = Path(path)
    raw = file.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CassetteFormatError(f"{file} is not UTF-8 text: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise CassetteFormatError(
            f"{file} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return Cassette.from_json(data, str(file))


def save_cassette(
    cassette: Cassette,
    path: str | os.PathLike[str],
    *,
    secrets: SecretSet | None = None,
) -> None:
    """Redact, scan and atomically write ``cassette`` to ``path``.

    ``secrets`` adds to the ``UNSANDBOX_*`` environment values that are always redacted.
    If the rendered text still contains a secret, :class:`SecretLeakError` is raised and
    nothing is written.
    """
    known = SecretSet.from_environ(os.environ)
    if secrets is not None:
        known.update(secrets)
    document = cassette.to_json()
    document["recorded_at"] = _now()
    text, leaks = Redactor(known).render(document)
    if leaks:
        raise SecretLeakError(
            f"refusing to write cassette {path}: it would contain {', '.join(leaks)}. "
            "Remove the secret from the program's input or output.",
            labels=leaks,
        )
    # A replaced cassette keeps its permissions; a new one is created 0644.
    write_atomic(path, text, mode=existing_mode(path, 0o644))
