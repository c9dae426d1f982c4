"""The languages a client knows, for checking a language before anything is sent.

The list is the backend's last ``get_languages()`` answer, else a fresh languages cache
(read once); with neither, every well-formed name is accepted and the backend decides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from un_async.core.hookspecs import LanguagesCache
from un_async.core.models import check_known_language

__all__ = ["LanguageList"]


class LanguageList:
    """One client's view of its backend's languages; ``cache`` may be ``None`` (no file).
    ``precheck=False`` leaves every check to the backend (which names what to install)."""

    def __init__(self, cache: LanguagesCache | None, *, precheck: bool = True) -> None:
        self.cache = cache
        self.precheck = precheck
        self.known: frozenset[str] | None = None
        self._lock: asyncio.Lock | None = None

    async def check(self, language: str) -> None:
        """Raise :class:`~un_async.ValidationError` if the known list lacks ``language``."""
        if not self.precheck:
            return
        if self.known is None and self.cache is not None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self.known is None and self.cache is not None:
                    self.known = frozenset(await self.cache.load() or ())
        if self.known is not None:
            check_known_language(language, self.known)

    async def get(self, fetch: Callable[[], Awaitable[list[str]]], *, refresh: bool) -> list[str]:
        """The cached list unless ``refresh`` or stale, else ``fetch()``'s (then cached)."""
        if self.cache is not None and not refresh:
            cached = await self.cache.load()
            if cached is not None:
                self.known = frozenset(cached)
                return cached
        languages = await fetch()
        self.known = frozenset(languages)
        if self.cache is not None:
            await self.cache.store(languages)
        return languages
