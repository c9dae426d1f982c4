"""The entry points (``un-async``, ``python -m un_async``) and plugin commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.cli_process import ThreadedFake, base_env, run_cli_each, run_cli_many, run_in_process
from un_async._version import __version__

COMMANDS = {
    "run",
    "batch",
    "languages",
    "jobs",
    "snapshots",
    "sessions",
    "services",
    "images",
    "key",
    "doctor",
    "serve",
}

PLUGIN = '''
import click

from un_async.core.hookspecs import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("greet")
    @click.argument("name")
    def greet(name):
        """Say hello (from a plugin)."""
        click.echo(f"hello, {name}")
        return 0

    @cli.command("refuse")
    def refuse():
        """Fail with a status of its own."""
        from un_async.cli.errors import CliError

        raise CliError("the plugin says no\\nat length", 5)

    @cli.command("run")
    def hijack():
        """A plugin cannot replace a built-in command."""
        click.echo("hijacked")
'''


def install_plugin(site: Path) -> None:
    """A distribution on ``site`` whose ``un_async`` entry point is a commands plugin."""
    site.mkdir()
    (site / "greeting_plugin.py").write_text(PLUGIN)
    info = site / "greeting_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: greeting-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[un_async]\ngreeting = greeting_plugin\n")


def test_help_version_and_usage_errors(tmp_path: Path) -> None:
    helped, version, unknown, subhelp = run_cli_many(
        [["--help"], ["--version"], ["frobnicate"], ["jobs", "--help"]],
        env=base_env(),
        cwd=tmp_path,
    )
    assert helped.returncode == 0
    listed = {
        line.split()[0]
        for line in helped.stdout.decode().split("Commands:")[1].splitlines()
        if line.strip()
    }
    assert listed == COMMANDS
    assert version.stdout.decode().strip().endswith(__version__)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith(b"un-async: error: ")
    assert unknown.stderr.count(b"\n") == 1
    assert b"frobnicate" in unknown.stderr
    assert subhelp.returncode == 0
    assert {"list", "get", "wait", "cancel"} <= set(subhelp.stdout.decode().split())


def test_a_group_without_a_command_shows_its_help() -> None:
    for args in ([], ["jobs"]):
        shown = run_in_process(*args, env=base_env())
        assert shown.returncode == 2
        assert shown.stdout == b""
        assert shown.stderr.startswith(b"Usage: un-async")
        assert b"Commands:" in shown.stderr


def test_python_dash_m_runs_the_same_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "un_async", "--help"],
        capture_output=True,
        env=base_env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert b"Usage: un-async" in done.stdout


def test_a_plugin_adds_a_command(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_plugin(site)
    env = base_env(PYTHONPATH=str(site))
    helped, greeted, builtin, refused = run_cli_many(
        [["--help"], ["greet", "world"], ["run", "--help"], ["refuse"]], env=env, cwd=tmp_path
    )
    assert helped.returncode == 0
    assert b"greet" in helped.stdout
    assert b"Say hello (from a plugin)." in helped.stdout
    assert greeted.returncode == 0, greeted.stderr
    assert greeted.stdout == b"hello, world\n"
    assert builtin.returncode == 0
    assert b"hijacked" not in builtin.stdout
    assert b"--backend" in builtin.stdout
    assert refused.returncode == 5
    assert refused.stderr == b"un-async: error: the plugin says no at length\n"


def test_usage_errors_read_as_one_clean_line(tmp_path: Path) -> None:
    for args in (["run", "--nope"], ["run", "-l", "python", "-c", "1", "--network", "x"]):
        shown = run_in_process(*args, env=base_env())
        assert shown.returncode == 2
        assert shown.stderr.count(b"\n") == 1
        assert shown.stderr.startswith(b"un-async: error: ")
        assert b".;" not in shown.stderr
        assert shown.stderr.endswith(b"(see 'un-async run --help')\n")


def test_backend_account_and_debug_on_the_group(tmp_path: Path) -> None:
    from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY

    with ThreadedFake() as fake:
        (tmp_path / "accounts.csv").write_text(
            f"unsb-pk-aaaa-bbbb-cccc-dddd,unsb-sk-aaaaa-bbbbb-ccccc-ddddd\n"
            f"{TEST_PUBLIC_KEY},{TEST_SECRET_KEY}\n"
        )
        home = tmp_path / "home"
        home.mkdir()
        env = base_env(UNSANDBOX_API_URL=fake.url, HOME=str(home))
        code = ["-l", "python", "-c", "print('group options')"]
        cases = [
            ["--backend", "local", "key", "validate"],  # the group's backend reaches it
            ["--backend", "nonesuch", "run", "--backend", "local", *code],  # the command's wins
            ["--account", "1", "run", *code],  # the group's account: row 1 is valid
            ["--account", "1", "run", "--account", "0", *code],  # row 0 is not
            ["run", "--debug", "--backend", "nonesuch", *code],  # --debug after the command
        ]
        validated, local, row_1, row_0, debug = run_cli_each(
            [(args, env) for args in cases], cwd=tmp_path
        )
        group_debug = run_in_process("--debug", "run", "--backend", "nonesuch", *code, env=env)
    assert validated.returncode == 4
    assert validated.stderr == b"un-async: error: backend 'local' does not support keys.validate\n"
    assert local.returncode == 0, local.stderr
    assert local.stdout == b"group options\n"
    assert row_1.returncode == 0, row_1.stderr
    assert row_1.stdout == b"group options\n"
    assert row_0.returncode == 3
    for traced in (debug, group_debug):
        assert traced.returncode == 4
        assert traced.stderr.startswith(b"Traceback")
        assert traced.stderr.splitlines()[-1].startswith(b"un-async: error: unknown backend")
