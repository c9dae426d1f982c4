"""``run -a``/``-o DIR``: artifacts keep their relative paths, never escape the output
directory, and never replace a file without ``--force`` (all or nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli_process import Run, fake_env, run_cli, run_in_process
from un_async.testing import FakeUnsandbox

ERROR_PREFIX = b"un-async: error: "


def files_under(top: Path) -> dict[str, bytes]:
    """Every regular file below ``top`` (symbolic links not followed) and its bytes."""
    return {
        str(path.relative_to(top)): path.read_bytes()
        for path in sorted(top.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def refused(run: Run) -> str:
    """Exit status 4 and one error line; the line's text."""
    assert run.returncode == 4, run.stderr
    assert run.stderr.count(b"\n") == 1, run.stderr
    line = run.stderr.split(b"\n")[0]
    assert line.startswith(ERROR_PREFIX), run.stderr
    return line[len(ERROR_PREFIX) :].decode()


def test_relative_paths_kept_and_existing_files_kept(
    cli_fake: FakeUnsandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "make_three_files()  # artifacts layout test"
    made = {"a/x.txt": b"from a", "b/x.txt": b"from b", "x.txt": b"top level"}
    cli_fake.script("python", code, stdout="made\n", artifacts=made)
    (tmp_path / "x.txt").write_bytes(b"the user's own")
    env = fake_env(cli_fake)
    args = ["run", "-l", "python", "-c", code]

    kept = run_cli(*args, "-a", env=env, cwd=tmp_path)
    assert kept.stdout == b"made\n"  # the program's output still comes through
    message = refused(kept)
    assert "x.txt already exists (--force overwrites)" in message
    assert "nothing was written" in message
    assert files_under(tmp_path) == {"x.txt": b"the user's own"}  # no a/, b/ or part files

    into = run_cli(*args, "-o", "out", env=env, cwd=tmp_path)
    assert into.returncode == 0, into.stderr
    assert files_under(tmp_path / "out") == made
    assert into.stderr.decode().splitlines() == [
        "un-async: wrote out/a/x.txt",
        "un-async: wrote out/b/x.txt",
        "un-async: wrote out/x.txt",
    ]

    monkeypatch.chdir(tmp_path)
    forced = run_in_process(*args, "-a", "--force", "-q", env=env)
    assert forced.returncode == 0, forced.stderr
    assert forced.stderr == b""
    assert {name: files_under(tmp_path)[name] for name in made} == made


def test_paths_that_escape_or_clash_are_refused(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "linked").symlink_to(outside, target_is_directory=True)
    (out / "pointer").symlink_to(outside / "target.txt")
    cases = {
        "climbs": ({"ok.txt": b"fine", "../evil.txt": b"x"}, "leaves the output directory"),
        "climbs later": ({"a/../../evil.txt": b"x"}, "leaves the output directory"),
        "absolute": ({"/tmp/evil.txt": b"x"}, "absolute"),
        "through a link": ({"linked/evil.txt": b"x"}, "linked is a symbolic link"),
        "onto a link": ({"pointer": b"x"}, "pointer is a symbolic link"),
        "twice": ({"a/x": b"1", "a/./x": b"2"}, "two artifacts are named 'a/x'"),
        "file and folder": ({"d": b"1", "d/e": b"2"}, "'d' is also a directory of 'd/e'"),
    }
    env = fake_env(cli_fake)
    for name, (artifacts, expected) in cases.items():
        code = f"escape_attempt()  # {name}"
        cli_fake.script("python", code, artifacts=artifacts)
        for extra in ([], ["--force"]):
            run = run_in_process("run", "-o", str(out), *extra, "-l", "python", "-c", code, env=env)
            assert expected in refused(run), name
    assert files_under(tmp_path) == {}
    assert sorted(path.name for path in out.iterdir()) == ["linked", "pointer"]

    code = "escape_attempt()  # json"
    cli_fake.script("python", code, stdout="out\n", artifacts={"../evil.txt": b"x"})
    as_json = run_in_process("run", "--json", "-o", str(out), "-l", "python", "-c", code, env=env)
    assert as_json.returncode == 4
    assert as_json.stdout.count(b"\n") == 1
    reply = json.loads(as_json.stdout)
    assert reply["error"]["type"] == "ArtifactError"
    assert reply["error"]["exit_status"] == 4
    assert reply["result"]["stdout"] == "out\n"
    assert files_under(tmp_path) == {}
