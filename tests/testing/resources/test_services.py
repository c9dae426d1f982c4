"""Service endpoints of the fake server (spec §3.5): a happy and an error path per route."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

import pytest

from support.signed_http import Reply
from support.waiting import until
from un_async.testing import FakeUnsandbox

Call = Callable[..., Awaitable[Reply]]

ENV_TEXT = b"# app settings\nexport API_URL=https://example.test\nGREETING='hello world'\nEMPTY=\n"


# --- create, list, get ---------------------------------------------------------------------


async def test_create_with_every_option(fake: FakeUnsandbox, call: Call) -> None:
    options = {
        "name": "my-app",
        "ports": [80, 8080],
        "bootstrap": "https://example.test/setup.sh",
        "network_mode": "zerotrust",
        "custom_domains": ["app.example.test"],
        "vcpu": 2,
        "service_type": "tcp",
        "unfreeze_on_demand": True,
        "golden_image": "ubuntu-24.04",
        "input_files": [{"filename": "a.txt", "content_base64": base64.b64encode(b"a").decode()}],
    }

    reply = await call("POST", "/services", options)

    body = reply.json()
    assert reply.status == 200
    assert body["service_id"] == body["id"]
    assert body["id"].startswith("unsb-service-")
    assert body["url"] == "https://my-app.on.unsandbox.com"
    for key in ("name", "ports", "bootstrap", "network_mode", "custom_domains", "vcpu"):
        assert body[key] == options[key], key
    assert (body["service_type"], body["golden_image"]) == ("tcp", "ubuntu-24.04")
    assert (body["unfreeze_on_demand"], body["status"], body["locked"]) == (True, "running", False)
    stored = fake.services[body["id"]]
    assert stored.input_files == ["a.txt"]
    assert stored.account in fake.accounts


async def test_create_with_a_bootstrap_script_and_comma_ports(
    fake: FakeUnsandbox, call: Call
) -> None:
    options = {"name": "web", "ports": "80, 443", "bootstrap_content": "#!/bin/sh\nserve\n"}
    body = (await call("POST", "/services", options)).json()
    assert (body["ports"], body["network_mode"]) == ([80, 443], "semitrusted")
    assert fake.services[body["id"]].bootstrap_content == "#!/bin/sh\nserve\n"


async def test_a_taken_name_is_a_409_for_every_account(
    fake: FakeUnsandbox, call: Call, call_other: Call
) -> None:
    assert (await call("POST", "/services", {"name": "shop"})).status == 200

    taken = await call_other("POST", "/services", {"name": "shop"})

    assert (taken.status, taken.json()["error"]) == (409, "name_taken")
    assert len(fake.services) == 1


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"name": "Bad_Name"},
        {"name": "ok", "ports": [0]},
        {"name": "ok", "ports": "80,http"},
        {"name": "ok", "service_type": "gopher"},
        {"name": "ok", "custom_domains": ["not a domain"]},
        {"name": "ok", "vcpu": 16},
    ],
)
async def test_create_rejects_bad_options(
    fake: FakeUnsandbox, call: Call, options: dict[str, object]
) -> None:
    reply = await call("POST", "/services", options)
    assert reply.status == 400
    assert fake.services == {}


async def test_create_past_the_vcpu_limit(fake: FakeUnsandbox, call: Call) -> None:
    fake.vcpu_limit = 2
    reply = await call("POST", "/services", {"name": "big", "vcpu": 4})
    assert (reply.status, reply.json()["error"]) == (429, "concurrency_limit_reached")


async def test_list_and_get(fake: FakeUnsandbox, call: Call, other_key: str) -> None:
    service_id = fake.add_service(name="api")
    fake.add_service(other_key)

    listed = (await call("GET", "/services")).json()
    one = (await call("GET", f"/services/{service_id}")).json()

    assert (listed["count"], [s["id"] for s in listed["services"]]) == (1, [service_id])
    assert (one["name"], one["status"]) == ("api", "running")


async def test_list_and_get_errors(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    service_id = fake.add_service()
    assert (await call("GET", "/services", auth=False)).status == 401
    assert (await call_other("GET", f"/services/{service_id}")).status == 404


# --- update, resize ------------------------------------------------------------------------


async def test_patch_updates_settings(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    body = (
        await call(
            "PATCH",
            f"/services/{service_id}",
            {"unfreeze_on_demand": True, "show_freeze_page": False, "vcpu": 3},
        )
    ).json()
    assert (body["unfreeze_on_demand"], body["show_freeze_page"], body["vcpu"]) == (True, False, 3)
    assert body["memory_mb"] == 3 * 2048


async def test_patch_errors(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}"
    assert (await call("PATCH", path, {"color": "red"})).status == 400
    assert (await call("PATCH", path, {"show_freeze_page": "no"})).status == 400
    fake.vcpu_limit = 2
    limited = await call("PATCH", path, {"vcpu": 4, "unfreeze_on_demand": True})
    assert (limited.status, limited.json()["error"]) == (429, "concurrency_limit_reached")
    assert (fake.services[service_id].vcpu, fake.services[service_id].unfreeze_on_demand) == (
        1,
        False,
    )


async def test_resize(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    body = (await call("POST", f"/services/{service_id}/resize", {"vcpu": 4})).json()
    assert body["vcpu"] == 4


async def test_resize_errors(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service(vcpu=2)
    assert (await call("POST", f"/services/{service_id}/resize", {})).status == 400
    fake.vcpu_limit = 3
    limited = await call("POST", f"/services/{service_id}/resize", {"vcpu": 4})
    assert limited.status == 429
    assert limited.json()["active_executions"] == 2


async def test_resizing_a_frozen_service_uses_no_budget(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service(status="frozen")
    fake.vcpu_limit = 1
    assert (await call("POST", f"/services/{service_id}/resize", {"vcpu": 8})).status == 200
    assert (await call("POST", f"/services/{service_id}/unfreeze", {})).status == 429


# --- delete, lock, unlock ------------------------------------------------------------------


async def test_delete_needs_sudo_and_frees_the_name(
    fake: FakeUnsandbox, call: Call, confirm: Call
) -> None:
    service_id = fake.add_service(name="gone")

    deleted = await confirm("DELETE", f"/services/{service_id}")

    assert deleted.json() == {
        "id": service_id,
        "service_id": service_id,
        "status": "deleted",
        "message": "Service deleted",
    }
    assert fake.services == {}
    assert (await call("POST", "/services", {"name": "gone"})).status == 200


async def test_a_locked_service_refuses_deletion(
    fake: FakeUnsandbox, call: Call, confirm: Call
) -> None:
    service_id = fake.add_service()
    locked = (await call("POST", f"/services/{service_id}/lock", {})).json()
    assert locked["locked"] is True

    refused = await call("DELETE", f"/services/{service_id}")
    assert (refused.status, refused.json()["error"]) == (409, "locked")

    unlocked = await confirm("POST", f"/services/{service_id}/unlock", {})
    assert unlocked.json()["locked"] is False
    assert (await confirm("DELETE", f"/services/{service_id}")).status == 200


async def test_unlock_with_a_wrong_code_is_refused(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service(locked=True)
    challenge = await call("POST", f"/services/{service_id}/unlock", {})
    headers = {"X-Sudo-OTP": "999999", "X-Sudo-Challenge": challenge.json()["challenge_id"]}
    assert (await call("POST", f"/services/{service_id}/unlock", {}, headers=headers)).status == 403
    assert fake.services[service_id].locked is True


async def test_lock_of_another_accounts_service(fake: FakeUnsandbox, call_other: Call) -> None:
    service_id = fake.add_service()
    assert (await call_other("POST", f"/services/{service_id}/lock", {})).status == 404
    assert fake.services[service_id].locked is False


# --- freeze, unfreeze ----------------------------------------------------------------------


async def test_freeze_and_unfreeze(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    assert (await call("POST", f"/services/{service_id}/freeze", {})).json()["status"] == "frozen"
    assert (await call("POST", f"/services/{service_id}/unfreeze", {})).json()["status"] == (
        "running"
    )


async def test_freeze_and_unfreeze_errors(fake: FakeUnsandbox, call: Call) -> None:
    assert (await call("POST", "/services/unsb-service-none/freeze", {})).status == 404
    frozen = fake.add_service(status="frozen", vcpu=2)
    fake.add_service(vcpu=1)
    fake.vcpu_limit = 2
    reply = await call("POST", f"/services/{frozen}/unfreeze", {})
    assert reply.json() == {
        "error": "concurrency_limit_reached",
        "message": "Would exceed tier concurrency",
        "active_executions": 1,
        "concurrency_limit": 2,
    }


# --- domains, logs -------------------------------------------------------------------------


async def test_domains_replace_add_remove(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}/domains"

    replaced = await call("PUT", path, {"custom_domains": ["a.example.test", "b.example.test"]})
    added = await call("PUT", path, {"add": ["c.example.test", "a.example.test"]})
    removed = await call("PUT", path, {"remove": ["b.example.test"]})

    assert replaced.json()["custom_domains"] == ["a.example.test", "b.example.test"]
    assert added.json()["custom_domains"] == ["a.example.test", "b.example.test", "c.example.test"]
    assert removed.json() == {
        "id": service_id,
        "custom_domains": ["a.example.test", "c.example.test"],
    }


async def test_domains_take_exactly_one_key(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}/domains"
    assert (await call("PUT", path, {"add": ["a.test"], "remove": ["b.test"]})).status == 400
    assert (await call("PUT", path, {})).status == 400
    assert (await call("PUT", path, {"add": "a.test"})).status == 400


async def test_logs_tail_and_all(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    fake.services[service_id].log[:] = [f"line {n}" for n in range(10)]
    fake.service_log_tail = 3
    path = f"/services/{service_id}/logs"

    tail = (await call("GET", path)).json()
    everything = (await call("GET", path + "?all=true")).json()
    legacy = (await call("GET", path + "?lines=2")).json()

    assert tail == {"id": service_id, "log": "line 7\nline 8\nline 9\n"}
    assert everything["log"].count("\n") == 10
    assert legacy["log"] == "line 8\nline 9\n"
    # the Python and JS clients sign the query too; both signatures are accepted
    signed = await call("GET", path + "?all=true", signed_path=path + "?all=true")
    assert signed.status == 200


async def test_logs_errors(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    service_id = fake.add_service()
    assert (await call("GET", f"/services/{service_id}/logs?lines=zero")).status == 400
    assert (await call_other("GET", f"/services/{service_id}/logs")).status == 404


async def test_lifecycle_events_are_logged(call: Call) -> None:
    created = (await call("POST", "/services", {"name": "logged", "bootstrap": "serve"})).json()
    path = f"/services/{created['id']}"
    await call("POST", path + "/freeze", {})
    await call("POST", path + "/unfreeze", {})

    log = (await call("GET", path + "/logs?all=true")).json()["log"]

    assert log.splitlines() == [
        "[deploy] service logged created",
        "[deploy] running bootstrap",
        "[freeze] service frozen",
        "[unfreeze] service running",
    ]


# --- redeploy, execute ---------------------------------------------------------------------


async def test_redeploy(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service(bootstrap="serve", status="frozen")
    again = (await call("POST", f"/services/{service_id}/redeploy", {})).json()
    new = (
        await call("POST", f"/services/{service_id}/redeploy", {"bootstrap_content": "run\n"})
    ).json()
    assert (again["status"], again["message"]) == ("running", "Service redeployed")
    assert new["status"] == "running"
    assert fake.services[service_id].bootstrap_content == "run\n"
    assert fake.services[service_id].redeploys == 2


async def test_redeploy_without_a_bootstrap(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    reply = await call("POST", f"/services/{service_id}/redeploy", {})
    assert (reply.status, reply.json()["error"]) == (400, "no_bootstrap")


async def test_execute_returns_a_job(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    fake.script("bash", "cat /etc/motd", stdout="welcome\n")

    reply = await call(
        "POST", f"/services/{service_id}/execute", {"command": "cat /etc/motd", "timeout": 5000}
    )

    assert reply.status == 202
    job_id = reply.json()["job_id"]
    assert reply.json()["status"] == "pending"
    assert fake.jobs[job_id].ttl == 5.0
    await until(lambda: fake.job_status(job_id) == "completed")
    job = (await call("GET", f"/jobs/{job_id}")).json()
    assert (job["stdout"], job["exit_code"], job["language"]) == ("welcome\n", 0, "bash")


async def test_execute_with_no_timeout_never_times_out(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    fake.script("bash", "sleep forever", duration=10_000.0)
    reply = await call(
        "POST", f"/services/{service_id}/execute", {"command": "sleep forever", "timeout": 0}
    )
    job_id = reply.json()["job_id"]
    fake.advance(20_000.0)
    assert fake.job_status(job_id) == "completed"


async def test_execute_errors(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service(status="frozen")
    path = f"/services/{service_id}/execute"
    assert (await call("POST", path, {"command": ""})).status == 400
    assert (await call("POST", path, {"command": "ls", "timeout": -1})).status == 400
    stopped = await call("POST", path, {"command": "ls"})
    assert (stopped.status, stopped.json()["error"]) == (409, "service_not_running")
    assert fake.jobs == {}


async def test_snapshot_of_a_service(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    body = (await call("POST", f"/services/{service_id}/snapshot", {"hot": True})).json()
    assert (body["source_type"], body["source_id"], body["hot"]) == ("service", service_id, True)


async def test_snapshot_of_an_unknown_service(call: Call) -> None:
    assert (await call("POST", "/services/unsb-service-none/snapshot", {})).status == 404


# --- environment vault ---------------------------------------------------------------------


async def test_env_vault_text_upload_status_export_delete(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}/env"
    assert (await call("GET", path)).json() == {"has_vault": False, "count": 0, "updated_at": None}

    uploaded = await call("PUT", path, raw=ENV_TEXT, headers={"Content-Type": "text/plain"})
    status = (await call("GET", path)).json()
    exported = (await call("POST", path + "/export")).json()

    assert uploaded.json()["count"] == 3
    assert (status["has_vault"], status["count"]) == (True, 3)
    assert isinstance(status["updated_at"], int)
    assert fake.services[service_id].env == {
        "API_URL": "https://example.test",
        "GREETING": "hello world",
        "EMPTY": "",
    }
    assert exported["env"] == exported["content"]
    assert exported["env"] == 'API_URL=https://example.test\nGREETING="hello world"\nEMPTY=\n'

    removed = (await call("DELETE", path, {"keys": ["EMPTY"]})).json()
    assert (removed["has_vault"], removed["count"]) == (True, 2)
    gone = (await call("DELETE", path)).json()
    assert (gone["has_vault"], gone["count"]) == (False, 0)
    assert fake.services[service_id].env is None


async def test_env_vault_json_upload_styles(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}/env"
    await call("PUT", path, {"content": "A=1\nB=2\n"})  # the JS client
    assert fake.services[service_id].env == {"A": "1", "B": "2"}
    await call("POST", path, {"env": "C=3\n"})  # the reference Python client
    assert fake.services[service_id].env == {"C": "3"}
    await call("POST", path, {"env": {"D": "a b"}})
    exported = (await call("POST", path + "/export")).json()["env"]
    assert exported == 'D="a b"\n'


async def test_env_vault_is_capped_at_64_kb(fake: FakeUnsandbox, call: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}/env"
    at_cap = b"K=" + b"v" * (64 * 1024 - 2)
    assert (
        await call("PUT", path, raw=at_cap, headers={"Content-Type": "text/plain"})
    ).status == 200
    over = await call("PUT", path, raw=at_cap + b"v", headers={"Content-Type": "text/plain"})
    assert (over.status, over.json()["error"]) == (413, "payload_too_large")


async def test_env_vault_errors(fake: FakeUnsandbox, call: Call, call_other: Call) -> None:
    service_id = fake.add_service()
    path = f"/services/{service_id}/env"
    text = {"Content-Type": "text/plain"}
    bad = await call("PUT", path, raw=b"OK=1\nnot a pair\n", headers=text)
    assert (bad.status, bad.json()["error"], bad.json()["message"]) == (
        400,
        "invalid_env",
        "line 2: expected KEY=VALUE",
    )
    assert (await call("PUT", path, {"content": 5})).status == 400
    assert (await call("DELETE", path)).status == 404  # no vault yet
    assert (await call_other("GET", path)).status == 404


async def test_env_export_is_refused_on_the_free_tier(fake: FakeUnsandbox, call: Call) -> None:
    fake.accounts[next(iter(fake.accounts))].tier = "free"
    service_id = fake.add_service(env={"A": "1"})
    reply = await call("POST", f"/services/{service_id}/env/export")
    assert (reply.status, reply.json()["error"]) == (403, "forbidden")
