"""The languages cache file (spec §8) and the in-memory result cache."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest

from un_async.core import atomic_files
from un_async.core.config import ClientConfig
from un_async.core.models import ExecutionRequest, ExecutionResult, InputFile, JobStatus
from un_async.core.plugin_host import PluginHost
from un_async.plugins import caching
from un_async.plugins.caching import FileLanguagesCache, MemoryResultCache, request_digest

LANGS = ["bash", "go", "python"]


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".unsandbox" / "languages.json"


def write_json(path: Path, document: object, *, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=indent))


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- FileLanguagesCache -----------------------------------------------------------------


async def test_roundtrip(cache_path: Path) -> None:
    cache = FileLanguagesCache(cache_path)
    assert await cache.load() is None
    await cache.store(LANGS)
    assert await cache.load() == LANGS
    assert await FileLanguagesCache(cache_path).load() == LANGS


async def test_written_in_seed_format(cache_path: Path) -> None:
    before = int(time.time())
    await FileLanguagesCache(cache_path).store(LANGS)
    document = read_json(cache_path)
    assert isinstance(document, dict)
    assert set(document) == {"languages", "timestamp"}
    assert document["languages"] == LANGS
    assert isinstance(document["timestamp"], int)
    assert before <= document["timestamp"] <= time.time() + 1


async def test_reads_files_written_by_other_clients(cache_path: Path) -> None:
    write_json(cache_path, {"languages": LANGS, "timestamp": time.time()}, indent=2)
    assert await FileLanguagesCache(cache_path).load() == LANGS


async def test_empty_list_is_a_valid_cached_value(cache_path: Path) -> None:
    cache = FileLanguagesCache(cache_path)
    await cache.store([])
    assert await cache.load() == []


async def test_ttl_expiry_uses_embedded_timestamp(cache_path: Path) -> None:
    write_json(cache_path, {"languages": LANGS, "timestamp": int(time.time()) - 3601})
    assert await FileLanguagesCache(cache_path).load() is None
    assert await FileLanguagesCache(cache_path, ttl=7200).load() == LANGS


async def test_mtime_is_not_used(cache_path: Path) -> None:
    write_json(cache_path, {"languages": LANGS, "timestamp": int(time.time()) - 10_000})
    os.utime(cache_path)  # fresh mtime, old content
    assert await FileLanguagesCache(cache_path).load() is None


async def test_injected_clock(cache_path: Path) -> None:
    now = [1_000_000.0]
    cache = FileLanguagesCache(cache_path, ttl=60, clock=lambda: now[0])
    await cache.store(LANGS)
    now[0] += 59
    assert await cache.load() == LANGS
    now[0] += 1
    assert await cache.load() is None


async def test_future_timestamp_is_stale(cache_path: Path) -> None:
    write_json(cache_path, {"languages": LANGS, "timestamp": int(time.time()) + 3600})
    assert await FileLanguagesCache(cache_path).load() is None
    write_json(cache_path, {"languages": LANGS, "timestamp": int(time.time()) + 30})
    assert await FileLanguagesCache(cache_path).load() == LANGS


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "\xff\xfe",
        json.dumps(LANGS),  # the bash client's bare array
        json.dumps({"languages": ["python", 3], "timestamp": 1e12}),
        json.dumps({"languages": "python", "timestamp": 1e12}),
        json.dumps({"languages": LANGS}),
        json.dumps({"timestamp": 1e12}),
        json.dumps({"languages": LANGS, "timestamp": "now"}),
        json.dumps({"languages": LANGS, "timestamp": True}),
        '{"languages": ["python"], "timestamp": NaN}',
        '{"languages": ["python"], "timestamp": Infinity}',
        "null",
    ],
)
async def test_invalid_files_are_a_miss(cache_path: Path, content: str, caplog) -> None:
    write_bytes(cache_path, content.encode("latin-1"))
    with caplog.at_level(logging.DEBUG, logger="un_async"):
        assert await FileLanguagesCache(cache_path).load() is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_unreadable_path_is_a_miss(cache_path: Path) -> None:
    write_json(cache_path / "inner.json", [])  # a directory where the file should be
    assert await FileLanguagesCache(cache_path).load() is None


async def test_oversized_file_is_a_miss(cache_path: Path) -> None:
    write_json(cache_path, {"languages": ["x" * 100] * 20_000, "timestamp": time.time()})
    assert await FileLanguagesCache(cache_path).load() is None


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
async def test_store_creates_private_dir_and_file(cache_path: Path) -> None:
    await FileLanguagesCache(cache_path).store(LANGS)
    assert file_mode(cache_path) == 0o600
    assert file_mode(cache_path.parent) & 0o077 == 0


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
async def test_store_replaces_a_world_readable_file_with_0600(cache_path: Path) -> None:
    write_json(cache_path, {"languages": ["old"], "timestamp": 0})
    os.chmod(cache_path, 0o644)
    await FileLanguagesCache(cache_path).store(LANGS)
    assert file_mode(cache_path) == 0o600


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "languages.json")


@pytest.mark.parametrize("target", ["replace", "fsync"])
async def test_failed_write_keeps_old_file_and_no_temp(
    cache_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, target: str
) -> None:
    old = {"languages": ["old"], "timestamp": int(time.time())}
    write_json(cache_path, old)

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_files.os, target, fail)
    with caplog.at_level(logging.WARNING, logger="un_async"):
        await FileLanguagesCache(cache_path).store(LANGS)  # must not raise
    assert read_json(cache_path) == old
    assert leftovers(cache_path.parent) == []
    assert "could not write languages cache" in caplog.text


async def test_failed_serialisation_is_logged_not_raised(
    cache_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    stamp = int(time.time())
    write_json(cache_path, {"languages": ["old"], "timestamp": stamp})

    def fail(*args: object, **kwargs: object) -> str:
        raise ValueError("boom")

    monkeypatch.setattr(caching.json, "dumps", fail)
    with caplog.at_level(logging.WARNING, logger="un_async"):
        await FileLanguagesCache(cache_path).store(LANGS)
    monkeypatch.undo()
    assert read_json(cache_path) == {"languages": ["old"], "timestamp": stamp}
    assert leftovers(cache_path.parent) == []
    assert "could not write languages cache" in caplog.text


async def test_uncreatable_directory_is_logged(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="un_async"):
        await FileLanguagesCache(blocker / "sub" / "languages.json").store(LANGS)
    assert "could not write languages cache" in caplog.text


# --- hooks ------------------------------------------------------------------------------


def test_languages_cache_hook_uses_config_path(tmp_path: Path) -> None:
    host = PluginHost(load_entry_points=False)
    path = tmp_path / "langs.json"
    cache = host.languages_cache(ClientConfig(languages_cache_path=path, languages_cache_ttl=5))
    assert isinstance(cache, FileLanguagesCache)
    assert (cache.path, cache.ttl) == (path, 5)


def test_languages_cache_hook_disabled() -> None:
    host = PluginHost(load_entry_points=False)
    assert host.languages_cache(ClientConfig(languages_cache_path=False)) is None


def test_result_cache_hook() -> None:
    host = PluginHost(load_entry_points=False)
    assert host.result_cache(ClientConfig()) is None
    assert isinstance(host.result_cache(ClientConfig(result_cache=True)), MemoryResultCache)


# --- MemoryResultCache ------------------------------------------------------------------


def result(status: JobStatus = JobStatus.COMPLETED, stdout: str = "42\n") -> ExecutionResult:
    return ExecutionResult(job_id="job-1", status=status, stdout=stdout, exit_code=0)


def request(**overrides: object) -> ExecutionRequest:
    values: dict[str, object] = {"language": "python", "code": "print(42)"}
    values.update(overrides)
    return ExecutionRequest(**values)  # type: ignore[arg-type]


async def test_result_cache_roundtrip() -> None:
    cache = MemoryResultCache()
    assert await cache.get(request()) is None
    stored = result()
    await cache.put(request(), stored)
    assert await cache.get(request()) == stored


async def test_result_cache_hands_out_copies() -> None:
    cache = MemoryResultCache()
    stored = result()
    await cache.put(request(), stored)
    stored["stdout"] = "changed after caching"
    first = await cache.get(request())
    assert first is not None
    assert first.stdout == "42\n"
    first["stdout"] = "changed by a caller"
    second = await cache.get(request())
    assert second is not None
    assert second.stdout == "42\n"


async def test_result_cache_ignores_non_final_results() -> None:
    cache = MemoryResultCache()
    await cache.put(request(), result(JobStatus.RUNNING))
    await cache.put(request(), result(JobStatus.UNKNOWN))
    assert await cache.get(request()) is None
    assert len(cache) == 0


async def test_result_cache_lru_eviction() -> None:
    cache = MemoryResultCache(max_entries=2)
    a, b, c = (request(code=f"print({n})") for n in range(3))
    await cache.put(a, result(stdout="a"))
    await cache.put(b, result(stdout="b"))
    assert await cache.get(a) is not None  # a is now most recently used
    await cache.put(c, result(stdout="c"))
    assert await cache.get(b) is None
    assert (await cache.get(a)).stdout == "a"  # type: ignore[union-attr]
    assert (await cache.get(c)).stdout == "c"  # type: ignore[union-attr]


def test_result_cache_rejects_zero_size() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryResultCache(max_entries=0)


def test_digest_is_stable_and_order_independent() -> None:
    one = request(env={"A": "1", "B": "2"}, input_files={"a.txt": b"x", "b.txt": b"y"})
    two = request(env={"B": "2", "A": "1"}, input_files={"a.txt": b"x", "b.txt": b"y"})
    assert request_digest(one) == request_digest(two)
    assert len(request_digest(one)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"language": "ruby"},
        {"code": "print(43)"},
        {"env": {"A": "1"}},
        {"input_files": [InputFile(filename="in.txt", content=b"data")]},
        {"network_mode": "semitrusted"},
        {"ttl": 30},
        {"vcpu": 2},
        {"return_artifact": True},
    ],
)
def test_digest_covers_every_field(change: dict[str, object]) -> None:
    assert request_digest(request(**change)) != request_digest(request())


def test_digest_covers_input_file_content() -> None:
    one = request(input_files={"in.txt": b"one"})
    two = request(input_files={"in.txt": b"two"})
    assert request_digest(one) != request_digest(two)


def test_each_server_has_a_languages_file_of_its_own() -> None:
    from un_async.core.config import DEFAULT_BASE_URL, ClientConfig

    service = ClientConfig(base_url=DEFAULT_BASE_URL).languages_cache_file
    served = ClientConfig(base_url="http://127.0.0.1:8000").languages_cache_file
    other = ClientConfig(base_url="http://127.0.0.1:8001").languages_cache_file
    assert service is not None
    assert service.name == "languages.json"
    assert served is not None
    assert other is not None
    assert len({service, served, other}) == 3
    assert served.parent == service.parent
