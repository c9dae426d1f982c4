"""Every Python sample of the seed README runs, unmodified, against the fake server.

The README is vendored verbatim in ``tests/seed_samples/seed-README.md``. Samples that
are whole programs (``asyncio.run(main())``) run as subprocesses with warnings as
errors. Snippets with a bare top-level ``await`` are compiled with
``PyCF_ALLOW_TOP_LEVEL_AWAIT`` and awaited on the test's loop, in a namespace holding what
a reader has imported by then (``asyncio`` and the seed's public names) plus the
``job_id`` the job-management snippets refer to.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import un_async
from support.subprocesses import run_python_cleanly
from un_async.testing import FakeUnsandbox, Fault

README = Path(__file__).resolve().parent / "seed_samples" / "seed-README.md"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
BLOCKS = [textwrap.dedent(m.group("body")) for m in FENCE.finditer(README.read_text())]

# How each block is exercised: its index, its first line (guards against README drift).
EXPECTED_FIRST_LINES = {
    0: "import asyncio",  # Basic Async Execution (program)
    1: "import asyncio",  # Fire-and-Forget with Polling (program)
    2: "import asyncio",  # Concurrent Execution (program)
    3: "result = await execute_code(",  # credentials as function arguments
    4: 'result = await execute_code("python", "print(42)")',
    5: 'job_id = await execute_async("python", "print(\'starting\')")',
    6: "status = await get_job(job_id)",
    7: "result = await wait_for_job(job_id)",
    8: "result = await cancel_job(job_id)",
    9: "jobs = await list_jobs()",
    10: "languages = await get_languages()",
    11: 'lang = detect_language("app.js")  # "javascript"',
    12: "{",  # successful execution response format
    13: "{",  # failed execution response format
    14: "from un_async import CredentialsError",  # error handling
    15: "results = await asyncio.gather(",  # performance tip 1
    16: "async with aiohttp.ClientSession() as session:",  # performance tip 4 (fragment)
    17: "from un import execute_code",  # the *sync* SDK (package `un`): not run here
    18: "from un_async import execute_code",  # async SDK comparison
}


def block(index: int) -> str:
    return BLOCKS[index]


def test_every_python_block_is_accounted_for() -> None:
    assert len(BLOCKS) == len(EXPECTED_FIRST_LINES)
    for index, first_line in EXPECTED_FIRST_LINES.items():
        assert BLOCKS[index].splitlines()[0] == first_line, index


# -- helpers ------------------------------------------------------------------------------


def namespace(**extra: Any) -> dict[str, Any]:
    """What a reader has in scope after following the README's imports."""
    names = {name: getattr(un_async, name) for name in un_async.api.__all__}
    return {"__name__": "__seed__", "asyncio": asyncio, **names, **extra}


async def run_snippet(source: str, scope: dict[str, Any]) -> dict[str, Any]:
    """Execute a snippet unmodified, awaiting it if it uses top-level ``await``."""
    code = compile(source, "<seed-readme>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    outcome = eval(code, scope)  # noqa: S307  # our own vendored documentation
    if inspect.iscoroutine(outcome):
        await outcome
    return scope


async def run_program(fake: FakeUnsandbox, source: str, home: Path) -> str:
    """Run a whole sample as ``python -W error``; check exit code and stderr."""
    script = home / "sample.py"
    script.write_text(source)
    return await run_python_cleanly(fake, str(script), cwd=home)


# -- Quick Start programs -----------------------------------------------------------------


async def test_basic_async_execution(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    assert await run_program(fake, block(0), isolated_environment) == "Hello World\n\n"


async def test_fire_and_forget_with_polling(
    fake: FakeUnsandbox, isolated_environment: Path
) -> None:
    fake.default_duration = 0.4
    stdout = await run_program(fake, block(1), isolated_environment)
    (job_id,) = fake.jobs
    assert stdout == f"Job ID: {job_id}\nStatus: completed\nOutput: Job started\n\n"
    assert fake.count_requests("GET", f"/jobs/{job_id}") >= 1


async def test_concurrent_execution(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    stdout = await run_program(fake, block(2), isolated_environment)
    assert stdout == (
        "Language: python, Output: Python\n\n"
        "Language: javascript, Output: JavaScript\n\n"
        "Language: go, Output: Go\n\n"
    )


# -- credentials --------------------------------------------------------------------------


async def test_credentials_as_function_arguments(fake_env: FakeUnsandbox) -> None:
    fake_env.add_account("your_public_key", "your_secret_key")
    scope = await run_snippet(block(3), namespace())
    assert scope["result"]["stdout"] == "hello\n"
    assert fake_env.requests[0].headers["Authorization"] == "Bearer your_public_key"


# -- API reference snippets ---------------------------------------------------------------


async def test_execute_code_reference(
    fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = await run_snippet(block(4), namespace())
    assert capsys.readouterr().out == "42\n\n0\n"  # the comments say "42\n" and 0
    assert scope["result"]["stdout"] == "42\n"


async def test_execute_async_reference(fake_env: FakeUnsandbox) -> None:
    scope = await run_snippet(block(5), namespace())
    assert isinstance(scope["job_id"], str)
    assert scope["result"]["stdout"] == "starting\n"


@pytest.fixture
async def running_job(fake_env: FakeUnsandbox) -> str:
    """The ``job_id`` the job-management snippets refer to: a job that runs for a while."""
    fake_env.script("python", "long_task()", stdout="finished\n", duration=0.5)
    return await un_async.execute_async("python", "long_task()")


async def test_get_job_reference(
    fake_env: FakeUnsandbox, running_job: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_snippet(block(6), namespace(job_id=running_job))
    assert capsys.readouterr().out == "running\n"


async def test_wait_for_job_reference(
    fake_env: FakeUnsandbox, running_job: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_snippet(block(7), namespace(job_id=running_job))
    assert capsys.readouterr().out == "finished\n\n"


async def test_cancel_job_reference(
    fake_env: FakeUnsandbox, running_job: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_snippet(block(8), namespace(job_id=running_job))
    assert capsys.readouterr().out == "cancelled\n"
    assert fake_env.job_status(running_job) == "cancelled"


async def test_list_jobs_reference(
    fake_env: FakeUnsandbox, running_job: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done = await un_async.execute_async("python", "print(1)")
    await un_async.wait_for_job(done)
    await run_snippet(block(9), namespace())
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines == sorted([f"Job {running_job}: running", f"Job {done}: completed"])


async def test_get_languages_reference(
    fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_snippet(block(10), namespace())
    assert capsys.readouterr().out == f"Supported languages: {', '.join(fake_env.languages)}\n"


async def test_detect_language_reference() -> None:
    scope = await run_snippet(block(11), namespace())
    assert scope["lang"] is None
    # Each line's comment states the value it returns.
    pairs = re.findall(r'detect_language\("([^"]+)"\)\s+#\s+(.+)$', block(11), re.M)
    assert len(pairs) == 3
    for filename, comment in pairs:
        assert un_async.detect_language(filename) == ast.literal_eval(comment)


# -- response format ----------------------------------------------------------------------


@pytest.mark.parametrize(("index", "code"), [(12, "print('ok')"), (13, "raise SystemExit(1)")])
async def test_response_format(fake_env: FakeUnsandbox, index: int, code: str) -> None:
    documented = ast.literal_eval(block(index))
    if documented["status"] == "failed":
        fake_env.script("python", code, status="failed", exit_code=1, stderr="Error message\n")
    result = await un_async.execute_code("python", code)
    assert result["status"] == documented["status"]
    for key, example in documented.items():
        assert key in result
        assert type(result[key]) is type(example), key


# -- error handling -----------------------------------------------------------------------


async def test_error_handling_without_errors(
    fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = await run_snippet(block(14), namespace())
    assert capsys.readouterr().out == ""
    assert scope["result"]["stdout"] == "hello\n"


async def test_error_handling_missing_credentials(
    fake: FakeUnsandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UNSANDBOX_API_URL", fake.url)
    await run_snippet(block(14), namespace())
    assert capsys.readouterr().out.startswith("Credentials error: ")
    assert fake.request_count == 0


async def test_error_handling_network_error(
    fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.inject(Fault.reset_after_read(path="/execute"))
    await run_snippet(block(14), namespace())
    assert capsys.readouterr().out.startswith("Network error: ")


async def test_error_handling_http_error_is_a_network_error(
    fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.inject(Fault.status(500, path="/execute"))
    await run_snippet(block(14), namespace())
    output = capsys.readouterr().out
    assert output.startswith("Network error: ")
    assert "Internal server error" in output  # the server's message reaches the user


# -- performance tips ---------------------------------------------------------------------


async def test_gather_tip(fake_env: FakeUnsandbox) -> None:
    scope = await run_snippet(block(15), namespace())
    assert [r["language"] for r in scope["results"]] == ["python", "go", "rust"]
    assert all(r["status"] == "completed" for r in scope["results"])


def test_session_reuse_tip_is_a_fragment() -> None:
    # Not runnable as written (its block holds only a comment); the SDK already reuses
    # one session per client, which test_client.py checks through connection counts.
    with pytest.raises(SyntaxError):
        compile(block(16), "<seed-readme>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


# -- differences from the sync SDK --------------------------------------------------------


async def test_async_sdk_snippet(fake_env: FakeUnsandbox) -> None:
    scope = await run_snippet(block(18), {"__name__": "__seed__"})
    assert scope["result"]["stdout"] == "hello\n"
