"""Ctrl-C (SIGINT) during ``un-async run``: the job is cancelled on the server, exit 130."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from support.cli_process import UN_ASYNC, fake_env, wait_for
from un_async.testing import FakeUnsandbox


def test_sigint_cancels_the_job_and_exits_130(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    code = "import time; time.sleep(600)  # interrupted"
    cli_fake.script("python", code, duration=600)
    process = subprocess.Popen(
        [str(UN_ASYNC), "run", "-l", "python", "-c", code],
        env=fake_env(cli_fake),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:

        def job_id() -> str | None:
            found = [job.job_id for job in cli_fake.jobs.values() if job.code == code]
            return found[0] if found else None

        # Interrupt once the CLI is waiting on the job: it has asked for its state.
        wait_for(
            lambda: (
                job_id() is not None
                and any(r.method == "GET" and r.path.startswith("/jobs") for r in cli_fake.requests)
            )
        )
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert stdout == b""
    assert stderr.count(b"\n") == 1
    assert b"interrupted" in stderr
    assert b"Traceback" not in stderr
    assert cli_fake.count_requests("DELETE", f"/jobs/{job_id()}") == 1
    assert cli_fake.job_status(str(job_id())) == "cancelled"
