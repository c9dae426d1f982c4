"""Record modes and replay latency: parsing, and what each mode replays and records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from un_async import ConfigurationError
from un_async.backends.replay import (
    Cassette,
    CassetteFormatError,
    CassetteMissError,
    CassetteNotFoundError,
    CassetteSession,
    Interaction,
    Latency,
    RecordMode,
    save_cassette,
)


def interaction(code: str) -> Interaction:
    return Interaction(
        request={"operation": "get_job", "job_id": code},
        response={"value": {"job_id": code, "status": "completed"}},
        timing={"elapsed": 0.5},
    )


def codes(path: Path) -> list[str]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return [item["request"]["job_id"] for item in document["interactions"]]


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "existing.json"
    save_cassette(Cassette(level="execution", interactions=[interaction("old")]), path)
    return path


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        (None, RecordMode.NONE),
        ("", RecordMode.NONE),
        ("once", RecordMode.ONCE),
        ("New-Episodes", RecordMode.NEW_EPISODES),
        (" all ", RecordMode.ALL),
    ],
)
def test_record_modes_parse_by_name(text: str | None, mode: RecordMode) -> None:
    assert RecordMode.parse(text) is mode


def test_a_misspelled_record_mode_is_an_error_listing_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"'onec'.*none, once, new_episodes, all"):
        RecordMode.parse("onec")


@pytest.mark.parametrize(
    ("text", "factor"),
    [("none", 0.0), (None, 0.0), ("recorded", 1.0), ("scaled:0.5", 0.5), ("scaled:3", 3.0)],
)
def test_latency_modes(text: str | None, factor: float) -> None:
    latency = Latency.parse(text)
    assert latency.factor == factor
    assert latency.delay(2.0) == 2.0 * factor
    assert Latency.parse(str(latency)) == latency


@pytest.mark.parametrize("text", ["fast", "scaled:", "scaled:-1", "scaled:nan", "scaled:inf"])
def test_bad_latency_is_an_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="latency"):
        Latency.parse(text)


def test_none_requires_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(CassetteNotFoundError, match=r"does not exist.*'once'"):
        CassetteSession(level="execution", mode="none", path=tmp_path / "missing.json")


def test_none_replays_and_never_records(existing: Path) -> None:
    session = CassetteSession(level="execution", mode="none", path=existing)
    assert (session.replaying, session.recording) == (True, False)
    assert session.take({"operation": "get_job", "job_id": "old"}) is not None
    assert session.take({"operation": "get_job", "job_id": "new"}) is None
    with pytest.raises(CassetteMissError, match="'new_episodes'"):
        raise session.miss({"operation": "get_job", "job_id": "new"})
    assert session.save() is False


def test_once_records_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    session = CassetteSession(level="execution", mode="once", path=path)
    assert (session.replaying, session.recording) == (False, True)
    session.add(interaction("first"))
    assert session.save() is True
    assert codes(path) == ["first"]


def test_once_with_an_existing_file_only_replays(existing: Path) -> None:
    session = CassetteSession(level="execution", mode="once", path=existing)
    assert (session.replaying, session.recording) == (True, False)
    assert session.save() is False
    assert codes(existing) == ["old"]


def test_new_episodes_replays_and_appends(existing: Path) -> None:
    session = CassetteSession(level="execution", mode="new_episodes", path=existing)
    assert (session.replaying, session.recording) == (True, True)
    assert session.take({"operation": "get_job", "job_id": "old"}) is not None
    session.add(interaction("new"))
    session.save()
    assert codes(existing) == ["old", "new"]


def test_all_ignores_and_replaces_the_file(existing: Path) -> None:
    session = CassetteSession(level="execution", mode="all", path=existing)
    assert (session.replaying, session.recording) == (False, True)
    assert session.take({"operation": "get_job", "job_id": "old"}) is None
    session.add(interaction("fresh"))
    session.save()
    assert codes(existing) == ["fresh"]


def test_a_discarded_session_writes_nothing(existing: Path, tmp_path: Path) -> None:
    for mode, path in (("all", existing), ("once", tmp_path / "never.json")):
        session = CassetteSession(level="execution", mode=mode, path=path)
        session.add(interaction("partial"))
        session.discard()
        assert session.save() is False
    assert codes(existing) == ["old"]
    assert not (tmp_path / "never.json").exists()


def test_a_cassette_of_the_other_level_is_refused(existing: Path) -> None:
    with pytest.raises(CassetteFormatError, match="execution-level interactions, not http"):
        CassetteSession(level="http", mode="none", path=existing)
