"""The cassette file: versioned, diffable JSON, written atomically, loaded strictly."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from support.replay import replayer
from un_async.backends.replay import (
    FORMAT,
    VERSION,
    Cassette,
    CassetteFormatError,
    Interaction,
    load_cassette,
    save_cassette,
)
from un_async.backends.replay.matching import decode_body, encode_body, submit_request
from un_async.core.models import ExecutionRequest


def http_interaction(body: bytes, content_type: str) -> Interaction:
    return Interaction(
        request={"method": "GET", "path": "/x", "query": [], "headers": {}},
        response={
            "status": 200,
            "headers": {"Content-Type": content_type},
            "body": encode_body(body, content_type),
        },
        timing={"elapsed": 0.25},
    )


def test_a_saved_cassette_is_versioned_sorted_and_loads_back(tmp_path: Path) -> None:
    cassette = Cassette(level="http", interactions=[http_interaction(b'{"b":1,"a":2}', "x")])
    path = tmp_path / "deep" / "dir" / "c.json"

    save_cassette(cassette, path)

    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert (document["format"], document["version"], document["level"]) == (FORMAT, VERSION, "http")
    assert document["recorded_at"].endswith("Z")
    assert document["recorded_with"].startswith("un-async ")
    assert text == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    loaded = load_cassette(path)
    assert loaded.level == "http"
    assert [i.to_json() for i in loaded.interactions] == [
        i.to_json() for i in cassette.interactions
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "stored"),
    [
        (b'{"stdout": "hi\\n"}', "application/json", {"json": {"stdout": "hi\n"}}),
        (b"[1, 2]", "text/plain", {"json": [1, 2]}),
        (b"plain words\n", "text/plain", {"text": "plain words\n"}),
        (b"{not json", "application/json", {"text": "{not json"}),
        (b"\xff\x00\xfe", "application/octet-stream", {"base64": "/wD+"}),
        (b"", "application/json", None),
    ],
)
def test_bodies_are_stored_as_json_text_or_base64(
    body: bytes, content_type: str, stored: object
) -> None:
    assert encode_body(body, content_type) == stored
    roundtrip = decode_body(encode_body(body, content_type))
    if stored is not None and "json" in stored:  # type: ignore[operator]
        assert json.loads(roundtrip) == json.loads(body)
    else:
        assert roundtrip == body


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{truncated", "not valid JSON (line 1"),
        ('{"some": "json"}', "not an un-async cassette"),
        ('{"format": "un-async-cassette", "version": 99}', "version 99"),
        ('{"format": "un-async-cassette", "version": "1"}', "version '1'"),
        ('{"format": "un-async-cassette", "version": 1, "level": "tcp"}', "unknown level"),
        (
            '{"format": "un-async-cassette", "version": 1, "level": "http", "interactions": {}}',
            "'interactions' is not a list",
        ),
        (
            '{"format": "un-async-cassette", "version": 1, "level": "http",'
            ' "interactions": [{"request": {}}]}',
            "interaction #0 has no 'response' object",
        ),
    ],
)
def test_corrupt_or_unknown_files_raise_a_clear_typed_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CassetteFormatError, match=r"bad\.json") as caught:
        load_cassette(path)
    assert message in str(caught.value)


def test_non_utf8_bytes_are_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CassetteFormatError, match="not UTF-8"):
        load_cassette(path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cassettes"
    path = folder / "c.json"
    save_cassette(Cassette(level="http"), path)
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_cassette(Cassette(level="http", interactions=[http_interaction(b"x", "t")]), path)

    assert path.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["c.json"]


def test_an_unserialisable_value_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "cassettes"
    folder.mkdir()
    broken = http_interaction(b"x", "t")
    broken.response["body"] = {"json": object()}

    with pytest.raises(TypeError):
        save_cassette(Cassette(level="http", interactions=[broken]), folder / "c.json")

    assert list(folder.iterdir()) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_new_cassette_is_0644_and_a_replaced_one_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "c.json"
    previous = os.umask(0o077)  # the mode is set exactly, whatever the umask
    try:
        save_cassette(Cassette(level="http"), path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644

    path.chmod(0o600)
    save_cassette(Cassette(level="http", interactions=[http_interaction(b"x", "t")]), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_cassette(path).interactions) == 1
    assert [p.name for p in path.parent.iterdir()] == ["c.json"]


async def test_a_version_1_cassette_still_replays(tmp_path: Path) -> None:
    request = submit_request(ExecutionRequest(language="python", code="print(1)"), wait=True)
    stored = {"job_id": "j-1", "status": "completed", "stdout": "1\n", "exit_code": 0}
    document = {
        "format": FORMAT,
        "version": 1,
        "level": "execution",
        "interactions": [
            {"request": request, "response": {"value": stored}, "timing": {"elapsed": 0.1}}
        ],
    }
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert load_cassette(path).backend is None

    async with replayer(path) as client:
        result = await client.execute_code("python", "print(1)")
    assert (result.stdout, result.exit_code, result.job_id) == ("1\n", 0, "j-1")
    assert (result.reason, result.truncated, result.isolation) == (None, False, None)
    assert client.executor.native_wait is False
