"""Every example script runs cleanly against the fake server.

Each script runs as a subprocess (``python -W error examples/x.py``) with
``UNSANDBOX_API_URL`` pointing at a fake server that this test's event loop keeps
serving; it must exit 0, print nothing on stderr and print what it promises.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from support.subprocesses import run_python_cleanly
from un_async.testing import FakeUnsandbox

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED_EXAMPLES = [
    "hello_world_async.py",
    "fibonacci_async.py",
    "concurrent_execution.py",
    "async_job_polling.py",
    "sync_blocking_usage.py",
]


async def run_example(fake: FakeUnsandbox, name: str, home: Path) -> str:
    """Run ``examples/<name>`` and return its stdout after checking exit code and stderr."""
    return await run_python_cleanly(fake, str(EXAMPLES / name), cwd=home, env={"HOME": str(home)})


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fib(n: int) -> int:
    """Reference Fibonacci (fib(0) = 0, fib(1) = 1)."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_every_seed_example_exists() -> None:
    for name in SEED_EXAMPLES:
        assert (EXAMPLES / name).is_file(), name


async def test_hello_world(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    stdout = await run_example(fake, "hello_world_async.py", isolated_environment)
    assert stdout.splitlines()[0] == "Hello World"
    assert "status=completed exit_code=0" in stdout
    assert fake.count_requests("POST", "/execute") == 1
    assert fake.connection_count == 1


async def test_fibonacci(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    module = load_example("fibonacci_async.py")
    numbers = range(11)
    for n in numbers:
        fake.script("python", module.fib_program(n), stdout=f"{fib(n)}\n")
    stdout = await run_example(fake, "fibonacci_async.py", isolated_environment)
    assert stdout.splitlines() == [f"fib({n}) = {fib(n)}" for n in numbers]
    sent = sorted(r.json()["code"] for r in fake.requests)
    assert sent == sorted(module.fib_program(n) for n in numbers)


def test_fibonacci_program_is_real_python() -> None:
    module = load_example("fibonacci_async.py")
    for n in (0, 1, 2, 10, 20):
        namespace: dict[str, object] = {}
        exec(compile(module.fib_program(n), "<fib>", "exec"), namespace)  # noqa: S102
        assert callable(namespace["fib"])
        assert namespace["fib"](n) == fib(n)


async def test_concurrent_execution(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    stdout = await run_example(fake, "concurrent_execution.py", isolated_environment)
    assert stdout.splitlines() == [
        "Language: python, Output: Python",
        "Language: javascript, Output: JavaScript",
        "Language: go, Output: Go",
    ]


async def test_async_job_polling(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    stdout = await run_example(fake, "async_job_polling.py", isolated_environment)
    lines = stdout.splitlines()
    match = re.fullmatch(r"Job ID: (\S+)", lines[0])
    assert match is not None
    first = match.group(1)
    assert "Status: completed" in lines
    assert "Output: Job started" in lines
    cancelled = [line for line in lines if line.startswith("Cancelled ")]
    assert len(cancelled) == 1
    assert cancelled[0].endswith(": cancelled")
    assert f"Job {first}: completed" in lines
    statuses = {job_id: fake.job_status(job_id) for job_id in fake.jobs}
    assert sorted(statuses.values()) == ["cancelled", "completed"]
    assert fake.connection_count <= 2  # one client for the whole script


async def test_sync_blocking_usage(fake: FakeUnsandbox, isolated_environment: Path) -> None:
    stdout = await run_example(fake, "sync_blocking_usage.py", isolated_environment)
    assert stdout.splitlines() == [
        "Hello from a blocking call",
        f"Languages available: {len(fake.languages)}",
        "Detected: go",
        "Hello from inside a running loop",
    ]
    assert fake.connection_count <= 2  # the facade reuses one private loop and client
