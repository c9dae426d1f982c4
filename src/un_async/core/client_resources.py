"""The client's resource-facing methods: snapshots (the seed's four calls), the resource
namespaces (``client.sessions`` ... ``client.keys``), ``health()`` and ``generate_image()``.

:class:`ResourceMethods` is a base class of :class:`~un_async.AsyncClient`; the namespaces
(:mod:`un_async.resources`) are imported on first use, so ``import un_async`` stays light.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

from un_async.core.credentials import Credentials
from un_async.core.executor import BaseExecutor, SudoCallback
from un_async.core.models import Record, Snapshot

if TYPE_CHECKING:
    from un_async.resources import (
        GeneratedImages,
        Health,
        Images,
        Keys,
        Services,
        Sessions,
        Snapshots,
    )

__all__ = ["Otp", "ResourceMethods", "sudo_callback"]

Otp = str | Callable[[str], Awaitable[str]] | None
"""Answers a 428 challenge: a one-time password, or an async callback receiving the
``challenge_id`` and returning one."""


def sudo_callback(otp: Otp) -> SudoCallback | None:
    """``otp`` as the callback backends take (``None`` stays ``None``)."""
    if otp is None:
        return None
    if callable(otp):
        return cast(SudoCallback, otp)
    code = otp

    async def answer(challenge_id: str) -> str:
        return code

    return answer


class ResourceMethods:
    """Snapshots, resource namespaces and service-wide calls of a client."""

    _executor: BaseExecutor

    async def _resolve(self, public_key: str | None, secret_key: str | None) -> Credentials:
        raise NotImplementedError

    # -- snapshots (the seed's calls) -------------------------------------------------------

    async def session_snapshot(
        self,
        session_id: str,
        *,
        name: str | None = None,
        hot: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> str:
        """Snapshot a session (``hot=True``: without freezing it); returns the snapshot id."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.create_snapshot(credentials, session_id, name=name, hot=hot)

    async def list_snapshots(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> list[Snapshot]:
        """All snapshots of the account."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.list_snapshots(credentials)

    async def restore_snapshot(
        self, snapshot_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Record:
        """Restore a snapshot; the reply describes the restored resource."""
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.restore_snapshot(credentials, snapshot_id)

    async def delete_snapshot(
        self,
        snapshot_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Record:
        """Delete a snapshot.

        If the server asks for confirmation (HTTP 428), ``otp`` answers it (see :data:`Otp`).
        Without ``otp`` a :class:`SudoRequiredError` carrying the ``challenge_id`` is raised.
        """
        credentials = await self._resolve(public_key, secret_key)
        return await self._executor.delete_snapshot(
            credentials, snapshot_id, sudo=sudo_callback(otp)
        )

    # -- resource namespaces ---------------------------------------------------------------

    @functools.cached_property
    def sessions(self) -> Sessions:
        """Interactive sessions: list, create, shell, freeze, boost, snapshot, delete."""
        from un_async.resources import Sessions

        return Sessions(self)  # type: ignore[arg-type]

    @functools.cached_property
    def services(self) -> Services:
        """Persistent services: deploy, resize, domains, logs, env vault, execute, ..."""
        from un_async.resources import Services

        return Services(self)  # type: ignore[arg-type]

    @functools.cached_property
    def snapshots(self) -> Snapshots:
        """Snapshots: create, get, restore, lock, clone, delete."""
        from un_async.resources import Snapshots

        return Snapshots(self)  # type: ignore[arg-type]

    @functools.cached_property
    def images(self) -> Images:
        """Portable images: publish, share, transfer, spawn, clone."""
        from un_async.resources import Images

        return Images(self)  # type: ignore[arg-type]

    @functools.cached_property
    def keys(self) -> Keys:
        """The key pair's validation (``client.keys.validate()``)."""
        from un_async.resources import Keys

        return Keys(self)  # type: ignore[arg-type]

    async def health(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Health:
        """``GET /health``: the service's status (needs no credentials)."""
        from un_async.resources.extras import Extras

        extras = Extras(self)  # type: ignore[arg-type]
        return await extras.health(public_key=public_key, secret_key=secret_key)

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        size: str = "1024x1024",
        quality: str = "standard",
        n: int = 1,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> GeneratedImages:
        """``POST /image``: ``n`` AI-generated images for ``prompt`` (``quality``
        ``standard`` or ``hd``), as base64 data or URLs."""
        from un_async.resources.extras import Extras

        extras = Extras(self)  # type: ignore[arg-type]
        return await extras.generate_image(
            prompt,
            model=model,
            size=size,
            quality=quality,
            n=n,
            public_key=public_key,
            secret_key=secret_key,
        )
