"""``python -m un_async.testing`` says which key pair it accepts (output and ``--help``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from support.cli_process import base_env, read_stdout_lines, stop_process
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY


def test_the_fake_prints_its_url_then_export_lines(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "un_async.testing", "--port", "0"],
        env=base_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url, *exports = read_stdout_lines(process, 4)
    finally:
        returncode, _ = stop_process(process, signal.SIGTERM)
    assert url.startswith("http://127.0.0.1:")
    assert exports == [
        f"export UNSANDBOX_API_URL={url}",
        f"export UNSANDBOX_PUBLIC_KEY={TEST_PUBLIC_KEY}",
        f"export UNSANDBOX_SECRET_KEY={TEST_SECRET_KEY}",
    ]
    assert returncode == 0


def test_help_names_the_test_key_pair(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "un_async.testing", "--help"],
        capture_output=True,
        env=base_env(),
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert f"export UNSANDBOX_PUBLIC_KEY={TEST_PUBLIC_KEY}".encode() in done.stdout
    assert f"export UNSANDBOX_SECRET_KEY={TEST_SECRET_KEY}".encode() in done.stdout
