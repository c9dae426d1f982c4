"""The pytest plugin's old import location; the plugin itself is :mod:`un_async_pytest`.

The plugin lives in a top-level package so that loading it (the ``pytest11`` entry point
``un_async = "un_async_pytest"``) does not import the ``un_async`` package and aiohttp
into every pytest session. This module re-exports it, hooks and fixtures included, so
that ``from un_async.testing.pytest_plugin import CassetteBinding`` keeps working and an
environment installed before the move (whose entry point still names this module) still
gets the whole plugin. Register one or the other, not both.
"""

from __future__ import annotations

from un_async_pytest import (
    MARKER,
    MODES,
    CassetteBinding,
    cassette_path,
    pytest_addoption,
    pytest_configure,
    pytest_runtest_makereport,
    un_async_cassette,
    un_async_client_options,
    un_async_record_mode,
)

__all__ = [
    "MARKER",
    "MODES",
    "CassetteBinding",
    "cassette_path",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_makereport",
    "un_async_cassette",
    "un_async_client_options",
    "un_async_record_mode",
]

try:
    from un_async_pytest import un_async_client, un_async_http_client
except ImportError:  # pragma: no cover - defined only when pytest-asyncio is installed
    pass
else:
    __all__ += ["un_async_client", "un_async_http_client"]
