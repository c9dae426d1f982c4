"""Settings (backend options and UN_ASYNC_LOCAL_* variables), level choice, validation
before anything runs, diagnostics, and the local path's imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.local_backend import ISOLATION
from un_async import AsyncClient, ConfigurationError, ValidationError
from un_async.backends.local.backend import LocalBackend
from un_async.backends.local.isolation import Isolation
from un_async.backends.local.process import Capture
from un_async.backends.local.settings import LocalSettings


def backend_of(client: AsyncClient) -> LocalBackend:
    backend = client.executor
    assert isinstance(backend, LocalBackend)
    return backend


async def test_options_and_environment_variables() -> None:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "UN_ASYNC_LOCAL_MEMORY_MB": "300",
        "UN_ASYNC_LOCAL_CONCURRENCY": "3",
        "UN_ASYNC_LOCAL_OUTPUT_LIMIT_BYTES": "4096",
        "UN_ASYNC_LOCAL_ISOLATION": "none",
        "UN_ASYNC_LOCAL_DISK_LIMIT_MB": "50",
    }
    async with AsyncClient(backend="local", environ=environ) as client:
        settings = backend_of(client).settings
    assert (settings.memory_mb, settings.concurrency, settings.disk_limit_mb) == (300, 3, 50)
    assert (settings.output_limit_bytes, settings.isolation) == (4096, "none")
    async with AsyncClient(
        backend="local", backend_options={"memory_mb": 500, "concurrency": 1}, environ=environ
    ) as client:
        settings = backend_of(client).settings
    assert (settings.memory_mb, settings.concurrency, settings.output_limit_bytes) == (500, 1, 4096)


async def test_backend_selected_by_environment_variable() -> None:
    environ = {"PATH": os.environ.get("PATH", ""), "UN_ASYNC_BACKEND": "local"}
    async with AsyncClient(environ=environ) as client:
        assert backend_of(client).requires_credentials is False
        result = await client.execute_code("bash", "echo no account needed")
    assert result.stdout == "no account needed\n"


def test_defaults() -> None:
    settings = LocalSettings.from_setting(lambda key: None)
    assert settings.isolation is None
    assert settings.concurrency == (os.cpu_count() or 1)
    assert settings.output_limit_bytes == 1024 * 1024
    assert (settings.memory_for(None), settings.memory_for(3)) == (2048, 6144)
    assert (settings.max_processes, settings.disk_limit_mb) == (32, 1024)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("isolation", "docker"),
        ("memory_mb", "lots"),
        ("memory_mb", 0),
        ("concurrency", -1),
        ("output_limit_bytes", True),
        ("max_processes", "2.5"),
        ("disk_limit_mb", 0),
    ],
)
def test_bad_settings_are_configuration_errors(key: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=key):
        LocalSettings.from_setting(lambda name: value if name == key else None)


def test_bad_isolation_option_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="isolation"):
        AsyncClient(backend="local", backend_options={"isolation": "vm"})


def test_a_level_the_machine_cannot_provide_is_a_configuration_error() -> None:
    only_none = Isolation(
        host=ISOLATION.host, available=("none",), unavailable={"bubblewrap": "bwrap not found"}
    )
    assert only_none.choose(None) == "none"
    with pytest.raises(ConfigurationError, match="bwrap not found"):
        only_none.choose("bubblewrap")
    with pytest.raises(ConfigurationError, match="not available"):
        only_none.choose("namespaces")


def test_best_level_is_bubblewrap_whenever_bwrap_works() -> None:
    if ISOLATION.host.bwrap is None:
        pytest.skip("bubblewrap is not installed here")
    assert ISOLATION.best == "bubblewrap", ISOLATION.unavailable


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": 901}, "ttl"),
        ({"vcpu": 9}, "vcpu"),
        ({"env": {"1BAD": "x"}}, "environment variable name"),
        ({"code": "print('\ud800')"}, "UTF-8"),
        ({"input_files": {"a\x00b": b""}}, "input file name"),
    ],
)
async def test_bad_input_is_refused_before_anything_runs(
    arguments: dict[str, object], match: str
) -> None:
    call = {"language": "python", "code": "print(1)", **arguments}
    async with AsyncClient(backend="local") as client:
        with pytest.raises(ValidationError, match=match):
            await client.execute_code(**call)  # type: ignore[arg-type]
        assert await client.list_jobs() == []


def test_describe_reports_level_facts_and_languages() -> None:
    facts = LocalBackend().describe()
    assert facts["backend"] == "local"
    assert facts["isolation"]["level"] == ISOLATION.best
    assert facts["levels_available"] == list(ISOLATION.available)
    assert "python" in facts["languages"]
    assert facts["languages"]["python"][0].isdigit()
    json.dumps(facts)


def test_the_local_path_does_not_import_aiohttp() -> None:
    script = (
        "import asyncio, sys\n"
        "from un_async import AsyncClient\n"
        "async def main():\n"
        "    async with AsyncClient(backend='local') as client:\n"
        "        result = await client.execute_code('bash', 'echo ok')\n"
        "        job = await client.execute_async('bash', 'echo async')\n"
        "        await client.wait_for_job(job)\n"
        "        await client.list_jobs()\n"
        "    print(result.stdout.strip(), 'aiohttp' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "ok False\n", done.stderr


@given(
    limit=st.integers(min_value=2, max_value=64),
    chunks=st.lists(st.binary(max_size=40), max_size=20),
)
def test_capture_keeps_head_and_tail(limit: int, chunks: list[bytes]) -> None:
    capture = Capture(limit)
    for chunk in chunks:
        capture.feed(chunk)
    data = b"".join(chunks)
    head, tail = limit // 2, limit - limit // 2
    if len(data) <= limit:
        assert capture.dropped == 0
        assert capture.text() == data.decode("utf-8", "replace")
    else:
        assert capture.dropped == len(data) - limit
        expected_head = data[:head].decode("utf-8", "replace")
        expected_tail = data[-tail:].decode("utf-8", "replace")
        assert capture.text().startswith(expected_head)
        assert capture.text().endswith(expected_tail)
        assert f"{len(data) - limit} bytes omitted" in capture.text()
