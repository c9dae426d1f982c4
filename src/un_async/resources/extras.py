"""The endpoints outside the resource namespaces: ``GET /health`` and AI image generation
(``POST /image``), spec §3.9. The client exposes them as :meth:`AsyncClient.health` and
:meth:`AsyncClient.generate_image`."""

from __future__ import annotations

from un_async.core.errors import CredentialsError, ValidationError
from un_async.resources.base import Namespace, check_choice, object_of
from un_async.resources.models import GeneratedImages, Health

__all__ = ["IMAGE_QUALITIES", "Extras"]

IMAGE_QUALITIES = ("standard", "hd")


class Extras(Namespace):
    """Health and image generation, bound to a client."""

    __slots__ = ()

    async def health(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Health:
        """``GET /health``. The endpoint needs no credentials: the request is signed with
        the client's keys when it has some, else with empty ones."""
        from un_async.core.credential_chain import NO_CREDENTIALS

        client = self._client
        try:
            credentials = await client._resolve(public_key, secret_key)
        except CredentialsError:
            if public_key is not None or secret_key is not None:
                raise
            credentials = NO_CREDENTIALS
        data = await client.executor.api_call(credentials, "health", "GET", "/health")
        return Health(object_of(data, "the health reply") or {})

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
        """``POST /image`` ``{"prompt", "size", "quality", "n", "model"?}``: ``n`` images
        generated from ``prompt`` (``quality`` ``standard`` or ``hd``), as base64 data or
        URLs."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValidationError("prompt must be a non-empty string")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValidationError(f"n must be a positive integer, got {n!r}")
        body: dict[str, object] = {
            "prompt": prompt,
            "size": size,
            "quality": check_choice("quality", quality, IMAGE_QUALITIES),
            "n": n,
        }
        if model:
            body["model"] = model
        data = await self._call(
            "image.generate",
            "POST",
            "/image",
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return GeneratedImages(object_of(data, "the image reply") or {})
