"""The probe answers kept on disk: a new process reuses them, and probes again when its
key went stale, when the file is corrupt or not trustworthy, and after a run that failed
to start in the sandbox — never reporting a level that did not run the program.

"A new process" is simulated by emptying the per-process memos; the programs probed are
real: wrapper scripts on ``PATH`` (a ``bwrap`` and a ``python3`` that log each start and
then run the real program) count the probes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from support.local_backend import LEVELS
from un_async import AsyncClient
from un_async.backends.local import isolation, toolchains
from un_async.backends.local.backend import LocalBackend
from un_async.backends.local.isolation import probe_isolation
from un_async.backends.local.probe_cache import MAX_ENTRIES, ProbeCache, cache_directory
from un_async.backends.local.toolchains import SEARCHED_NAMES, resolve_toolchain

REAL_BWRAP = shutil.which("bwrap")
REAL_PYTHON = shutil.which("python3") or shutil.which("python")
needs_bwrap = pytest.mark.skipif(
    "bubblewrap" not in LEVELS or REAL_BWRAP is None, reason="bubblewrap does not work here"
)


class Wrapped:
    """A directory put first on ``PATH`` holding logging wrappers of real programs."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "starts.log"
        self.fail_flag = root / "fail"
        self.home = root / "home"
        self.home.mkdir()

    def add(self, name: str, target: str) -> Path:
        """``name`` runs ``target``; it logs its start, and fails like a broken sandbox
        (``<name>: ...`` on stderr, status 1) while :attr:`fail_flag` exists."""
        script = self.bin / name
        script.write_text(
            "#!/bin/sh\n"
            f"echo {name} >> '{self.log}'\n"
            f"if [ -e '{self.fail_flag}' ]; then echo '{name}: simulated failure' >&2; exit 1; fi\n"
            f'exec {target} "$@"\n'
        )
        script.chmod(0o755)
        return script

    def starts(self, name: str) -> int:
        if not self.log.exists():
            return 0
        return self.log.read_text().split().count(name)

    def environ(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}:{os.environ.get('PATH', os.defpath)}", "HOME": str(self.home)}

    def cache(self) -> ProbeCache:
        cache = ProbeCache.for_environ(self.environ())
        assert cache is not None
        return cache


@pytest.fixture
def wrapped(tmp_path: Path) -> Wrapped:
    return Wrapped(tmp_path)


@pytest.fixture
def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget this process's memos (the disk cache is all that remains)."""
    monkeypatch.setattr(isolation, "_cache", {})
    monkeypatch.setattr(toolchains, "_cache", {})


def forget_process_memos() -> None:
    isolation._cache.clear()
    toolchains._cache.clear()


def test_cache_directory_follows_xdg_then_home() -> None:
    assert cache_directory({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/un-async/local")
    assert cache_directory({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.cache/un-async/local"
    )
    assert cache_directory({}) is None


@needs_bwrap
@pytest.mark.usefixtures("new_process")
def test_isolation_answer_is_reused_until_its_key_changes(wrapped: Wrapped) -> None:
    assert REAL_BWRAP is not None
    script = wrapped.add("bwrap", REAL_BWRAP)
    environ, cache = wrapped.environ(), wrapped.cache()
    first = probe_isolation(environ, cache=cache)
    assert (first.best, first.from_cache, wrapped.starts("bwrap")) == ("bubblewrap", False, 1)
    forget_process_memos()
    second = probe_isolation(environ, cache=cache)
    assert second.from_cache
    assert second == first
    assert wrapped.starts("bwrap") == 1  # nothing was started
    os.utime(script, ns=(0, script.stat().st_mtime_ns + 10**9))  # bwrap "was upgraded"
    forget_process_memos()
    third = probe_isolation(environ, cache=cache)
    assert (third.from_cache, wrapped.starts("bwrap")) == (False, 2)


@needs_bwrap
@pytest.mark.usefixtures("new_process")
@pytest.mark.parametrize(
    "damage",
    [
        "{not json",
        json.dumps({"format": 999, "entries": {}}),
        "corrupt entry",
    ],
)
def test_a_corrupt_file_means_probing_again(wrapped: Wrapped, damage: str) -> None:
    assert REAL_BWRAP is not None
    wrapped.add("bwrap", REAL_BWRAP)
    environ, cache = wrapped.environ(), wrapped.cache()
    probe_isolation(environ, cache=cache)
    path = cache.path(isolation.KIND)
    if damage == "corrupt entry":
        document = json.loads(path.read_text())
        for entry in document["entries"].values():
            entry["value"]["available"] = ["bubblewrap"]  # "none" must always be last
        damage = json.dumps(document)
    path.write_text(damage)
    forget_process_memos()
    again = probe_isolation(environ, cache=cache)
    assert (again.from_cache, again.best, wrapped.starts("bwrap")) == (False, "bubblewrap", 2)
    forget_process_memos()
    assert probe_isolation(environ, cache=cache).from_cache  # the file was rewritten


@pytest.mark.usefixtures("new_process")
def test_a_file_others_may_write_is_not_trusted(wrapped: Wrapped) -> None:
    environ, cache = wrapped.environ(), wrapped.cache()
    probe_isolation(environ, cache=cache)
    path = cache.path(isolation.KIND)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    path.chmod(0o622)
    forget_process_memos()
    assert not probe_isolation(environ, cache=cache).from_cache


def test_entries_are_bounded(tmp_path: Path) -> None:
    cache = ProbeCache(tmp_path / "cache")
    for number in range(MAX_ENTRIES + 5):
        cache.store("kind", {"n": number}, {"value": number})
    assert cache.load("kind", {"n": MAX_ENTRIES + 4}) == {"value": MAX_ENTRIES + 4}
    assert cache.load("kind", {"n": 0}) is None
    document = json.loads(cache.path("kind").read_text())
    assert len(document["entries"]) == MAX_ENTRIES
    cache.drop("kind", {"n": MAX_ENTRIES + 4})
    assert cache.load("kind", {"n": MAX_ENTRIES + 4}) is None


@pytest.mark.skipif(REAL_PYTHON is None, reason="no python3 on PATH")
@pytest.mark.usefixtures("new_process")
def test_toolchain_answer_follows_its_shim_and_version_files(
    wrapped: Wrapped, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert REAL_PYTHON is not None
    real = os.path.realpath(REAL_PYTHON)
    script = wrapped.add("python3", real)
    environ, cache = wrapped.environ(), wrapped.cache()
    project = tmp_path / "project" / "src"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)

    def resolve() -> toolchains.Toolchain:
        forget_process_memos()
        chain, why = resolve_toolchain("python", environ, cache=cache)
        assert chain is not None, why
        return chain

    first = resolve()
    assert (first.from_cache, wrapped.starts("python3")) == (False, 1)
    assert first.origin == str(script)
    assert resolve().from_cache
    assert resolve() == first
    assert wrapped.starts("python3") == 1
    (tmp_path / "project" / ".python-version").write_text("3.11\n")  # a shim would notice
    assert not resolve().from_cache
    assert resolve().from_cache
    assert wrapped.starts("python3") == 2
    script.write_text(script.read_text() + "# changed\n")
    assert not resolve().from_cache
    assert wrapped.starts("python3") == 3


def test_every_name_a_language_is_looked_up_by_is_in_its_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: dict[str, set[str]] = {}
    real_find = toolchains._find
    current: list[str] = []

    def find(names: tuple[str, ...], environ: dict[str, str]) -> str | None:
        looked_up.setdefault(current[0], set()).update(names)
        return real_find(names, environ)

    monkeypatch.setattr(toolchains, "_find", find)
    monkeypatch.setattr(toolchains, "_cache", {})
    environ = {"PATH": os.environ.get("PATH", os.defpath)}
    for language in toolchains.LANGUAGES:
        current[:] = [language]
        if language == "typescript":
            toolchains._cache.clear()  # look JavaScript up again, as its dependency
        resolve_toolchain(language, environ)
    for language, names in looked_up.items():
        assert names <= set(SEARCHED_NAMES[language]), language
    assert set(looked_up) == set(toolchains.LANGUAGES)


@needs_bwrap
@pytest.mark.usefixtures("new_process")
async def test_a_sandbox_failure_with_cached_answers_probes_again(wrapped: Wrapped) -> None:
    assert REAL_BWRAP is not None
    wrapped.add("bwrap", REAL_BWRAP)
    environ = wrapped.environ()
    async with AsyncClient(backend="local", environ=environ) as client:
        first = await client.execute_code("bash", "echo one")
    assert first.isolation is not None
    assert (first.stdout, first.isolation["level"]) == ("one\n", "bubblewrap")
    probes = wrapped.starts("bwrap")

    # The next process finds bubblewrap working in the cache, but it now fails to start
    # anything; nothing in the key shows it.
    wrapped.fail_flag.touch()
    forget_process_memos()
    async with AsyncClient(backend="local", environ=environ) as client:
        backend = client.executor
        assert isinstance(backend, LocalBackend)
        second = await client.execute_code("bash", "echo two")
        assert backend.isolation is not None
        assert not backend.isolation.from_cache
    assert second.isolation is not None
    assert second.success, second.error
    assert second.stdout == "two\n"
    assert second.isolation["level"] == LEVELS[1]  # the next best level ran it
    assert wrapped.starts("bwrap") > probes + 1  # the failed run, then the new probe

    # The fresh answer was stored: the process after that starts at the next level.
    forget_process_memos()
    third_probes = wrapped.starts("bwrap")
    async with AsyncClient(backend="local", environ=environ) as client:
        third = await client.execute_code("bash", "echo three")
    assert third.isolation is not None
    assert (third.stdout, third.isolation["level"]) == ("three\n", LEVELS[1])
    assert wrapped.starts("bwrap") == third_probes


@needs_bwrap
@pytest.mark.usefixtures("new_process")
async def test_a_sandbox_failure_with_fresh_answers_stands(wrapped: Wrapped) -> None:
    """Answers this very process probed are not probed again: the failure is the result,
    at the level that failed."""
    assert REAL_BWRAP is not None
    wrapped.add("bwrap", REAL_BWRAP)
    async with AsyncClient(backend="local", environ=wrapped.environ()) as client:
        await client.execute_code("bash", "true")
        backend = client.executor
        assert isinstance(backend, LocalBackend)
        assert backend.isolation is not None
        assert not backend.isolation.from_cache
        starts = wrapped.starts("bwrap")
        wrapped.fail_flag.touch()
        result = await client.execute_code("bash", "echo never")
    assert (result.status, result.reason) == ("failed", "sandbox")
    assert result.error is not None
    assert "bwrap: simulated failure" in result.error
    assert result.isolation is not None
    assert result.isolation["level"] == "bubblewrap"
    assert wrapped.starts("bwrap") == starts + 1  # the run itself, no probe


@pytest.mark.usefixtures("new_process")
async def test_the_cache_can_be_turned_off(tmp_path: Path) -> None:
    environ = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path)}
    directory = cache_directory(environ)
    assert directory is not None
    async with AsyncClient(
        backend="local", environ={**environ, "UN_ASYNC_LOCAL_PROBE_CACHE": "0"}
    ) as client:
        assert (await client.execute_code("bash", "echo off")).stdout == "off\n"
    assert not directory.exists()
    forget_process_memos()
    async with AsyncClient(backend="local", environ=environ) as client:
        assert (await client.execute_code("bash", "echo on")).stdout == "on\n"
    assert sorted(path.name for path in directory.iterdir()) == [
        "isolation.json",
        "toolchains.json",
    ]
