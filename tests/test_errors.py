"""Errors: one hierarchy, and every failure says what the server said."""

from __future__ import annotations

import pickle
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from support import KEYS
from un_async import (
    APIError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    CredentialsError,
    JobLostError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    ServiceError,
    SudoRequiredError,
    TransportError,
    UnsandboxError,
    ValidationError,
)
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox, Fault


@pytest.fixture
async def strict_client(fake: FakeUnsandbox) -> AsyncIterator[AsyncClient]:
    """A client that never retries, so each fault surfaces as it is."""
    async with AsyncClient(base_url=fake.url, retry=RetryPolicy.disabled(), **KEYS) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the hierarchy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (CredentialsError, (UnsandboxError,)),
        (ConfigurationError, (UnsandboxError, ValueError)),
        (ValidationError, (UnsandboxError, ValueError)),
        (JobTimeoutError, (UnsandboxError, TimeoutError)),
        (ServiceError, (UnsandboxError, aiohttp.ClientError)),
        (TransportError, (ServiceError,)),
        (JobLostError, (ServiceError,)),
        (APIError, (ServiceError,)),
        (BadRequestError, (APIError,)),
        (AuthenticationError, (APIError,)),
        (PermissionDeniedError, (APIError,)),
        (NotFoundError, (APIError,)),
        (ConflictError, (APIError,)),
        (SudoRequiredError, (APIError,)),
        (RateLimitError, (APIError,)),
        (ServerError, (APIError,)),
    ],
)
def test_hierarchy(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(error, base)


def test_credentials_error_is_not_a_network_error() -> None:
    # The seed's error-handling sample catches CredentialsError before aiohttp.ClientError.
    assert not issubclass(CredentialsError, aiohttp.ClientError)


# -- every API error carries status and parsed body ---------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, APIError),
        (428, SudoRequiredError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
async def test_error_status_and_body(
    fake: FakeUnsandbox, strict_client: AsyncClient, status: int, error_type: type[APIError]
) -> None:
    body = {"error": "some_code", "message": f"the server explains {status}", "detail": 7}
    fake.inject(Fault.status(status, body, method="GET", path="/jobs"))
    with pytest.raises(error_type) as caught:
        await strict_client.list_jobs()
    exc = caught.value
    assert type(exc) is error_type
    assert exc.status == status
    assert exc.body == body
    assert exc.error == "some_code"
    assert exc.server_message == f"the server explains {status}"
    assert f"the server explains {status}" in str(exc)
    assert exc.method == "GET"
    assert exc.path == "/jobs"


async def test_non_json_error_page_is_kept_as_raw_text(
    fake: FakeUnsandbox, strict_client: AsyncClient
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head></html>"
    fake.inject(Fault.status(502, page, path="/jobs"))
    with pytest.raises(ServerError) as caught:
        await strict_client.list_jobs()
    assert caught.value.body == {"raw": page}
    assert "502 Bad Gateway" in str(caught.value)


def test_api_errors_pickle_round_trip() -> None:
    exc = RateLimitError(
        429,
        {"error": "rate_limit_exceeded", "message": "slow down"},
        method="POST",
        path="/execute",
        headers={"Retry-After": "3"},
    )
    copy = pickle.loads(pickle.dumps(exc))  # our own object
    assert type(copy) is RateLimitError
    assert (copy.status, copy.body, copy.path, copy.retry_after) == (429, exc.body, "/execute", 3)
    assert str(copy) == str(exc)


# -- 401 ----------------------------------------------------------------------------------


async def test_unknown_key_is_401_with_server_message(fake: FakeUnsandbox) -> None:
    async with AsyncClient(
        base_url=fake.url, public_key="unsb-pk-nobody", secret_key="unsb-sk-whatever"
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.execute_code("python", "print(1)")
    exc = caught.value
    assert exc.status == 401
    assert exc.body["error"] == "unauthorized"
    assert "invalid signature" in str(exc)
    assert not exc.clock_skew
    assert "unsb-sk-whatever" not in str(exc)


async def test_wrong_secret_is_rejected_without_leaking_it(fake: FakeUnsandbox) -> None:
    async with AsyncClient(
        base_url=fake.url, public_key=TEST_PUBLIC_KEY, secret_key="unsb-sk-wrong-wrong-wrong"
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.list_jobs()
    assert "wrong-wrong" not in str(caught.value)
    assert "wrong-wrong" not in repr(caught.value)


async def test_timestamp_message_flags_clock_skew(
    fake: FakeUnsandbox, strict_client: AsyncClient
) -> None:
    body = {"error": "invalid_timestamp", "message": "Request timestamp expired"}
    fake.inject(Fault.status(401, body, path="/jobs", times=None))
    with pytest.raises(AuthenticationError) as caught:
        await strict_client.list_jobs()
    assert caught.value.clock_skew
    assert "Request timestamp expired" in str(caught.value)
    assert "clock" in str(caught.value)


async def test_skewed_local_clock_is_corrected_from_the_date_header(fake: FakeUnsandbox) -> None:
    fake.clock_offset = 3600.0  # the server is an hour ahead: our timestamps look stale
    async with AsyncClient(base_url=fake.url, **KEYS) as client:
        result = await client.execute_code("python", "print('on time')")
    assert result.stdout == "on time\n"
    statuses = [r.headers["X-Timestamp"] for r in fake.requests]
    assert len(statuses) == 2  # rejected once, then re-signed with the server's time
    assert int(statuses[1]) - int(statuses[0]) >= 3500


# -- 404 / 409 ----------------------------------------------------------------------------


async def test_unknown_job_is_404(strict_client: AsyncClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await strict_client.get_job("job-that-does-not-exist")
    assert caught.value.status == 404
    assert caught.value.body["error"] == "not_found"
    assert "job not found" in str(caught.value)


async def test_locked_snapshot_delete_is_409(fake: FakeUnsandbox, client: AsyncClient) -> None:
    snapshot_id = await client.session_snapshot(fake.add_session())
    fake.snapshots[snapshot_id].locked = True
    with pytest.raises(ConflictError) as caught:
        await client.delete_snapshot(snapshot_id)
    assert caught.value.status == 409
    assert "locked" in str(caught.value)


# -- 429 ----------------------------------------------------------------------------------


async def test_rate_limit_carries_retry_after(
    fake: FakeUnsandbox, strict_client: AsyncClient
) -> None:
    fake.inject(Fault.rate_limited(retry_after=7, path="/jobs"))
    with pytest.raises(RateLimitError) as caught:
        await strict_client.list_jobs()
    exc = caught.value
    assert exc.error == "rate_limit_exceeded"
    assert exc.retry_after == 7
    assert not exc.is_concurrency_limit
    assert exc.active_executions is None


async def test_concurrency_limit_carries_counts(
    fake: FakeUnsandbox, strict_client: AsyncClient
) -> None:
    fake.inject(Fault.concurrency_limited(active=3, limit=3, path="/execute"))
    with pytest.raises(RateLimitError) as caught:
        await strict_client.execute_code("python", "print(1)")
    exc = caught.value
    assert exc.error == "concurrency_limit_reached"
    assert exc.is_concurrency_limit
    assert (exc.active_executions, exc.concurrency_limit) == (3, 3)
    assert exc.retry_after is None
    assert "Concurrency limit reached" in str(exc)


async def test_real_concurrency_limit_from_running_jobs() -> None:
    server = FakeUnsandbox(mode="job", default_duration=30, concurrency_limit=1)
    async with server, AsyncClient(base_url=server.url, retry=RetryPolicy.disabled()) as client:
        await client.execute_async("python", "print(1)", **KEYS)
        with pytest.raises(RateLimitError) as caught:
            await client.execute_async("python", "print(2)", **KEYS)
    assert (caught.value.active_executions, caught.value.concurrency_limit) == (1, 1)


async def test_rate_limited_execute_is_retried_because_the_server_refused_it(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    fake.inject(Fault.rate_limited(retry_after=0, path="/execute", exact=True))
    result = await client.execute_code("python", "print('second try')")
    assert result.stdout == "second try\n"
    assert fake.count_requests("POST", "/execute") == 2


# -- 5xx ----------------------------------------------------------------------------------


async def test_server_error_on_idempotent_call_is_retried(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    fake.inject(Fault.status(500, path="/jobs", times=1))
    assert await client.list_jobs() == []
    assert fake.count_requests("GET", "/jobs") == 2


async def test_server_error_on_execute_is_not_resent(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    # 500 may come after the server acted: re-sending could run the code twice.
    fake.inject(Fault.status(500, path="/execute", exact=True))
    with pytest.raises(ServerError) as caught:
        await client.execute_code("python", "print(1)")
    assert caught.value.status == 500
    assert "Internal server error" in str(caught.value)
    assert fake.count_requests("POST", "/execute") == 1


async def test_persistent_server_errors_surface_after_bounded_retries(fake: FakeUnsandbox) -> None:
    fake.inject(Fault.status(503, path="/jobs", times=None))
    policy = RetryPolicy(max_attempts=3, base_delay=0.01)
    async with AsyncClient(base_url=fake.url, retry=policy, **KEYS) as client:
        with pytest.raises(ServerError):
            await client.list_jobs()
    assert fake.count_requests("GET", "/jobs") == 3


# -- transport ----------------------------------------------------------------------------


async def test_connection_refused_is_a_transport_error() -> None:
    async with AsyncClient(
        base_url=f"http://127.0.0.1:{free_port()}", retry=RetryPolicy.disabled(), **KEYS
    ) as client:
        with pytest.raises(TransportError) as caught:
            await client.execute_code("python", "print(1)")
    assert caught.value.request_sent is False
    assert isinstance(caught.value, aiohttp.ClientError)
    assert isinstance(caught.value, UnsandboxError)


async def test_reset_after_execute_is_not_resent(fake: FakeUnsandbox, client: AsyncClient) -> None:
    fake.inject(Fault.reset_after_read(path="/execute", exact=True))
    with pytest.raises(TransportError) as caught:
        await client.execute_code("python", "print(1)")
    assert caught.value.request_sent is True
    assert fake.count_requests("POST", "/execute") == 1
    assert len(fake.jobs) == 1  # the server did create the job


async def test_reset_on_idempotent_call_is_retried(
    fake: FakeUnsandbox, client: AsyncClient
) -> None:
    fake.inject(Fault.reset_before_read(path="/jobs"))
    assert await client.list_jobs() == []
    assert fake.count_requests("GET", "/jobs") == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault.malformed_json(path="/jobs"),
        Fault.non_json(path="/jobs"),
        Fault.truncated_body(path="/jobs"),
    ],
)
async def test_unusable_replies_are_transport_errors(
    fake: FakeUnsandbox, strict_client: AsyncClient, fault: Fault
) -> None:
    fake.inject(attrs_copy(fault))
    with pytest.raises(TransportError, match=r"malformed|truncated"):
        await strict_client.list_jobs()


def attrs_copy(fault: Fault) -> Fault:
    """A fresh fault (faults keep counters; parametrised objects are shared)."""
    return attrs.evolve(fault, seen=0, fired=0)


async def test_read_timeout_is_a_transport_error(fake: FakeUnsandbox) -> None:
    fake.inject(Fault.delay(2.0, path="/jobs"))
    async with AsyncClient(
        base_url=fake.url, request_timeout=0.2, retry=RetryPolicy.disabled(), **KEYS
    ) as client:
        with pytest.raises(TransportError, match="no response within"):
            await client.list_jobs()


# -- client-side deadline -----------------------------------------------------------------


def test_job_timeout_error_carries_what_was_known() -> None:
    exc = JobTimeoutError("too slow", job_id="j1", last_state={"status": "running"})
    assert isinstance(exc, TimeoutError)
    assert (exc.job_id, exc.last_state) == ("j1", {"status": "running"})


async def test_job_timeout_is_catchable_as_timeout_error(fake: FakeUnsandbox) -> None:
    fake.mode = "job"
    fake.default_duration = 30
    async with AsyncClient(base_url=fake.url, **KEYS) as client:
        with pytest.raises(TimeoutError):
            await client.execute_code("python", "print(1)", timeout=0.4)


# -- errors raised before any request ------------------------------------------------------


async def test_half_explicit_credentials(fake: FakeUnsandbox, client: AsyncClient) -> None:
    with pytest.raises(CredentialsError, match="secret_key"):
        await client.list_jobs(public_key=TEST_PUBLIC_KEY)
    assert fake.request_count == 0


@pytest.mark.parametrize("job_id", ["../execute", "a/b", "a?b", "", "x" * 300])
async def test_unsafe_job_ids_are_rejected(
    fake: FakeUnsandbox, client: AsyncClient, job_id: str
) -> None:
    with pytest.raises(ValidationError):
        await client.get_job(job_id)
    assert fake.request_count == 0


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="http"):
        AsyncClient(base_url="ftp://example.com", **KEYS)
    with pytest.raises(ConfigurationError, match="insecure"):
        AsyncClient(base_url="http://example.com", **KEYS)
    with pytest.raises(ConfigurationError, match="backend"):
        AsyncClient(backend="no-such-backend", **KEYS)


def test_error_message_without_details() -> None:
    exc: Any = APIError(418)
    assert str(exc) == "HTTP 418: no details"
    assert exc.body == {}
