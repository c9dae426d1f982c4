"""Fixtures of the command-line tests: one fake server per module, shared by its tests
(each test scripts programs of its own), and the installed console script."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.cli_process import UN_ASYNC, ThreadedFake
from un_async.testing import FakeUnsandbox


@pytest.fixture(scope="session", autouse=True)
def console_script_installed() -> None:
    """The tests run the installed ``un-async``; say how to get it when it is missing."""
    assert UN_ASYNC.exists(), f"{UN_ASYNC} is missing: run pip install -e '.[dev]'"


@pytest.fixture(scope="module")
def cli_fake() -> Iterator[FakeUnsandbox]:
    """A fake server (auto mode: short runs answer synchronously) for a whole module."""
    with ThreadedFake() as fake:
        yield fake
