"""Retry policy: what is re-sent, how long to wait, and the no-duplicate-job guarantee."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from support import CREDENTIALS, FAST_RETRY, MakeClient
from un_async.backends.unsandbox.requester import SignedRequester
from un_async.backends.unsandbox.transport import AiohttpTransport
from un_async.core.errors import (
    APIError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from un_async.core.retry import RetryPolicy, parse_retry_after
from un_async.plugins.signing import HmacSigner
from un_async.testing import FakeUnsandbox, Fault

GENEROUS = RetryPolicy(max_attempts=10, base_delay=0.001, max_delay=0.002, deadline=10.0)


def api_error(status: int) -> APIError:
    return APIError(status, {"error": "x"})


# -- the policy on its own ----------------------------------------------------------------


def test_default_policy_is_bounded_and_retries_the_transient_statuses() -> None:
    policy = RetryPolicy()
    assert policy.retry_statuses == frozenset({408, 429, 500, 502, 503, 504})
    assert 1 < policy.max_attempts <= 10
    assert policy.deadline is not None
    assert 0 < policy.base_delay <= policy.max_delay
    assert policy.retry_after_cap <= 120
    assert RetryPolicy.disabled().max_attempts == 1


@pytest.mark.parametrize(
    ("error", "for_post", "for_get"),
    [
        (TransportError("refused", request_sent=False), True, True),
        (TransportError("reset after sending"), False, True),
        (api_error(429), True, True),
        (api_error(503), True, True),
        (api_error(408), False, True),
        (api_error(500), False, True),
        (api_error(502), False, True),
        (api_error(504), False, True),
        (api_error(400), False, False),
        (api_error(401), False, False),
        (api_error(404), False, False),
        (api_error(409), False, False),
    ],
)
def test_non_idempotent_calls_are_retried_only_when_the_server_cannot_have_acted(
    error: Exception, for_post: bool, for_get: bool
) -> None:
    policy = RetryPolicy()
    assert policy.is_retryable(error, idempotent=False) is for_post
    assert policy.is_retryable(error, idempotent=True) is for_get


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    error = TransportError("x", request_sent=False)
    for attempt in range(1, 9):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, error, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert min(delays) < 0.2 * ceiling  # full jitter reaches near zero...
        assert max(delays) > 0.8 * ceiling  # ...and near the ceiling


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=30.0)
    seconds = APIError(429, {}, headers={"Retry-After": "12"})
    huge = APIError(503, {}, headers={"Retry-After": "86400"})
    in_ten = datetime.now(UTC) + timedelta(seconds=10)
    dated = APIError(503, {}, headers={"Retry-After": in_ten.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    garbage = APIError(503, {}, headers={"Retry-After": "soon"})
    assert policy.delay(1, seconds) == 12.0
    assert policy.delay(1, huge) == 30.0
    assert 8.0 <= policy.delay(1, dated) <= 10.5
    assert 0.0 <= policy.delay(1, garbage) <= policy.base_delay


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("", None),
        ("nan", None),
        ("tomorrow", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_is_relative_to_now() -> None:
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0


# -- the guarantee: no second job ----------------------------------------------------------


@pytest.mark.parametrize("submit", ["execute_code", "execute_async"])
async def test_connection_dropped_after_the_request_was_received_never_creates_a_second_job(
    fake: FakeUnsandbox, make_client: MakeClient, submit: str
) -> None:
    fake.inject(Fault.reset_after_read(method="POST", path="/execute"))
    client = make_client(fake, retry=GENEROUS)
    with pytest.raises(TransportError) as caught:
        await getattr(client, submit)("python", "print('once')")
    assert caught.value.request_sent
    posts = fake.count_requests("POST", "/execute") + fake.count_requests("POST", "/execute/async")
    assert posts == 1
    assert [job.code for job in fake.jobs.values()] == ["print('once')"]


@pytest.mark.parametrize(
    ("fault", "jobs_created"),
    [
        pytest.param(Fault.truncated_body, 1, id="truncated-reply"),
        # Not re-sent either: the client cannot tell this reset from one after reading.
        pytest.param(Fault.reset_before_read, 0, id="reset-before-reading"),
    ],
)
async def test_execute_is_not_resent_after_a_broken_connection(
    fake: FakeUnsandbox,
    make_client: MakeClient,
    fault: Callable[..., Fault],
    jobs_created: int,
) -> None:
    fake.inject(fault(method="POST", path="/execute"))
    with pytest.raises(TransportError):
        await make_client(fake, retry=GENEROUS).execute_code("python", "print(1)")
    assert fake.count_requests("POST", "/execute") == 1
    assert len(fake.jobs) == jobs_created


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_execute_is_not_resent_after_500_502_504(
    fake: FakeUnsandbox, make_client: MakeClient, status: int
) -> None:
    fake.inject(Fault.status(status, method="POST", path="/execute"))
    with pytest.raises(ServerError) as caught:
        await make_client(fake, retry=GENEROUS).execute_code("python", "print(1)")
    assert caught.value.status == status
    assert fake.count_requests("POST", "/execute") == 1


@pytest.mark.parametrize(
    "fault",
    [
        lambda: Fault.rate_limited(method="POST", path="/execute"),
        lambda: Fault.rate_limited(retry_after=0, method="POST", path="/execute"),
        lambda: Fault.status(503, method="POST", path="/execute", times=2),
    ],
    ids=["429", "429-retry-after", "503x2"],
)
async def test_execute_is_resent_after_an_explicit_refusal(
    fake: FakeUnsandbox, make_client: MakeClient, fault: Callable[[], Fault]
) -> None:
    injected = fake.inject(fault())
    result = await make_client(fake).execute_code("python", "print('ok')")
    assert result.stdout == "ok\n"
    assert fake.count_requests("POST", "/execute") == injected.fired + 1
    assert len(fake.jobs) == 1


async def test_connect_errors_are_retried_even_for_execute(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caplog.set_level(logging.INFO, logger="un_async")
    with pytest.raises(TransportError) as caught:
        await make_client(f"http://127.0.0.1:{port}").execute_code("python", "print(1)")
    assert caught.value.request_sent is False
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying POST /execute")]
    assert len(retries) == FAST_RETRY.max_attempts - 1


# -- idempotent calls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        lambda: Fault.status(408, path="/jobs"),
        lambda: Fault.status(500, path="/jobs"),
        lambda: Fault.status(502, path="/jobs"),
        lambda: Fault.non_json(502, "<h1>502 Bad Gateway</h1>", path="/jobs"),
        lambda: Fault.status(504, path="/jobs"),
        lambda: Fault.reset_before_read(path="/jobs"),
        lambda: Fault.reset_after_read(path="/jobs"),
        lambda: Fault.truncated_body(path="/jobs"),
        lambda: Fault.malformed_json(path="/jobs"),
    ],
    ids=["408", "500", "502", "502-html", "504", "reset-before", "reset-after", "truncated",
         "malformed"],
)  # fmt: skip
async def test_idempotent_calls_ride_out_transient_failures(
    fake: FakeUnsandbox, make_client: MakeClient, fault: Callable[[], Fault]
) -> None:
    fake.inject(fault())
    assert await make_client(fake).list_jobs() == []
    assert fake.count_requests("GET", "/jobs") == 2


async def test_attempts_are_bounded(fake: FakeUnsandbox, make_client: MakeClient) -> None:
    fake.inject(Fault.status(503, path="/jobs", times=None))
    with pytest.raises(ServerError):
        await make_client(fake).list_jobs()
    assert fake.count_requests("GET", "/jobs") == FAST_RETRY.max_attempts


async def test_the_clients_policy_is_the_one_used(
    fake: FakeUnsandbox, make_client: MakeClient
) -> None:
    fake.inject(Fault.status(503, path="/jobs", times=None))
    with pytest.raises(ServerError):
        await make_client(fake, retry=RetryPolicy(max_attempts=2, base_delay=0.001)).list_jobs()
    assert fake.count_requests("GET", "/jobs") == 2


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (404, NotFoundError)])
async def test_client_errors_are_not_retried(
    fake: FakeUnsandbox, make_client: MakeClient, status: int, error: type[APIError]
) -> None:
    fake.inject(Fault.status(status, path="/jobs", times=None))
    with pytest.raises(error):
        await make_client(fake).list_jobs()
    assert fake.count_requests("GET", "/jobs") == 1


# -- Retry-After and the policy deadline, observed through the requester's sleep ----------


@pytest.fixture
async def requester(fake: FakeUnsandbox) -> AsyncIterator[Callable[..., SignedRequester]]:
    transports: list[AiohttpTransport] = []

    def build(policy: RetryPolicy, sleeps: list[float]) -> SignedRequester:
        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        transport = AiohttpTransport(fake.url)
        transports.append(transport)
        return SignedRequester(transport, HmacSigner(), policy, sleep=sleep)

    yield build
    for transport in transports:
        await transport.aclose()


@pytest.mark.parametrize(
    ("retry_after", "cap", "low", "high"),
    [
        (7, 60.0, 7.0, 7.0),
        ("in 40 s", 60.0, 37.0, 41.0),
        (3600, 5.0, 5.0, 5.0),
    ],
    ids=["seconds", "http-date", "capped"],
)
async def test_retry_after_is_honoured(
    fake: FakeUnsandbox,
    requester: Callable[..., SignedRequester],
    retry_after: float | str | datetime,
    cap: float,
    low: float,
    high: float,
) -> None:
    if retry_after == "in 40 s":
        retry_after = datetime.now(UTC) + timedelta(seconds=40)
    fake.inject(Fault.rate_limited(retry_after=retry_after, path="/jobs"))
    sleeps: list[float] = []
    policy = RetryPolicy(retry_after_cap=cap, deadline=None)
    reply = await requester(policy, sleeps).call(CREDENTIALS, "GET", "/jobs", idempotent=True)
    assert reply == {"jobs": []}
    assert len(sleeps) == 1
    assert low <= sleeps[0] <= high


async def test_no_retry_whose_wait_would_pass_the_policy_deadline(
    fake: FakeUnsandbox, requester: Callable[..., SignedRequester]
) -> None:
    fake.inject(Fault.rate_limited(retry_after=10, path="/jobs"))
    sleeps: list[float] = []
    policy = RetryPolicy(deadline=5.0)
    with pytest.raises(RateLimitError) as caught:
        await requester(policy, sleeps).call(CREDENTIALS, "GET", "/jobs", idempotent=True)
    assert caught.value.retry_after == 10.0
    assert sleeps == []
    assert fake.count_requests("GET", "/jobs") == 1
