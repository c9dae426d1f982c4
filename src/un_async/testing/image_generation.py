"""AI image generation on the fake server: ``POST /image`` (spec §3.9).

``{"prompt", "size"?, "quality"?, "n"?, "model"?}`` → ``{"images": [base64 PNG, ...],
"created_at": epoch}``. Every image is the same 1x1 grey PNG (nothing is generated);
``n`` is 1-4, ``size`` one of :data:`IMAGE_SIZES`, ``quality`` ``standard`` or ``hd``.
"""

from __future__ import annotations

import base64
import struct
import zlib

from aiohttp import web

from .fake_state import FakeState
from .http_replies import bad_request, json_response
from .payload_checks import int_in_range, optional_string, parse_object

__all__ = ["IMAGE_SIZES", "ImageGenerationRoutes", "placeholder_png"]

IMAGE_SIZES = frozenset({"256x256", "512x512", "1024x1024", "1792x1024", "1024x1792"})
_QUALITIES = frozenset({"standard", "hd"})


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def placeholder_png() -> bytes:
    """A valid 1x1 8-bit greyscale PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")  # filter byte 0, one grey pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


class ImageGenerationRoutes:
    """``POST /image`` over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's route to ``router``."""
        router.add_post("/image", self.generate)

    async def generate(self, request: web.Request) -> web.StreamResponse:
        """Answer ``n`` placeholder images for a non-empty ``prompt``."""
        payload = parse_object(await request.read(), allow_empty=False)
        prompt = optional_string(payload, "prompt")
        if not prompt or not prompt.strip():
            raise bad_request("prompt is required")
        size = optional_string(payload, "size") or "1024x1024"
        if size not in IMAGE_SIZES:
            raise bad_request(f"size must be one of {', '.join(sorted(IMAGE_SIZES))}")
        quality = optional_string(payload, "quality") or "standard"
        if quality not in _QUALITIES:
            raise bad_request("quality must be 'standard' or 'hd'")
        count = int_in_range(payload, "n", 1, 4) or 1
        model = optional_string(payload, "model")
        image = base64.b64encode(placeholder_png()).decode()
        body = {
            "images": [image] * count,
            "created_at": int(self.state.server_time()),
            "size": size,
            "quality": quality,
        }
        if model is not None:
            body["model"] = model
        return json_response(body)
