"""What starting up costs: ``import un_async`` loads its names on first access, plugins
load :mod:`importlib.metadata` only when an installed distribution declares ``un_async``
entry points, and ``un-async run --backend local`` imports only what it uses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import un_async
from support.cli_process import base_env, imported_modules, run_cli
from un_async.core import errors
from un_async.core.entry_points import may_declare
from un_async.core.plugin_host import PluginHost


def run_python(code: str, *, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=base_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_public_name_resolves_to_its_defining_module() -> None:
    lazy = {name for names in un_async._EXPORTS.values() for name in names}
    public = set(un_async.__all__) - {"__version__"}
    assert lazy <= public
    assert public - lazy <= errors.SERVICE_ERROR_NAMES  # loaded through core.errors
    assert not lazy & errors.SERVICE_ERROR_NAMES
    for module_name, names in un_async._EXPORTS.items():
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        for name in names:
            assert getattr(un_async, name) is getattr(module, name), name
    assert set(un_async.__all__) <= set(dir(un_async))
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = un_async.missing  # type: ignore[attr-defined]


def test_import_un_async_loads_names_on_first_access() -> None:
    output = run_python(
        """
        import sys
        import un_async
        print(sorted(name for name in sys.modules if name.startswith("un_async")))
        from un_async import AsyncClient, ValidationError
        print("un_async.core.client" in sys.modules, "aiohttp" in sys.modules)
        print(un_async.api.__name__, un_async.core.__name__, un_async.reference_api.__name__)
        from un_async import APIError
        print(APIError.__module__, "aiohttp" in sys.modules)
        """
    )
    first, client, submodules, service = output.splitlines()
    assert first == "['un_async', 'un_async._version']"
    assert client == "True False"
    assert submodules == "un_async.api un_async.core un_async.reference_api"
    assert service == "un_async.core.service_errors True"


def make_distribution(folder: Path, name: str, entry_points: str) -> None:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_may_declare_finds_only_a_real_section(tmp_path: Path) -> None:
    make_distribution(tmp_path, "other", "[console_scripts]\nun_async = x:y\n")
    make_distribution(tmp_path, "tool", "[pytest11]\nun_async = un_async_pytest\n")
    assert not may_declare("un_async", [str(tmp_path), str(tmp_path / "missing")])
    make_distribution(tmp_path, "plugin", "[un_async]\nthing = plugin_module\n")
    assert may_declare("un_async", [str(tmp_path)])


def test_may_declare_leaves_archives_and_eggs_to_importlib(tmp_path: Path) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("readme.txt", "nothing")
    assert may_declare("un_async", [str(archive)])
    egg = tmp_path / "old.egg"
    egg.mkdir()
    assert may_declare("un_async", [str(egg)])


def test_an_installed_plugin_is_still_loaded(tmp_path: Path) -> None:
    """A distribution declaring an ``un_async`` entry point is found and registered (the
    quick look says "maybe", pluggy loads it)."""
    (tmp_path / "zzz_plugin.py").write_text(
        "from un_async.core.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def detect_language(filename, source):\n"
        "    return 'python' if filename.endswith('.zzz') else None\n"
    )
    make_distribution(tmp_path, "zzz_plugin", "[un_async]\nzzz = zzz_plugin\n")
    output = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from un_async.core.plugin_host import PluginHost
        host = PluginHost()
        print(host.detect_language("a.zzz"), host.manager.has_plugin("zzz"))
        """
    )
    assert output.split() == ["python", "True"]


def test_without_plugins_importlib_metadata_is_not_imported() -> None:
    output = run_python(
        """
        import sys
        from un_async.core.plugin_host import PluginHost
        PluginHost()
        print("importlib.metadata" in sys.modules)
        """
    )
    assert output.strip() == ("True" if may_declare("un_async") else "False")
    assert PluginHost().detect_language("x.py") == "python"


NOT_ON_THE_LOCAL_RUN_PATH = (
    "aiohttp",
    "rich",
    "un_async.api",
    "un_async.reference_api",
    "un_async.resources",
    "un_async.core.shared_polling",
    "un_async.core.service_errors",
    "un_async.cli.resources",
    "un_async.cli.batch",
    "un_async.cli.doctor",
    "un_async.cli.serve",
    "un_async.backends.unsandbox",
    "un_async.backends.replay",
    "cattrs",
    "email.utils",
)


def test_run_on_the_local_backend_imports_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("print('hello')\n")
    ran = run_cli(
        "run",
        "--backend",
        "local",
        "hello.py",
        env=base_env(PYTHONPROFILEIMPORTTIME="1"),
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == b"hello\n"
    modules = imported_modules(ran.stderr)
    assert "un_async.backends.local.backend" in modules
    unwanted = sorted(
        name
        for name in modules
        if any(name == bad or name.startswith(f"{bad}.") for bad in NOT_ON_THE_LOCAL_RUN_PATH)
    )
    assert unwanted == []
    if not may_declare("un_async"):
        assert "importlib.metadata" not in modules


def test_the_program_freezes_its_objects_at_exit_but_a_call_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import atexit
    import gc

    from un_async.cli import app

    registered: list[object] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(sys, "argv", ["un-async", "--version"])
    assert app.main(["--version"]) == 0
    assert registered == []
    assert app.main() == 0  # as the console script calls it
    assert registered == [gc.freeze]
