"""The blocking facade works on the local backend (its own event loop, in a thread)."""

from __future__ import annotations

import os
from pathlib import Path

from support.local_backend import local_environ, options
from un_async import sync


def test_blocking_facade_on_the_local_backend(
    best_level: str, private_tmp: Path, secret_home: Path
) -> None:
    with sync.SyncClient(
        backend="local", backend_options=options(best_level), environ=local_environ(secret_home)
    ) as client:
        result = client.execute_code("python", "print(6 * 7)")
        job_id = client.execute_async("bash", "echo async")
        assert client.wait_for_job(job_id).stdout == "async\n"
    assert result.stdout == "42\n"
    assert os.listdir(private_tmp) == []
