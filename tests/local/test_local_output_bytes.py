"""Output that is not valid UTF-8: ``stdout``/``stderr`` hold the text with U+FFFD for the
invalid bytes, and ``stdout_base64``/``stderr_base64`` the exact bytes (absent when the
text is exact)."""

from __future__ import annotations

import base64

import pytest

from support.local_backend import OUTPUT_LIMIT
from un_async import AsyncClient
from un_async.backends.local.process import Capture

EVERY_BYTE = bytes(range(256))


@pytest.mark.asyncio(loop_scope="module")
async def test_exact_bytes_ride_along_with_the_text(local: AsyncClient) -> None:
    code = (
        "import sys\n"
        f"sys.stdout.buffer.write({EVERY_BYTE!r})\n"
        "sys.stderr.buffer.write(b'caf\\xe9 no newline')\n"
    )
    result = await local.execute_code("python", code)
    assert result.status == "completed", result.error
    assert base64.b64decode(result["stdout_base64"]) == EVERY_BYTE
    assert base64.b64decode(result["stderr_base64"]) == b"caf\xe9 no newline"
    assert result.stdout == EVERY_BYTE.decode("utf-8", "replace")
    assert result.stderr == "caf\ufffd no newline"
    assert type(result.stdout) is str

    valid = await local.execute_code("python", "print('é ✓ fine')")
    assert valid.stdout == "é ✓ fine\n"
    assert "stdout_base64" not in valid
    assert "stderr_base64" not in valid


@pytest.mark.asyncio(loop_scope="module")
async def test_truncated_output_keeps_its_exact_bytes(best: AsyncClient) -> None:
    code = f"import sys\nsys.stdout.buffer.write(b'\\xff' * {OUTPUT_LIMIT * 2})\n"
    result = await best.execute_code("python", code)
    assert result.truncated
    exact = base64.b64decode(result["stdout_base64"])
    head, marker, tail = exact.partition(b"\n[... ")
    assert head == b"\xff" * (OUTPUT_LIMIT // 2)
    assert marker
    assert tail.endswith(b"output limit reached ...]\n" + b"\xff" * (OUTPUT_LIMIT // 2))


def test_a_multibyte_character_cut_by_truncation_is_marked_inexact() -> None:
    capture = Capture(8)
    capture.feed("ab✓✓✓✓".encode())  # 2 + 4 * 3 bytes: the head cuts a character
    text = capture.text()
    assert capture.dropped
    assert text.exact is not None
    assert text.exact.startswith(b"ab\xe2\x9c")
    assert text == text.exact.decode("utf-8", "replace")

    whole = Capture(64)
    whole.feed("ab✓".encode())
    assert whole.text() == "ab✓"
    assert whole.text().exact is None
