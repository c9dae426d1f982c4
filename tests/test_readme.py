"""Every Python example in README.md runs as written (against the fake server)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from un_async import sync
from un_async.testing import FakeUnsandbox

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
async def test_readme_example_runs(
    source: str, fake_env: FakeUnsandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    requests_before = fake_env.request_count
    code = compile(source, str(README), "exec")
    # Examples call asyncio.run() or block, so run them in a thread of their own.
    await asyncio.to_thread(exec, code, {"__name__": "__readme__"})
    sync.close()
    output = capsys.readouterr().out
    runs_something = "asyncio.run(" in source or "from un_async import sync" in source
    if runs_something:
        assert output.strip(), "the example printed nothing"
        if "FakeUnsandbox(" not in source:  # otherwise it talks to a server of its own
            assert fake_env.request_count > requests_before
