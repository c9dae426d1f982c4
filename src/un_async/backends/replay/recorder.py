"""What both recorders share: saving the cassette and closing what they wrap.

:class:`~un_async.backends.replay.executor.RecordingExecutor` wraps an executor and
:class:`~un_async.backends.replay.cassette_transport.CassetteTransport` a transport (or
nothing, when it only replays); both write a :class:`CassetteSession`, by default when they
are closed.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from un_async.backends.replay.session import CassetteSession

__all__ = ["CassetteRecorder"]


class _Closable(Protocol):
    async def aclose(self) -> None: ...


InnerT = TypeVar("InnerT", bound=_Closable | None)


class CassetteRecorder(Generic[InnerT]):
    """``save``, ``discard`` and ``aclose`` for a class that sets ``inner``, ``session``,
    ``save_on_close`` and ``_closed = False``."""

    inner: InnerT
    session: CassetteSession
    save_on_close: bool
    _closed: bool

    def save(self) -> bool:
        """Write the cassette now (see :meth:`CassetteSession.save`)."""
        return self.session.save()

    def discard(self) -> None:
        """Forget unsaved recordings; nothing will be written."""
        self.session.discard()

    async def aclose(self) -> None:
        """Close the inner executor or transport, then save (unless
        ``save_on_close=False``); idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.inner is not None:
                await self.inner.aclose()
        finally:
            if self.save_on_close:
                self.session.save()
