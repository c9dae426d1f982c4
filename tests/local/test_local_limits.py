"""Limits hold at every level: wall clock (the whole tree dies, partial output kept),
memory, process count, output size, file size; each reported with status and reason."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from support import until
from support.local_backend import (
    OUTPUT_LIMIT,
    PROCESS_LIMIT,
    live_processes,
    local_environ,
    options,
)
from un_async import AsyncClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_time_limit_kills_the_whole_tree_and_keeps_output(
    local: AsyncClient, level: str
) -> None:
    token = f"1000.{secrets.randbelow(10**9)}"
    code = f"sleep {token} &\nsetsid sleep {token} &\necho started\nwhile :; do :; done\n"
    result = await local.execute_code("bash", code, ttl=1)
    assert result.status == "timeout"
    assert result.reason == "time"
    assert result.exit_code == 137
    assert result.stdout == "started\n"
    assert 1000 <= result.duration_ms < 10_000
    await until(lambda: live_processes(token) == [])


async def test_memory_limit(local: AsyncClient) -> None:
    code = "block = bytearray(1024 * 1024 * 1024)\nprint('allocated', len(block))"
    result = await local.execute_code("python", code)
    assert result.status == "failed"
    assert result.reason == "memory"
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr
    assert "allocated" not in result.stdout


async def test_memory_limit_for_a_native_program(best: AsyncClient) -> None:
    code = (
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "int main(void) {\n"
        "    size_t size = (size_t)1 << 30;\n"
        "    char *block = malloc(size);\n"
        '    if (block == NULL) { puts("refused"); return 3; }\n'
        "    memset(block, 1, size);\n"
        '    puts("allocated");\n'
        "    return 0;\n"
        "}\n"
    )
    result = await best.execute_code("c", code)
    assert (result.status, result.exit_code, result.stdout) == ("failed", 3, "refused\n")


async def test_fork_bomb_is_contained(local: AsyncClient) -> None:
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while children < 100000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "except OSError as exc:\n"
        "    print('stopped after', children, exc.errno)\n"
    )
    result = await local.execute_code("python", code, ttl=20)
    assert result.status == "completed", result.stderr
    words = result.stdout.split()
    assert words[:2] == ["stopped", "after"]
    assert words[3] == "11"  # EAGAIN
    assert 0 < int(words[2]) < PROCESS_LIMIT


async def test_output_flood_is_truncated_head_and_tail(local: AsyncClient) -> None:
    code = (
        "import sys\n"
        "for i in range(200000):\n"
        "    sys.stdout.write(f'line {i}\\n')\n"
        "print('the end')\n"
        "sys.stderr.write('short error\\n')\n"
    )
    result = await local.execute_code("python", code)
    assert result.status == "completed"
    assert result.truncated is True
    assert result["truncated"] is True
    assert result.stdout.startswith("line 0\nline 1\n")
    assert result.stdout.endswith("line 199999\nthe end\n")
    assert "bytes omitted" in result.stdout
    assert len(result.stdout.encode()) < OUTPUT_LIMIT + 200
    assert result.stderr == "short error\n"


async def test_small_output_is_not_truncated(best: AsyncClient) -> None:
    result = await best.execute_code("bash", "printf 'x%.0s' $(seq 1000)")
    assert result.stdout == "x" * 1000
    assert result.truncated is False


async def test_signal_gives_128_plus_n(best: AsyncClient) -> None:
    result = await best.execute_code("python", "import os, signal\nos.kill(os.getpid(), 15)")
    assert (result.status, result.reason, result.exit_code) == ("failed", "signal", 143)


async def test_nonzero_exit(best: AsyncClient) -> None:
    result = await best.execute_code("bash", "echo out; echo err >&2; exit 3")
    assert (result.status, result.reason, result.exit_code) == ("failed", "exit", 3)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert result.success is False


async def test_file_size_limit(level: str, fresh_small_files: AsyncClient) -> None:
    python = await fresh_small_files.execute_code(
        "python", "open('big', 'wb').write(b'x' * (3 * 1024 * 1024))"
    )
    assert (python.status, python.reason) == ("failed", "file_size")
    assert "File too large" in python.stderr
    native = await fresh_small_files.execute_code("bash", "exec head -c 3000000 /dev/zero > big")
    assert (native.status, native.reason, native.exit_code) == ("failed", "file_size", 153)


DISK_LIMIT_MB = 24
FILL_DISK = """\
import os, time
folders = [os.environ['TMPDIR'], '.'] + [p for p in ('/tmp', '/var/tmp', '/dev/shm')
                                         if os.access(p, os.W_OK) and WRITE_SHARED]
for number in range(12):
    folder = folders[number % len(folders)]
    with open(os.path.join(folder, f'fill-{os.getpid()}-{number}'), 'wb') as handle:
        handle.write(b'x' * (4 * 1024 * 1024))
print('written', flush=True)
time.sleep(60)
"""


async def test_disk_limit_counts_the_work_directory_and_tmp_together(
    level: str, private_tmp: Path, secret_home: Path
) -> None:
    """12 files of 4 MiB, each under the per-file limit, spread over the work directory
    and the temporary directories: 48 MiB in all passes a 24 MiB disk limit, and the
    program is killed for it (while writing, or in its 60 s sleep — not at its end)."""
    sandboxed = level in ("bubblewrap", "namespaces")
    async with AsyncClient(
        backend="local",
        backend_options=options(level, disk_limit_mb=DISK_LIMIT_MB),
        environ=local_environ(secret_home),
    ) as client:
        code = FILL_DISK.replace("WRITE_SHARED", str(sandboxed))
        result = await client.execute_code("python", code, ttl=30)
        assert (result.status, result.reason, result.exit_code) == ("failed", "file_size", 137)
        assert result.stdout in ("", "written\n")  # killed while writing, or after
        assert "disk limit" in (result.error or "")
        assert (result.duration_ms or 0) < 15_000
        small = await client.execute_code("bash", "head -c 1000000 /dev/zero > small; echo ok")
        assert (small.status, small.stdout) == ("completed", "ok\n")
    assert os.listdir(private_tmp) == []
