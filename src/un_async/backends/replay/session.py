"""A cassette in use: what can be replayed, what is recorded, and when it is written.

Both levels (executor and HTTP) delegate the record-mode rules to a
:class:`CassetteSession`:

========================  ===================  =======================================
mode                      replays              records (written on :meth:`save`)
========================  ===================  =======================================
``none``                  the file (required)  nothing; a miss raises
``once``, file exists     the file             nothing; a miss raises
``once``, no file         nothing              every call, to a new file
``new_episodes``          the file, if any     misses, appended to the file's content
``all``                   nothing              every call, replacing the file
========================  ===================  =======================================
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from un_async.backends.replay.cassette import Cassette, Interaction, Level, load_cassette
from un_async.backends.replay.cassette import save_cassette as _save
from un_async.backends.replay.errors import (
    CassetteFormatError,
    CassetteMissError,
    CassetteNotFoundError,
)
from un_async.backends.replay.matching import InteractionIndex
from un_async.backends.replay.modes import RecordMode
from un_async.backends.replay.redaction import Redactor, SecretSet

__all__ = ["CassetteSession"]


class CassetteSession:
    """The replay and recording state of one cassette (see the module table).

    Give ``path`` (a file, loaded according to ``mode``) or ``cassette`` (an in-memory
    cassette to replay; with ``path`` too, recordings are saved there). ``repeat=True``
    serves a request's recorded interactions again once all were used. ``secrets``
    (default: the ``UNSANDBOX_*`` environment) are replaced by placeholders both when
    saving and before matching. Thread-safe: the sync API and several event loops may
    share one session.
    """

    def __init__(
        self,
        *,
        level: Level,
        mode: RecordMode | str = RecordMode.NONE,
        path: str | os.PathLike[str] | None = None,
        cassette: Cassette | None = None,
        repeat: bool = False,
        secrets: SecretSet | None = None,
    ) -> None:
        self.level: Level = level
        self.mode = RecordMode.parse(mode)
        self.path = Path(path) if path is not None else None
        self.secrets = secrets if secrets is not None else SecretSet.from_environ(os.environ)
        self._lock = threading.Lock()
        loaded = cassette if cassette is not None else self._load()
        if loaded is not None and loaded.level != level:
            raise CassetteFormatError(
                f"{self.source} holds {loaded.level}-level interactions, not {level}-level ones"
            )
        self.replaying = loaded is not None and self.mode is not RecordMode.ALL
        self.recording = self.mode in (RecordMode.ALL, RecordMode.NEW_EPISODES) or (
            self.mode is RecordMode.ONCE and loaded is None
        )
        base = loaded.interactions if loaded and self.mode is RecordMode.NEW_EPISODES else []
        self._base = list(base)
        self.recorded_backend = loaded.backend if loaded is not None else None
        """The loaded cassette's ``backend`` entry (``None``: unknown or nothing loaded)."""
        self.cassette = Cassette(
            level=level, interactions=list(base), backend=self.recorded_backend
        )
        self.index = InteractionIndex(
            loaded.interactions if loaded is not None and self.replaying else [],
            repeat=repeat,
            scrub=Redactor(self.secrets).scrub,
            source=self.source,
        )
        self._dirty = False
        self._discarded = False

    @property
    def source(self) -> str:
        """The cassette's file name, for messages."""
        return str(self.path) if self.path is not None else "the in-memory cassette"

    def _load(self) -> Cassette | None:
        if self.path is None:
            if self.mode is RecordMode.NONE:
                raise CassetteNotFoundError("replay needs a cassette file or a Cassette object")
            return None
        if self.mode is RecordMode.ALL:
            return None
        try:
            return load_cassette(self.path)
        except FileNotFoundError:
            if self.mode is RecordMode.NONE:
                raise CassetteNotFoundError(
                    f"cassette {self.path} does not exist and record mode is 'none'; "
                    "record it first with record mode 'once'"
                ) from None
            return None

    def __repr__(self) -> str:
        return f"CassetteSession({self.source!r}, mode={self.mode.value!r}, level={self.level!r})"

    # -- replay -------------------------------------------------------------------------

    def take(self, request: dict[str, Any]) -> Interaction | None:
        """The next recorded interaction for ``request``, or ``None`` (no match or not
        replaying)."""
        if not self.replaying:
            return None
        return self.index.take(request)

    def miss(self, request: dict[str, Any]) -> CassetteMissError:
        """The error to raise when ``request`` has no match and cannot be recorded."""
        if self.mode is RecordMode.NONE:
            hint = "record mode 'none'; record new requests with 'new_episodes'"
        else:
            hint = f"record mode {self.mode.value!r} with an existing cassette; use 'new_episodes'"
        return self.index.miss(request, hint=hint)

    @property
    def native_wait(self) -> bool:
        """True when the loaded recording's backend awaited jobs natively (``wait_job``)."""
        return bool(self.recorded_backend and self.recorded_backend.get("native_wait") is True)

    # -- recording ----------------------------------------------------------------------

    def recording_through(self, name: str, *, native_wait: bool) -> None:
        """Note the backend that new recordings go through (saved as ``backend``)."""
        with self._lock:
            self.cassette.backend = {"name": name, "native_wait": native_wait}

    def add(self, interaction: Interaction) -> None:
        """Append a new recording (kept in memory until :meth:`save`)."""
        with self._lock:
            self.cassette.interactions.append(interaction)
            self._dirty = True

    def changed(self) -> None:
        """Note that an already added interaction grew (a waiting submit's polls)."""
        with self._lock:
            self._dirty = True

    def save(self) -> bool:
        """Write the recordings (redacted, scanned, atomically); True if a file was written.

        Nothing is written when the session does not record, has no file, was discarded,
        or has nothing new and its file already exists.
        """
        if not self.recording or self.path is None or self._discarded:
            return False
        with self._lock:
            if not self._dirty and self.path.exists():
                return False
            _save(self.cassette, self.path, secrets=self.secrets)
            self._dirty = False
        return True

    def discard(self) -> None:
        """Drop unsaved recordings and never write this session (a failed test)."""
        with self._lock:
            self._discarded = True
            self.cassette.interactions[:] = list(self._base)
            self._dirty = False
