"""Languages: ``GET /languages`` and the emulation of programs in each language.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import aiohttp
import pytest

from support.signed_http import send
from un_async.testing import SPEC_LANGUAGES, FakeUnsandbox, emulate

pytestmark = pytest.mark.usefixtures("no_server_errors")


async def test_languages_with_and_without_auth(
    fake: FakeUnsandbox, http: aiohttp.ClientSession
) -> None:
    anonymous = await send(http, fake, "GET", "/languages", auth=False)
    signed = await send(http, fake, "GET", "/languages")
    assert anonymous.json() == signed.json() == {"languages": list(SPEC_LANGUAGES)}
    assert len(SPEC_LANGUAGES) == 43
    assert (await send(http, fake, "GET", "/languages", secret_key="bad")).status == 401


async def test_custom_language_list(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(languages=["python"]) as fake:
        reply = await send(http, fake, "POST", "/execute", {"language": "go", "code": ""})
        assert reply.json()["error"] == "unsupported_language"
        assert (await send(http, fake, "GET", "/languages")).json() == {"languages": ["python"]}


@pytest.mark.parametrize(
    ("language", "code", "stdout", "exit_code"),
    [
        ("python", 'print("Hello World")', "Hello World\n", 0),
        ("python", "print('a')\nprint(42)\nprint(f'{x}')", "a\n42\n", 0),
        ("python", 'import sys\nprint("a")\nsys.exit(1)\nprint("b")', "a\n", 1),
        ("javascript", "console.log('Job started')", "Job started\n", 0),
        ("javascript", 'console.log("x");\nprocess.exit(2)', "x\n", 2),
        ("go", 'fmt.Println("Go")', "Go\n", 0),
        ("ruby", 'puts "r"\nprint "s"', "r\ns", 0),
        ("bash", 'echo hello world\necho "q"', "hello world\nq\n", 0),
        ("php", '<?php echo "hi\\n";', "hi\n", 0),
        ("rust", 'fn main() { println!("rs"); }', "rs\n", 0),
        ("java", 'System.out.println("J");', "J\n", 0),
        ("c", 'printf("c\\n"); puts("p");', "c\np\n", 0),
    ],
)
def test_emulation_prints(language: str, code: str, stdout: str, exit_code: int) -> None:
    result = emulate(language, code)
    assert (result.stdout, result.exit_code, result.status) == (stdout, exit_code, "completed")


@pytest.mark.parametrize(
    ("language", "code", "stderr"),
    [
        ("python", 'print("a")\nraise ValueError("boom")', "ValueError: boom\n"),
        ("javascript", 'throw new Error("bad")', "Error: bad\n"),
        ("go", 'panic("oops")', "oops\n"),
    ],
)
def test_emulation_errors(language: str, code: str, stderr: str) -> None:
    result = emulate(language, code)
    assert (result.exit_code, result.stderr) == (1, stderr)


def test_emulation_stderr_and_sleep() -> None:
    result = emulate("python", 'import time, sys\ntime.sleep(1.5)\nprint("e", file=sys.stderr)')
    assert (result.stdout, result.stderr, result.duration) == ("", "e\n", 1.5)
