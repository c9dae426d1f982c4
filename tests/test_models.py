"""Models: replies are dicts with typed attributes, requests validate before anything is sent."""

from __future__ import annotations

import base64
import copy
import json
import pickle
from typing import Any

import attrs
import pytest

from un_async import (
    Artifact,
    Credentials,
    ExecutionRequest,
    ExecutionResult,
    InputFile,
    JobInfo,
    JobStatus,
    Record,
    Snapshot,
    ValidationError,
)
from un_async.backends.unsandbox.wire import WireCodec, dumps

SEED_SUCCESS = {
    "job_id": "job_abc123",
    "status": "completed",
    "stdout": "output text\n",
    "stderr": "",
    "exit_code": 0,
    "language": "python",
    "duration_ms": 234,
}


def result_of(body: dict[str, Any], **kwargs: Any) -> ExecutionResult:
    return WireCodec().result(body, **kwargs)


# -- results as mappings and objects ------------------------------------------------------


def test_result_reads_like_the_seed_dict() -> None:
    result = result_of(SEED_SUCCESS)
    assert result["stdout"] == "output text\n"
    assert result["exit_code"] == 0
    assert result["status"] == "completed"
    assert result["language"] == "python"
    assert result.get("stderr") == ""
    assert result.get("no_such_key") is None
    assert result.get("no_such_key", "fallback") == "fallback"
    assert dict(result) == {
        **SEED_SUCCESS,
        "id": "job_abc123",
        "reason": None,
        "truncated": False,
        "isolation": None,
    }


def test_result_is_a_dict_of_what_the_server_sent_plus_documented_defaults() -> None:
    body = {"job_id": "j1", "status": "completed", "stdout": "hi\n", "exit_code": 0, "x": [1]}
    result = result_of(dict(body))
    assert isinstance(result, dict)
    assert dict(result) == {**ExecutionResult.DEFAULTS, **body, "id": "j1"}
    assert json.loads(json.dumps(result)) == dict(result)
    duplicate = result.copy()
    assert isinstance(duplicate, ExecutionResult)
    assert duplicate == result
    assert duplicate is not result
    plain = result.to_dict()
    assert type(plain) is dict
    assert plain == result


def test_result_attributes_are_typed() -> None:
    result = result_of(SEED_SUCCESS)
    assert result.stdout == "output text\n"
    assert result.exit_code == 0
    assert result.status is JobStatus.COMPLETED
    assert result.duration_ms == 234
    assert result.is_final
    assert result.success
    assert result.reason is None
    assert result.truncated is False
    assert result.isolation is None


def test_mutating_a_result_changes_its_attributes_too() -> None:
    result = result_of(SEED_SUCCESS)
    result["stdout"] = "changed"
    result["status"] = "failed"
    del result["exit_code"]
    assert result.stdout == "changed"
    assert result.status is JobStatus.FAILED
    assert result.exit_code is None
    assert not result.success
    with pytest.raises(AttributeError):
        result.stdout = "attribute"  # type: ignore[misc]
    assert result["stdout"] == "changed"


def test_copies_are_independent() -> None:
    result = result_of(SEED_SUCCESS)
    duplicate = result.copy()
    duplicate["stdout"] = "other"
    assert result.stdout == "output text\n"
    assert duplicate.stdout == "other"


def test_results_survive_pickle_and_deepcopy() -> None:
    blob = base64.b64encode(b"data").decode()
    body = {"job_id": "j", "status": "completed", "artifacts": [{"filename": "f", "content": blob}]}
    result = result_of(body)
    assert result.artifacts[0].content == b"data"
    unpickled = pickle.loads(pickle.dumps(result))
    for clone in (unpickled, copy.deepcopy(result)):
        assert type(clone) is ExecutionResult
        assert clone == result
        assert clone.artifacts == result.artifacts


def test_local_backend_fields_are_keys_and_attributes() -> None:
    isolation = {"level": "namespaces", "network": False, "warnings": []}
    result = ExecutionResult(
        job_id="local-1",
        status=JobStatus.COMPLETED,
        stdout="x" * 10,
        exit_code=137,
        reason="memory",
        truncated=True,
        isolation=isolation,
    )
    assert result.reason == result["reason"] == "memory"
    assert result.truncated is result["truncated"] is True
    assert result.isolation == result["isolation"] == isolation
    assert result["id"] == result["job_id"] == "local-1"
    assert result["status"] == "completed"
    assert json.loads(json.dumps(result))["isolation"] == isolation


def test_keyword_results_fill_the_documented_keys() -> None:
    result = ExecutionResult(job_id="j", status=JobStatus.RUNNING)
    assert dict(result) == {
        **ExecutionResult.DEFAULTS,
        "job_id": "j",
        "id": "j",
        "status": "running",
    }
    assert ExecutionResult({"stdout": "a"}, stdout="b").stdout == "b"
    assert ExecutionResult(raw={"status": "weird"}).raw_status == "weird"


def test_artifacts_are_decoded_once_per_list() -> None:
    blob = base64.b64encode(b"one").decode()
    result = result_of({"job_id": "j", "status": "completed"})
    assert result.artifacts == ()
    result["artifacts"] = [{"filename": "a", "content_base64": blob}]
    assert result.artifacts == (Artifact(filename="a", content=b"one"),)
    assert result.artifacts is result.artifacts
    made = ExecutionResult(artifacts=[Artifact(filename="b", content=b"\x00")])
    assert made["artifacts"] == [{"filename": "b", "content_base64": "AA=="}]
    assert made.artifacts == (Artifact(filename="b", content=b"\x00"),)


def test_result_keeps_server_extras_and_fills_documented_keys() -> None:
    result = result_of({"job_id": "j1", "status": "completed", "success": True, "extra": [1]})
    assert result["extra"] == [1]
    assert result["success"] is True
    for key in ExecutionResult.DOCUMENTED:
        assert key in result
    assert result["stdout"] == ""
    assert result["exit_code"] is None


def test_result_repr_shows_sizes_not_whole_output() -> None:
    result = result_of({"job_id": "j1", "status": "completed", "stdout": "a" * 500 + "TAIL"})
    text = repr(result)
    assert "TAIL" not in text
    assert "504 chars" in text
    assert "j1" in text


@pytest.mark.parametrize(
    "timing", ["execution_time_ms", "duration_ms", "total_time_ms", "execution_time"]
)
def test_every_timing_alias_becomes_duration_ms(timing: str) -> None:
    result = result_of({"job_id": "j1", "status": "completed", timing: 567})
    assert result.duration_ms == 567
    assert result["duration_ms"] == 567
    assert result[timing] == 567


def test_failed_program_is_a_result_not_an_error() -> None:
    body = {
        "job_id": "job_xyz789",
        "status": "failed",
        "stdout": "partial output",
        "stderr": "Error message\n",
        "exit_code": 1,
        "language": "python",
        "duration_ms": 567,
    }
    result = result_of(body)
    assert result.status is JobStatus.FAILED
    assert result.is_final
    assert not result.success
    assert result["exit_code"] == 1
    assert result["stderr"] == "Error message\n"


def test_non_zero_exit_code_with_completed_status_is_not_success() -> None:
    result = result_of({"job_id": "j", "status": "completed", "exit_code": 1})
    assert result.is_final
    assert not result.success


def test_id_alias_is_accepted_and_the_requested_id_fills_a_gap() -> None:
    assert result_of({"id": "from-id", "status": "running"}).job_id == "from-id"
    assert result_of({"status": "running"}, job_id="asked-for").job_id == "asked-for"
    assert result_of({"status": "running"}, job_id="asked-for")["id"] == "asked-for"


def test_reply_without_status_but_with_output_is_final() -> None:
    result = result_of({"stdout": "hi\n", "exit_code": 0})
    assert result.status is JobStatus.COMPLETED


def test_artifacts_are_decoded() -> None:
    blob = b"\x00\x01binary\xff"
    body = {
        "job_id": "j",
        "status": "completed",
        "artifacts": [{"filename": "out.bin", "content_base64": base64.b64encode(blob).decode()}],
    }
    (artifact,) = result_of(body).artifacts
    assert artifact == Artifact(filename="out.bin", content=blob)


# -- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["completed", "failed", "timeout", "cancelled"])
def test_terminal_statuses(raw: str) -> None:
    assert JobStatus.parse(raw).is_terminal


@pytest.mark.parametrize("raw", ["pending", "running"])
def test_active_statuses_are_not_terminal(raw: str) -> None:
    assert not JobStatus.parse(raw).is_terminal


@pytest.mark.parametrize("raw", ["queued", "provisioning", "", None, 3])
def test_unknown_status_keeps_the_raw_value_and_is_not_terminal(raw: object) -> None:
    result = result_of({"job_id": "j", "status": raw})
    assert result.status is JobStatus.UNKNOWN
    assert not result.is_final
    if isinstance(raw, str) and raw:
        assert result.raw_status == raw
        assert result["status"] == raw


def test_status_parsing_is_case_and_space_tolerant() -> None:
    assert JobStatus.parse(" Completed ") is JobStatus.COMPLETED


def test_status_compares_equal_to_its_string() -> None:
    status: str = JobStatus.CANCELLED
    assert status == "cancelled"


# -- jobs, snapshots, records ------------------------------------------------------------


def test_job_info_supports_id_and_job_id() -> None:
    job = WireCodec().job_info({"job_id": "j1", "status": "queued", "language": "go"})
    assert job["id"] == job["job_id"] == job.job_id == "j1"
    assert job["status"] == "queued"
    assert job.status is JobStatus.UNKNOWN
    assert job["language"] == "go"
    assert isinstance(job, JobInfo)


def test_snapshot_supports_mapping_access() -> None:
    snap = WireCodec().snapshot({"snapshot_id": "unsb-snapshot-1", "name": "n", "hot": True})
    assert isinstance(snap, Snapshot)
    assert snap["id"] == snap.id == "unsb-snapshot-1"
    assert snap["name"] == "n"
    assert snap.hot is True


def test_record_is_a_dict_with_attributes() -> None:
    record = Record({"status": "cancelled", "job_id": "j"})
    assert isinstance(record, dict)
    assert record["status"] == record.status == "cancelled"
    assert record.get("missing") is None
    assert len(record) == 2
    with pytest.raises(AttributeError, match="missing"):
        _ = record.missing
    record["status"] = "x"
    assert record.status == "x"
    assert record.to_dict() == {"status": "x", "job_id": "j"}
    assert type(record.copy()) is Record
    assert json.loads(json.dumps(record)) == record
    assert Record() == {}


def test_record_repr_hides_secret_looking_values() -> None:
    record = Record({"id": "key-1", "secret_key": "sk-value", "access_token": "tok-value"})
    text = repr(record)
    assert "sk-value" not in text
    assert "tok-value" not in text
    assert "key-1" in text


def test_job_info_and_snapshot_are_dicts() -> None:
    job = WireCodec().job_info({"id": "j1", "status": "running"})
    snap = WireCodec().snapshot({"id": "s1", "hot": False})
    assert dict(job) == {"id": "j1", "job_id": "j1", "status": "running", "language": None}
    assert dict(snap) == {"id": "s1", "snapshot_id": "s1", "name": None, "hot": False}
    assert json.loads(json.dumps([job, snap])) == [dict(job), dict(snap)]
    assert JobInfo(job_id="j2", status=JobStatus.FAILED).status is JobStatus.FAILED
    assert Snapshot(id="s2", hot=True).hot is True


# -- requests: validation -----------------------------------------------------------------


def request(**changes: Any) -> ExecutionRequest:
    fields: dict[str, Any] = {"language": "python", "code": "print(1)", **changes}
    return ExecutionRequest(**fields)


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        *[("ttl", 0, False), ("ttl", 1, True), ("ttl", 900, True), ("ttl", 901, False)],
        *[("vcpu", 0, False), ("vcpu", 1, True), ("vcpu", 8, True), ("vcpu", 9, False)],
    ],
)
def test_ttl_and_vcpu_ranges(field: str, value: int, ok: bool) -> None:
    if ok:
        assert getattr(request(**{field: value}), field) == value
    else:
        with pytest.raises(ValidationError, match=field):
            request(**{field: value})


@pytest.mark.parametrize(
    "changes",
    [
        {"ttl": True},
        {"ttl": 1.5},
        {"vcpu": "2"},
        {"network_mode": "internet"},
        {"language": "Python"},
        {"language": ""},
        {"code": ""},
        {"code": "   \n"},
        {"code": b"print(1)"},
        {"env": {"1BAD": "x"}},
        {"env": {"OK": 1}},
        {"env": {"OK": "a\x00b"}},
        {"env": ["A=1"]},
        {"env": {f"V{i}": "x" for i in range(257)}},
        {"input_files": [("a.txt", b"1"), ("a.txt", b"2")]},
        {"input_files": {"": b"x"}},
        {"input_files": {"..": b"x"}},
    ],
)
def test_invalid_requests_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        request(**changes)


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="ttl"):
        request(ttl=1000)


@pytest.mark.parametrize("mode", ["zerotrust", "semitrusted"])
def test_network_modes(mode: str) -> None:
    assert request(network_mode=mode).network_mode == mode


def test_input_files_accept_mapping_pairs_and_objects() -> None:
    expected = (
        InputFile(filename="a.txt", content=b"A"),
        InputFile(filename="b.txt", content="é".encode()),
    )
    assert request(input_files={"a.txt": b"A", "b.txt": "é"}).input_files == expected
    assert request(input_files=[("a.txt", b"A"), ("b.txt", "é")]).input_files == expected
    assert request(input_files=list(expected)).input_files == expected


def test_input_file_content_must_be_bytes() -> None:
    with pytest.raises(ValidationError, match="bytes"):
        InputFile(filename="a", content="text")  # type: ignore[arg-type]


def test_requests_are_hashable_and_immutable() -> None:
    first = request(env={"A": "hunter2"}, input_files={"f": b"x"})
    second = request(env={"A": "hunter2"}, input_files={"f": b"x"})
    assert first == second
    assert hash(first) == hash(second)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.ttl = 5  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        first.env["A"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        first.env.update(B="3")
    assert first.env == {"A": "hunter2"}
    assert "hunter2" not in repr(first.env)
    assert pickle.loads(pickle.dumps(first)) == first


# -- requests: wire form ------------------------------------------------------------------


def test_wire_request_omits_unset_options() -> None:
    assert WireCodec().execution_request(request()) == {"language": "python", "code": "print(1)"}


def test_wire_request_carries_every_option() -> None:
    wire = WireCodec().execution_request(
        request(
            env={"A": "1"},
            input_files={"data.bin": b"\x00\xff"},
            network_mode="semitrusted",
            ttl=60,
            vcpu=2,
            return_artifact=True,
        )
    )
    assert wire == {
        "language": "python",
        "code": "print(1)",
        "env": {"A": "1"},
        "input_files": [{"filename": "data.bin", "content": "AP8="}],
        "network_mode": "semitrusted",
        "ttl": 60,
        "vcpu": 2,
        "return_artifact": True,
    }


def test_dumps_is_compact_utf8() -> None:
    assert dumps({"code": 'print("hé")'}) == '{"code":"print(\\"hé\\")"}'.encode()


# -- reprs never show contents ------------------------------------------------------------


def test_request_repr_hides_code_env_and_file_contents() -> None:
    text = repr(
        request(
            code="print('TOP-SECRET-CODE')",
            env={"API_TOKEN": "hunter2-secret"},
            input_files={"notes.txt": b"classified-bytes"},
        )
    )
    for secret in ("TOP-SECRET-CODE", "hunter2-secret", "API_TOKEN", "classified-bytes"):
        assert secret not in text
    assert "notes.txt" in text
    assert "python" in text


def test_artifact_and_input_file_reprs_show_sizes_only() -> None:
    assert "payload" not in repr(Artifact(filename="a", content=b"payload"))
    assert "payload" not in repr(InputFile(filename="a", content=b"payload"))
    assert "7 bytes" in repr(InputFile(filename="a", content=b"payload"))


def test_credentials_repr_hides_the_secret() -> None:
    credentials = Credentials("unsb-pk-aaaa-bbbb-cccc-dddd", "unsb-sk-very-secret-value")
    for text in (repr(credentials), str(credentials)):
        assert "very-secret" not in text
        assert "cccc-dddd" not in text
