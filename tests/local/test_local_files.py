"""Input files land in the work directory; artifacts are the files the program created
or changed there (recursive, relative paths), in the service's form; bad names are
refused before anything runs and no workspace is ever left behind."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from support.local_backend import local_environ, options
from un_async import AsyncClient, ValidationError

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROGRAM = """\
import os
with open('data/input.txt') as f:
    text = f.read()
with open('result.txt', 'w') as f:
    f.write(text.upper())
os.makedirs('out/deep', exist_ok=True)
with open('out/deep/blob.bin', 'wb') as f:
    f.write(bytes(range(256)))
with open('changed.txt', 'a') as f:
    f.write(' and more')
os.symlink('/etc/hostname', 'link-to-host-file')
print(sorted(os.listdir('.')))
"""


async def test_input_files_and_artifacts_round_trip(local: AsyncClient) -> None:
    result = await local.execute_code(
        "python",
        PROGRAM,
        input_files={
            "data/input.txt": "hello files",
            "changed.txt": b"original",
            "untouched.bin": b"\x00\x01",
        },
        return_artifact=True,
    )
    assert result.status == "completed", result.stderr
    assert "'data'" in result.stdout
    assert "'untouched.bin'" in result.stdout
    files = {artifact.filename: artifact.content for artifact in result.artifacts}
    assert files == {
        "changed.txt": b"original and more",
        "out/deep/blob.bin": bytes(range(256)),
        "result.txt": b"HELLO FILES",
    }
    listed = {item["filename"]: item["content_base64"] for item in result["artifacts"]}
    assert base64.b64decode(listed["result.txt"]) == b"HELLO FILES"


async def test_no_artifacts_unless_asked(best: AsyncClient) -> None:
    result = await best.execute_code("bash", "echo made > made.txt")
    assert result.status == "completed"
    assert result.artifacts == ()
    assert "artifacts" not in result


@pytest.mark.parametrize(
    "name", ["../escape.txt", "/etc/passwd", "a/../../b", "dir//file", "./x", "dir/"]
)
async def test_bad_input_file_names_are_refused_before_running(
    best: AsyncClient, private_tmp: Path, name: str
) -> None:
    with pytest.raises(ValidationError, match="invalid input file name"):
        await best.execute_code("bash", "echo ran", input_files={name: b"x"})
    assert os.listdir(private_tmp) == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a": b"file", "a/b": b"inside it"}, "also needed as a directory"),
        ({"x/a/b/c": b"deep", "x/a": b"file"}, "also needed as a directory"),
        ({"n" * 256: b"x"}, "at most 255 bytes"),
        ({"dir/" + "é" * 128: b"x"}, "at most 255 bytes"),
        ({"/".join(["d" * 200] * 16): b"x"}, "the whole name"),
        ([("same.txt", b"1"), ("same.txt", b"2")], "twice"),
    ],
)
async def test_input_files_that_cannot_be_created_are_refused_before_running(
    best: AsyncClient, private_tmp: Path, files: Any, message: str
) -> None:
    """Refused up front, naming the file — not a sandbox failure quoting host paths."""
    with pytest.raises(ValidationError, match=message) as caught:
        await best.execute_code("bash", "echo ran", input_files=files)
    assert str(private_tmp) not in str(caught.value)
    assert os.listdir(private_tmp) == []


async def test_names_that_only_share_a_prefix_are_fine(best: AsyncClient) -> None:
    files = {"a": b"1", "ab/c": b"2", "n" * 255: b"3", "x/y": b"4", "x/z": b"5"}
    code = f"cat a ab/c {'n' * 255} x/y x/z"
    result = await best.execute_code("bash", code, input_files=files)
    assert (result.status, result.stdout) == ("completed", "12345"), result.stderr


async def test_input_file_with_the_source_name_is_renamed_around(best: AsyncClient) -> None:
    result = await best.execute_code(
        "python", "print(open('main.py').read())", input_files={"main.py": "data, not code"}
    )
    assert result.stdout == "data, not code\n"


async def test_workspace_is_removed_after_each_result(best: AsyncClient, private_tmp: Path) -> None:
    result = await best.execute_code(
        "bash", "mkdir -p a/b && chmod 000 a/b a && echo done", return_artifact=True
    )
    assert result.stdout == "done\n"
    assert os.listdir(private_tmp) == []


async def test_artifacts_over_the_cap_are_listed_not_returned(
    best_level: str, private_tmp: Path, secret_home: Path
) -> None:
    async with AsyncClient(
        backend="local",
        backend_options=options(best_level, artifact_limit_mb=1),
        environ=local_environ(secret_home),
    ) as client:
        result = await client.execute_code(
            "bash",
            "head -c 700000 /dev/zero > a.bin; head -c 700000 /dev/zero > b.bin; echo hi > c.txt",
            return_artifact=True,
        )
    returned = {artifact.filename: len(artifact.content) for artifact in result.artifacts}
    assert len(returned) == 2
    assert returned["c.txt"] == 3
    assert len(result["artifacts_omitted"]) == 1
    assert set(result["artifacts_omitted"]) | set(returned) == {"a.bin", "b.bin", "c.txt"}
