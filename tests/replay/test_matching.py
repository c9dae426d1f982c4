"""Matching: normalised requests, recorded order, and misses that explain themselves."""

from __future__ import annotations

import pytest

from un_async.backends.replay import CassetteMissError, Interaction
from un_async.backends.replay.matching import (
    InteractionIndex,
    http_request,
    request_key,
    submit_request,
)
from un_async.backends.unsandbox import HttpRequest
from un_async.core.models import ExecutionRequest


def recorded(request: dict[str, object], value: object = None) -> Interaction:
    return Interaction(request=request, response={"value": value})


def test_signing_and_client_headers_never_take_part_in_matching() -> None:
    one = HttpRequest(
        method="get",
        path="/jobs/1",
        headers={"Authorization": "Bearer a", "X-Timestamp": "1", "X-Signature": "aa"},
    )
    other = HttpRequest(
        method="GET",
        path="/jobs/1",
        headers={"Authorization": "Bearer b", "X-Timestamp": "2", "User-Agent": "x"},
    )
    assert request_key(http_request(one)) == request_key(http_request(other))


def test_query_order_and_json_key_order_do_not_matter_but_values_do() -> None:
    one = HttpRequest(
        method="POST", path="/run", query=(("b", "2"), ("a", "1")), body=b'{"x":1,"y":[1,2]}'
    )
    same = HttpRequest(
        method="POST", path="/run", query=(("a", "1"), ("b", "2")), body=b'{ "y": [1, 2], "x": 1 }'
    )
    different = HttpRequest(
        method="POST", path="/run", query=(("a", "1"), ("b", "2")), body=b'{"x":2}'
    )
    assert request_key(http_request(one)) == request_key(http_request(same))
    assert request_key(http_request(one)) != request_key(http_request(different))


def test_executions_match_on_language_code_options_and_file_digests() -> None:
    base = ExecutionRequest(language="python", code="print(1)", input_files={"a.txt": b"one"})
    same = ExecutionRequest(language="python", code="print(1)", input_files=[("a.txt", "one")])
    other_file = ExecutionRequest(language="python", code="print(1)", input_files={"a.txt": b"1"})
    with_ttl = ExecutionRequest(language="python", code="print(1)", ttl=5)
    normalised = submit_request(base, wait=True)

    assert normalised["input_files"][0]["size"] == 3
    assert "one" not in str(normalised)  # file content is digested, not stored
    assert request_key(normalised) == request_key(submit_request(same, wait=True))
    assert request_key(normalised) != request_key(submit_request(base, wait=False))
    assert request_key(normalised) != request_key(submit_request(other_file, wait=True))
    assert submit_request(with_ttl, wait=True)["options"] == {"ttl": 5}


def test_identical_requests_replay_in_recorded_order() -> None:
    poll = {"operation": "poll_job", "job_id": "j"}
    index = InteractionIndex(
        [
            recorded(poll, "pending"),
            recorded({"operation": "list_jobs"}),
            recorded(poll, "running"),
            recorded(poll, "completed"),
        ]
    )
    served = [index.take(poll) for _ in range(3)]
    assert [item.response["value"] for item in served if item] == [
        "pending",
        "running",
        "completed",
    ]
    assert index.take(poll) is None
    assert index.remaining() == 1


def test_repeat_starts_over_once_every_match_was_used() -> None:
    poll = {"operation": "poll_job", "job_id": "j"}
    index = InteractionIndex([recorded(poll, 1), recorded(poll, 2)], repeat=True)
    assert [index.take(poll).response["value"] for _ in range(5)] == [1, 2, 1, 2, 1]  # type: ignore[union-attr]
    assert index.take({"operation": "poll_job", "job_id": "other"}) is None


def test_a_miss_names_the_closest_interaction_and_the_fields_that_differ() -> None:
    index = InteractionIndex(
        [
            recorded({"operation": "list_jobs"}),
            recorded(
                submit_request(ExecutionRequest(language="python", code="print(1)"), wait=True)
            ),
            recorded(submit_request(ExecutionRequest(language="ruby", code="puts 1"), wait=True)),
        ],
        source="demo.json",
    )
    wanted = submit_request(ExecutionRequest(language="python", code="print(2)", ttl=9), wait=True)

    error = index.miss(wanted)

    assert isinstance(error, CassetteMissError)
    assert error.closest_index == 1
    assert error.differences == ("code", "options.ttl")
    assert not error.exhausted
    assert str(error) == (
        "demo.json: no recorded interaction matches submit python; the closest is "
        "#1 submit python, which differs in code, options.ttl"
    )


def test_a_miss_after_all_matches_were_used_says_so() -> None:
    poll = {"operation": "poll_job", "job_id": "j"}
    index = InteractionIndex([recorded(poll, "done")], source="demo.json")
    index.take(poll)
    error = index.miss(poll, hint="record mode 'none'")
    assert error.exhausted
    assert "1 recorded interaction matches poll_job j, and all were already used" in str(error)


def test_an_empty_cassette_miss() -> None:
    with pytest.raises(CassetteMissError, match="has no recorded interactions"):
        raise InteractionIndex([], source="empty.json").miss({"operation": "list_jobs"})


def test_http_misses_prefer_the_same_method_and_path() -> None:
    index = InteractionIndex(
        [
            recorded(http_request(HttpRequest(method="GET", path="/jobs"))),
            recorded(
                http_request(HttpRequest(method="POST", path="/execute", body=b'{"code":"a"}'))
            ),
        ]
    )
    error = index.miss(
        http_request(HttpRequest(method="POST", path="/execute", body=b'{"code":"b"}'))
    )
    assert error.closest_index == 1
    assert error.differences == ("body.json.code",)
