"""``un-async doctor``: one ✓/✗ line per check, no secrets, exit 0 when code can run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from support.cli_process import ThreadedFake, base_env, fake_env, run_cli_each, run_in_process
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox, Fault

RUNS_CODE = re.compile(r"^✓ runs code \(python, \d+ ms\)$", re.MULTILINE)


def assert_no_secrets(text: str) -> None:
    """At most 8 characters of the public key; no 5-character run of the secret part of
    the secret key."""
    assert TEST_PUBLIC_KEY[:9] not in text
    secret = TEST_SECRET_KEY.removeprefix("unsb-sk-")
    for start in range(len(secret) - 4):
        assert secret[start : start + 5] not in text


def test_doctor(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    without_keys = base_env(UNSANDBOX_API_URL=cli_fake.url)
    healthy, local, unisolated = run_cli_each(
        [
            (["doctor"], fake_env(cli_fake)),
            (["doctor", "--backend", "local"], base_env()),
            (["--backend", "local", "doctor"], base_env(UN_ASYNC_LOCAL_ISOLATION="none")),
        ],
        cwd=tmp_path,
    )
    as_json = run_in_process("doctor", "--json", env=fake_env(cli_fake))
    no_keys = run_in_process("doctor", env=without_keys)
    unknown = run_in_process("doctor", "--backend", "nonesuch", env=base_env())

    text = healthy.stdout.decode()
    assert healthy.returncode == 0, text
    assert "✓ backend: unsandbox" in text
    assert f"✓ credentials: from environment (public key {TEST_PUBLIC_KEY[:8]}…)" in text
    assert f"✓ API: {cli_fake.url}/health answered in" in text
    assert "✓ keys: valid" in text
    assert "✓ languages: " in text
    assert RUNS_CODE.search(text), text
    assert_no_secrets(text + healthy.stderr.decode())
    ran = [r.json() for r in cli_fake.requests if r.method == "POST" and r.path == "/execute"]
    assert {"language": "python", "code": "print('ok')"}.items() <= ran[-1].items()

    report = json.loads(as_json.stdout)
    assert report["can_run"] is True
    assert {check["label"] for check in report["checks"]} >= {"backend", "credentials", "API"}
    assert_no_secrets(as_json.stdout.decode())

    assert no_keys.returncode == 1
    assert "✗ credentials:" in no_keys.stdout.decode()
    assert "UNSANDBOX_PUBLIC_KEY" in no_keys.stdout.decode()

    local_text = local.stdout.decode()
    assert local.returncode == 0, local_text
    assert "✓ credentials: not needed by the local backend" in local_text
    assert "isolation: " in local_text
    assert "python" in next(line for line in local_text.splitlines() if "languages:" in line)
    assert RUNS_CODE.search(local_text), local_text

    # Level none runs code, with a ✗ and a pointer to the README for each weakness.
    weak = unisolated.stdout.decode()
    assert unisolated.returncode == 0, weak
    assert "✗ isolation: none (network host, filesystem host)" in weak
    assert "— install bubblewrap for a private filesystem" in weak
    assert "()" not in weak
    warned = [line for line in weak.splitlines() if line.startswith("✗ isolation: ")][1:]
    assert warned
    assert all(line.endswith("README (#the-local-backend)") for line in warned)
    assert RUNS_CODE.search(weak), weak

    assert unknown.returncode == 1
    assert "✗ backend: unknown backend 'nonesuch'" in unknown.stdout.decode()


def test_a_server_without_key_validation_is_a_warning(tmp_path: Path) -> None:
    with ThreadedFake() as fake:
        fake.inject(
            Fault.status(404, {"error": "not_found", "message": "no"}, path="/keys/validate")
        )
        report = run_in_process("doctor", env=fake_env(fake))
    text = report.stdout.decode()
    assert report.returncode == 0, text
    assert "! keys: not checked: the server has no POST /keys/validate (404)" in text
    assert "✗" not in text.replace("✗ rich", "")
    assert RUNS_CODE.search(text), text
