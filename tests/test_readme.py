"""Every Python example in README.md runs as written and prints what it promises.

The examples run against the fake server (``fake_env``); where the fake's program
emulation cannot compute a program's output, the test scripts it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from un_async import sync
from un_async.testing import FakeUnsandbox

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
CLIENT_PROGRAM = "import os; print(open('data.txt').read(), os.environ['GREETING'])"


def _script_client_example(fake: FakeUnsandbox) -> None:
    fake.script("python", CLIENT_PROGRAM, stdout="payload hi\n", artifacts={"out.txt": b"x"})


def _script_squares(fake: FakeUnsandbox) -> None:
    for n in range(20):
        fake.script("python", f"print({n} * {n})", stdout=f"{n * n}\n")


def _no_script(fake: FakeUnsandbox) -> None:
    return None


# A marker found in the block's source -> (set-up of the fake, text its output must contain).
EXPECTED: dict[str, tuple[Callable[[FakeUnsandbox], None], str]] = {
    'print("Hello World")': (_no_script, "Hello World\n"),
    "Job started": (_no_script, "completed Job started"),
    "console.log('JavaScript')": (_no_script, "javascript JavaScript"),
    CLIENT_PROGRAM: (_script_client_example, "Artifact(filename='out.txt'"),
    "execute_many(": (_script_squares, "19 361"),
    'sync.execute_code("python", "print(42)")': (_no_script, "42"),
    'fake.script("python", "print(6 * 7)"': (_no_script, "42\n 2"),
    "class EchoBackend(BaseExecutor)": (_no_script, "completed > print('hi')"),
    # The resource API (sessions, services, snapshots, images, keys).
    '"echo hello from a session"': (_no_script, "running hello from a session"),
    '"echo deployed"': (_no_script, "https://my-api.on.unsandbox.com deployed"),
    'name="clean"': (_no_script, "clean session True"),
    'name="web-base"': (_no_script, "web-base https://web-2.on.unsandbox.com ['web-base']"),
    "client.keys.validate()": (_no_script, "True pro ok"),
    '"echo same calls"': (_no_script, "same calls"),
    # The local backend runs the program for real on this machine.
    "print(sum(range(10)))": (_no_script, "completed 45 "),
}

# Examples that run on a backend of their own send nothing to the fake server.
OWN_BACKEND = ("FakeUnsandbox(", 'backend="echo"', 'backend="local"')


def _expectation(source: str) -> tuple[Callable[[FakeUnsandbox], None], str] | None:
    found = [value for marker, value in EXPECTED.items() if marker in source]
    assert len(found) <= 1, "ambiguous README markers"
    return found[0] if found else None


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
async def test_readme_example_runs(
    source: str, fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    runs_something = "asyncio.run(" in source or "from un_async import sync" in source
    expectation = _expectation(source)
    assert runs_something == (expectation is not None), "add the example to EXPECTED"
    if expectation is not None:
        expectation[0](fake_env)
    requests_before = fake_env.request_count
    code = compile(source, str(README), "exec")
    # Examples call asyncio.run() or block, so run them in a thread of their own.
    await asyncio.to_thread(exec, code, {"__name__": "__readme__"})
    sync.close()
    output = capsys.readouterr().out
    if expectation is not None:
        assert expectation[1] in output
        if not any(marker in source for marker in OWN_BACKEND):
            assert fake_env.request_count > requests_before
