"""``un-async batch``: many programs, JSON lines or a table, a progress bar only on a TTY."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from support.cli_process import UN_ASYNC, fake_env, run_cli
from un_async.testing import FakeUnsandbox

REQUIRED_KEYS = {"file", "status", "exit_code", "stdout", "stderr"}


def write_programs(folder: Path, tag: str, count: int = 20, failing: int = 13) -> list[str]:
    """``count`` Python files printing their number; number ``failing`` exits 3."""
    folder.mkdir()
    names = []
    for index in range(count):
        body = "import sys; sys.exit(3)" if index == failing else f'print("{tag} {index}")'
        path = folder / f"p{index:02d}.py"
        path.write_text(body + "\n")
        names.append(str(path.relative_to(folder.parent)))
    return names


def test_json_lines_for_20_files_with_one_failing(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    files = write_programs(tmp_path / "progs", "json")
    run = run_cli(
        "batch", "--json", "--concurrency", "6", *files, env=fake_env(cli_fake), cwd=tmp_path
    )
    assert run.returncode == 1
    lines = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert len(lines) == 20
    assert all(set(line) >= REQUIRED_KEYS for line in lines)
    by_file = {line["file"]: line for line in lines}
    assert set(by_file) == set(files)
    assert by_file["progs/p13.py"]["exit_code"] == 3
    for index, name in enumerate(files):
        if index != 13:
            assert by_file[name]["exit_code"] == 0
            assert by_file[name]["stdout"] == f"json {index}\n"
    assert b"1 of 20 programs failed" in run.stderr
    assert b"\r" not in run.stderr  # not a terminal: no progress display


def test_summary_table_and_success(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    files = write_programs(tmp_path / "progs", "table", count=3, failing=-1)
    run = run_cli("batch", *files, env=fake_env(cli_fake), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    table = run.stdout.decode().splitlines()
    assert table[0].split() == ["FILE", "STATUS", "EXIT", "MS", "OUTPUT"]
    assert [row.split()[0] for row in table[1:]] == files
    assert all(row.split()[1:3] == ["completed", "0"] for row in table[1:])
    assert "table 2" in table[3]
    assert run.stderr == b""


def run_on_terminal(
    args: Sequence[str], env: dict[str, str], cwd: Path
) -> tuple[int, bytes, bytes]:
    """Run ``args`` with stderr on a pseudo-terminal; returns the status, what the
    terminal showed and stdout (a pipe)."""
    main, secondary = pty.openpty()
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO once the last writer has closed the terminal
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        process = subprocess.run(
            list(args),
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    finally:
        os.close(secondary)
    reader.join(timeout=10)
    os.close(main)
    return process.returncode, bytes(shown), process.stdout


@pytest.mark.parametrize("renderer", ["rich", "plain"])
def test_progress_bar_only_on_a_terminal(
    cli_fake: FakeUnsandbox, tmp_path: Path, renderer: str
) -> None:
    files = write_programs(tmp_path / "progs", f"tty-{renderer}")
    env = fake_env(cli_fake, TERM="xterm-256color", COLUMNS="120")
    if renderer == "rich":
        command = [str(UN_ASYNC)]
    else:  # the CLI without the optional rich package
        hide_rich = "import sys; sys.modules['rich'] = None; from un_async.cli.app import main; "
        command = [sys.executable, "-c", hide_rich + "sys.exit(main())"]
    status, shown, stdout = run_on_terminal([*command, "batch", "--json", *files], env, tmp_path)
    assert status == 1
    assert len(stdout.splitlines()) == 20  # the JSON lines still reach stdout
    text = shown.decode("utf-8", "replace")
    assert "20/20" in text
    assert "1 failed" in text
    if renderer == "rich":
        assert "\x1b[" in text  # drawn in place with terminal control sequences
    else:
        assert "\r[" in text
        assert "#" * 24 in text
        assert "\x1b[" not in text


def test_ctrl_c_cancels_the_rest_and_reports_what_finished(
    cli_fake: FakeUnsandbox, tmp_path: Path
) -> None:
    slow = "import time; time.sleep(600)  # batch interrupted"
    cli_fake.script("python", slow, duration=600)
    folder = tmp_path / "progs"
    folder.mkdir()
    (folder / "fast1.py").write_text('print("fast one")\n')
    (folder / "fast2.py").write_text('print("fast two")\n')
    (folder / "slow.py").write_text(slow)
    process = subprocess.Popen(
        [str(UN_ASYNC), "batch", "--json", "progs/fast1.py", "progs/slow.py", "progs/fast2.py"],
        env=fake_env(cli_fake),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        finished = [json.loads(process.stdout.readline()) for _ in range(2)]
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert sorted(line["stdout"] for line in finished) == ["fast one\n", "fast two\n"]
    assert rest == b""
    assert b"2 of 3 finished" in stderr
    slow_jobs = [job for job in cli_fake.jobs.values() if job.code == slow]
    assert len(slow_jobs) == 1
    assert slow_jobs[0].cancelled_at is not None
