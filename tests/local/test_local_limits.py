"""Limits hold at every level: wall clock (the whole tree dies, partial output kept),
memory, process count, output size, file size; each reported with status and reason."""

from __future__ import annotations

import secrets

import pytest

from support import until
from support.local_backend import OUTPUT_LIMIT, PROCESS_LIMIT, live_processes
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
