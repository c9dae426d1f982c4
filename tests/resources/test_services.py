"""``client.services`` against the fake server: each method's happy path, and the 400,
403, 409, 428 and 429 refusals (404 and unsupported backends: ``test_error_paths``)."""

from __future__ import annotations

import base64

import pytest

from support.resource_calls import only_request
from un_async import (
    AsyncClient,
    BadRequestError,
    ConflictError,
    ExecutionResult,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SudoRequiredError,
    ValidationError,
)
from un_async.plugins.signing import signature
from un_async.resources import EnvExport, EnvStatus, Service
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

# -- listing and creation ------------------------------------------------------------------


async def test_list_and_get(fake: FakeUnsandbox, api: AsyncClient, other_key: str) -> None:
    mine = fake.add_service(name="api", ports=[8080])
    fake.add_service(other_key)

    listed = await api.services.list()
    service = await api.services.get(mine)

    assert [s.id for s in listed] == [mine]
    assert isinstance(service, Service)
    assert (service.name, service.ports, service.status, service.locked) == (
        "api",
        [8080],
        "running",
        False,
    )
    assert service.url == "https://api.on.unsandbox.com"


async def test_create_sends_every_option(fake: FakeUnsandbox, api: AsyncClient) -> None:
    count = len(fake.requests)

    service = await api.services.create(
        "game",
        [25565],
        bootstrap_content="#!/bin/sh\nexec server\n",
        network_mode="zerotrust",
        custom_domains=["play.example.com"],
        vcpu=2,
        service_type="minecraft",
        unfreeze_on_demand=True,
        golden_image="ubuntu-24.04",
        input_files=[("world.zip", b"PK\x03\x04")],
    )

    assert only_request(fake, count).json() == {
        "name": "game",
        "ports": [25565],
        "network_mode": "zerotrust",
        "bootstrap_content": "#!/bin/sh\nexec server\n",
        "custom_domains": ["play.example.com"],
        "vcpu": 2,
        "service_type": "minecraft",
        "unfreeze_on_demand": True,
        "golden_image": "ubuntu-24.04",
        "input_files": [
            {"filename": "world.zip", "content": base64.b64encode(b"PK\x03\x04").decode()}
        ],
    }
    stored = fake.services[service.id]
    assert (stored.golden_image, stored.input_files, service.custom_domains) == (
        "ubuntu-24.04",
        ["world.zip"],
        ["play.example.com"],
    )


async def test_create_with_a_bootstrap_url(fake: FakeUnsandbox, api: AsyncClient) -> None:
    count = len(fake.requests)
    await api.services.create("web", [80], bootstrap="https://example.com/setup.sh")
    assert only_request(fake, count).json() == {
        "name": "web",
        "ports": [80],
        "network_mode": "semitrusted",
        "bootstrap": "https://example.com/setup.sh",
    }


async def test_create_with_a_taken_name_is_a_conflict(
    fake: FakeUnsandbox, api: AsyncClient, other_key: str
) -> None:
    fake.add_service(other_key, name="web")
    with pytest.raises(ConflictError) as info:
        await api.services.create("web", [80])
    assert (info.value.status, info.value.error) == (409, "name_taken")
    assert info.value.message == "Service name 'web' is already taken"


@pytest.mark.parametrize(
    ("ports", "options"),
    [
        ([0], {}),
        ("80", {}),
        ([80], {"vcpu": 9}),
        ([80], {"network_mode": "internet"}),
        ([80], {"bootstrap": "echo", "bootstrap_content": "echo"}),
        ([80], {"custom_domains": "example.com"}),
    ],
)
async def test_create_refuses_bad_arguments_before_sending(
    ports: object, options: dict[str, object], fake: FakeUnsandbox, api: AsyncClient
) -> None:
    with pytest.raises(ValidationError):
        await api.services.create("web", ports, **options)  # type: ignore[arg-type]
    assert fake.request_count == 0


# -- settings ------------------------------------------------------------------------------


async def test_update_resize_and_flags(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    count = len(fake.requests)

    await api.services.update(service_id, vcpu=2, show_freeze_page=False)
    resized = await api.services.resize(service_id, 4)
    await api.services.set_unfreeze_on_demand(service_id, True)
    last = await api.services.set_show_freeze_page(service_id, True)

    assert [(r.method, r.json()) for r in fake.requests[count:]] == [
        ("PATCH", {"vcpu": 2, "show_freeze_page": False}),
        ("PATCH", {"vcpu": 4}),
        ("PATCH", {"unfreeze_on_demand": True}),
        ("PATCH", {"show_freeze_page": True}),
    ]
    assert resized.vcpu == 4
    assert (last["unfreeze_on_demand"], last["show_freeze_page"]) == (True, True)


async def test_update_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    with pytest.raises(ValidationError):
        await api.services.update(service_id)
    with pytest.raises(ValidationError):
        await api.services.set_unfreeze_on_demand(service_id, "yes")  # type: ignore[arg-type]
    assert fake.request_count == 0
    fake.vcpu_limit = 2
    with pytest.raises(RateLimitError, match="exceed tier concurrency"):
        await api.services.resize(service_id, 3)
    assert fake.services[service_id].vcpu == 1


async def test_domains_replace_add_remove(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    count = len(fake.requests)

    await api.services.set_domains(service_id, ["a.example.com", "b.example.com"])
    await api.services.add_domains(service_id, ["c.example.com"])
    final = await api.services.remove_domains(service_id, ["a.example.com"])

    assert [(r.method, r.json()) for r in fake.requests[count:]] == [
        ("PUT", {"custom_domains": ["a.example.com", "b.example.com"]}),
        ("PUT", {"add": ["c.example.com"]}),
        ("PUT", {"remove": ["a.example.com"]}),
    ]
    assert final.custom_domains == ["b.example.com", "c.example.com"]


async def test_a_malformed_domain_is_a_bad_request(fake: FakeUnsandbox, api: AsyncClient) -> None:
    with pytest.raises(BadRequestError, match="invalid domain"):
        await api.services.add_domains(fake.add_service(), ["not a domain"])


# -- lifecycle -----------------------------------------------------------------------------


async def test_freeze_unfreeze_lock_unlock(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    service_id = fake.add_service()

    assert (await api.services.freeze(service_id)).status == "frozen"
    assert (await api.services.unfreeze(service_id)).status == "running"
    assert (await api.services.lock(service_id)).locked is True
    assert (await api.services.unlock(service_id, otp=sudo)).locked is False
    assert [r.body for r in fake.requests if r.method == "POST"] == [b"{}"] * 5


async def test_unfreeze_past_the_budget_is_a_rate_limit(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.vcpu_limit = 1
    fake.add_service()
    frozen = fake.add_service(status="frozen")
    with pytest.raises(RateLimitError) as info:
        await api.services.unfreeze(frozen)
    assert info.value.is_concurrency_limit


async def test_unlock_and_delete_need_the_code(
    fake: FakeUnsandbox, api: AsyncClient, sudo: str
) -> None:
    service_id = fake.add_service(locked=True)
    with pytest.raises(SudoRequiredError):
        await api.services.unlock(service_id)
    assert fake.services[service_id].locked

    with pytest.raises(ConflictError, match="locked"):
        await api.services.delete(service_id, otp=sudo)

    async def answer(challenge_id: str) -> str:
        assert challenge_id in fake.sudo_challenges
        return sudo

    await api.services.unlock(service_id, otp=answer)
    with pytest.raises(SudoRequiredError):
        await api.services.delete(service_id)
    deleted = await api.services.delete(service_id, otp=answer)
    assert (deleted.id, deleted.status) == (service_id, "deleted")
    assert service_id not in fake.services


async def test_logs_tail_and_all(fake: FakeUnsandbox, api: AsyncClient) -> None:
    fake.service_log_tail = 2
    service_id = fake.add_service(log=["one", "two", "three"])
    count = len(fake.requests)

    tail = await api.services.logs(service_id)
    everything = await api.services.logs(service_id, all_logs=True)

    first, second = fake.requests[count:]
    assert (dict(first.query), dict(second.query)) == ({}, {"all": "true"})
    # The query string is not signed: the signature covers the bare path.
    stamp = second.headers["X-Timestamp"]
    assert second.headers["X-Signature"] == signature(
        TEST_SECRET_KEY, stamp, "GET", f"/services/{service_id}/logs", b""
    )
    assert (tail.lines, everything.lines) == (["two", "three"], ["one", "two", "three"])


async def test_redeploy(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service(status="frozen", bootstrap="https://example.com/a.sh")

    redeployed = await api.services.redeploy(
        service_id, bootstrap_content="echo v2", input_files={"v2.txt": "new"}
    )

    assert fake.requests[-1].json() == {
        "bootstrap_content": "echo v2",
        "input_files": [{"filename": "v2.txt", "content": base64.b64encode(b"new").decode()}],
    }
    assert redeployed.status == "running"
    assert fake.services[service_id].redeploys == 1


async def test_redeploy_without_any_bootstrap_is_a_bad_request(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    with pytest.raises(BadRequestError) as info:
        await api.services.redeploy(fake.add_service())
    assert info.value.error == "no_bootstrap"


# -- commands ------------------------------------------------------------------------------


async def test_execute_returns_a_job_to_wait_on(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    fake.script("bash", "uptime", stdout="up 3 days\n")

    job = await api.services.execute(service_id, "uptime", timeout_ms=0)
    result = await api.wait_for_job(job.job_id or "")

    assert fake.requests[0].json() == {"command": "uptime", "timeout": 0}
    assert isinstance(job, ExecutionResult)
    assert (job["status"], job["service_id"]) == ("pending", service_id)
    assert (result.stdout, result.exit_code) == ("up 3 days\n", 0)


async def test_execute_can_wait(fake: FakeUnsandbox, api: AsyncClient) -> None:
    fake.script("bash", "cat /tmp/input/a.txt", stdout="A\n")
    result = await api.services.execute(
        fake.add_service(), "cat /tmp/input/a.txt", input_files={"a.txt": "A"}, wait=True
    )
    assert (result.status.value, result.stdout) == ("completed", "A\n")


async def test_execute_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    frozen = fake.add_service(status="frozen")
    with pytest.raises(ValidationError):
        await api.services.execute(frozen, "ls", timeout_ms=-1)
    assert fake.request_count == 0
    with pytest.raises(ConflictError) as info:
        await api.services.execute(frozen, "ls")
    assert (info.value.error, info.value.message) == (
        "service_not_running",
        "Service is not running",
    )


async def test_snapshot_of_a_service(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    snapshot = await api.services.snapshot(service_id, name="pre-deploy")
    assert fake.requests[-1].path == f"/services/{service_id}/snapshot"
    assert (snapshot.source_type, snapshot.source_id, snapshot.name) == (
        "service",
        service_id,
        "pre-deploy",
    )


async def test_snapshot_of_a_service_on_the_free_tier_is_forbidden(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    fake.accounts[TEST_PUBLIC_KEY].tier = "free"
    with pytest.raises(PermissionDeniedError):
        await api.services.snapshot(fake.add_service())


# -- environment vault ---------------------------------------------------------------------


async def test_set_env_uploads_text_signed_as_sent(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    env = {"DATABASE_URL": "postgres://db/app", "MOTD": 'say "hi" # not a comment'}
    count = len(fake.requests)

    status = await api.services.set_env(service_id, env)

    request = only_request(fake, count)
    assert (request.method, request.headers["Content-Type"]) == ("PUT", "text/plain")
    assert request.body == b'DATABASE_URL=postgres://db/app\nMOTD="say \\"hi\\" # not a comment"\n'
    assert request.headers["X-Signature"] == signature(
        TEST_SECRET_KEY, request.headers["X-Timestamp"], "PUT", request.path, request.body
    )
    assert isinstance(status, EnvStatus)
    assert (status.has_vault, status.count) == (True, 2)
    assert fake.services[service_id].env == env


async def test_set_env_sends_env_text_as_it_is(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    text = "# production\nexport A=1\nB='two'\n"
    await api.services.set_env(service_id, text)
    assert fake.requests[-1].body == text.encode()
    assert fake.services[service_id].env == {"A": "1", "B": "two"}


async def test_set_env_over_64_kb_is_refused_before_sending(
    fake: FakeUnsandbox, api: AsyncClient
) -> None:
    service_id = fake.add_service()
    with pytest.raises(ValidationError, match="64 KB"):
        await api.services.set_env(service_id, {"BLOB": "x" * 65_536})
    with pytest.raises(ValidationError, match="variable name"):
        await api.services.set_env(service_id, {"1BAD": "x"})
    assert fake.request_count == 0
    await api.services.set_env(service_id, "A=" + "x" * (65_536 - 3) + "\n")  # exactly 64 KB
    assert len(fake.requests[-1].body) == 65_536


async def test_env_status_delete_and_export(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service(env={"A": "1", "B": "2", "C": "3"})
    count = len(fake.requests)

    status = await api.services.env_status(service_id)
    partial = await api.services.delete_env(service_id, ["A", "B"])
    exported = await api.services.export_env(service_id)
    gone = await api.services.delete_env(service_id)

    get, delete_keys, export, delete_all = fake.requests[count:]
    assert (delete_keys.json(), export.body, delete_all.body) == ({"keys": ["A", "B"]}, b"", b"")
    assert (get.method, export.method, delete_all.method) == ("GET", "POST", "DELETE")
    assert (status.count, partial.count, gone.has_vault) == (3, 1, False)
    assert isinstance(exported, EnvExport)
    assert (exported.env, exported["env"]) == ("C=3\n", "C=3\n")
    assert "C=3" not in repr(exported)


async def test_env_errors(fake: FakeUnsandbox, api: AsyncClient) -> None:
    service_id = fake.add_service()
    with pytest.raises(BadRequestError) as bad:  # the fake's parser reads lines, not JSON
        await api.services.set_env(service_id, "not a variable line\n")
    assert bad.value.error == "invalid_env"
    with pytest.raises(NotFoundError, match="environment vault not found"):
        await api.services.delete_env(service_id)
    fake.accounts[TEST_PUBLIC_KEY].tier = "free"
    with pytest.raises(PermissionDeniedError, match="free tier"):
        await api.services.export_env(service_id)
