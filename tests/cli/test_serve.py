"""``un-async serve``: an unsandbox-compatible API that runs code for real (local backend).

One server process serves the whole module. It is spoken to with the SDK, with raw HTTP
signed by the tests' own signer (:mod:`support.signed_http`), and by the unmodified
example programs; every program really runs.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from support.cli_process import (
    UN_ASYNC,
    base_env,
    read_stdout_lines,
    run_cli,
    run_cli_each,
    stop_process,
)
from support.signed_http import sign
from un_async import AsyncClient

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EXPORT = re.compile(r"^export (UNSANDBOX_[A-Z_]+)=(\S+)$")


@attrs.frozen
class Served:
    """A running ``un-async serve``: its URL and the key pair it printed."""

    url: str
    public_key: str
    secret_key: str
    languages: tuple[str, ...]

    def env(self) -> dict[str, str]:
        return base_env(
            UNSANDBOX_API_URL=self.url,
            UNSANDBOX_PUBLIC_KEY=self.public_key,
            UNSANDBOX_SECRET_KEY=self.secret_key,
        )


def http(
    served: Served, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, object]]:
    """One raw request; the status and the parsed JSON body."""
    request = urllib.request.Request(  # noqa: S310 - the loopback test server
        served.url + path, data=body or None, method=method
    )
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def signed(
    served: Served,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    age: int = 0,
    secret: str | None = None,
) -> tuple[int, dict[str, object]]:
    """A request signed with the served keys (``age`` seconds in the past)."""
    stamp = str(int(time.time()) - age)
    return http(
        served,
        method,
        path,
        body,
        Authorization=f"Bearer {served.public_key}",
        X_Timestamp=stamp,
        X_Signature=sign(secret or served.secret_key, stamp, method, path, body),
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    process = subprocess.Popen(
        [str(UN_ASYNC), "serve", "--port", "0", "-q"],
        env=base_env(HOME=str(tmp_path_factory.mktemp("serve-home"))),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        exports = dict(EXPORT.fullmatch(line).groups() for line in read_stdout_lines(process, 3))  # type: ignore[union-attr]
        server = Served(
            url=exports["UNSANDBOX_API_URL"],
            public_key=exports["UNSANDBOX_PUBLIC_KEY"],
            secret_key=exports["UNSANDBOX_SECRET_KEY"],
            languages=(),
        )
        status, body = http(server, "GET", "/languages")
        assert status == 200
        languages = body["languages"]
        assert isinstance(languages, list)
        yield attrs.evolve(server, languages=tuple(languages))
    finally:
        returncode, stderr = stop_process(process, signal.SIGTERM)
    assert returncode == 0, stderr
    assert b"Traceback" not in stderr


def test_prints_a_fresh_key_pair_and_a_loopback_url(served: Served) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.url)
    assert re.fullmatch(r"unsb-pk-[0-9a-f]{4}(-[0-9a-f]{4}){3}", served.public_key)
    assert re.fullmatch(r"unsb-sk-[0-9a-f]{5}(-[0-9a-f]{5}){3}", served.secret_key)
    assert "python" in served.languages


async def test_the_sdk_runs_real_code(served: Served) -> None:
    async with AsyncClient(
        base_url=served.url,
        public_key=served.public_key,
        secret_key=served.secret_key,
        languages_cache_path=False,
    ) as client:
        result = await client.execute_code("python", "print(sum(range(10)))")
        assert (result.status, result.stdout, result.exit_code) == ("completed", "45\n", 0)
        failed = await client.execute_code("python", "import sys; sys.exit(3)")
        assert failed.exit_code == 3
        job_id = await client.execute_async("python", "print('later')")
        waited = await client.wait_for_job(job_id, timeout=30)
        assert waited.stdout == "later\n"
        doomed = await client.execute_async("python", "import time; time.sleep(600)")
        assert (await client.cancel_job(doomed))["status"] == "cancelled"
        assert (await client.wait_for_job(doomed, timeout=30)).status == "cancelled"
        jobs = {job.job_id: job.status for job in await client.list_jobs()}
        assert jobs[job_id] == "completed"
        assert jobs[doomed] == "cancelled"
        assert "python" in await client.get_languages(refresh=True)


def test_raw_signed_http(served: Served) -> None:
    body = json.dumps({"language": "python", "code": "print(6 * 7)"}).encode()
    status, reply = signed(served, "POST", "/execute", body)
    assert (status, reply["stdout"], reply["status"]) == (200, "42\n", "completed")

    status, reply = signed(served, "POST", "/execute", body, secret="unsb-sk-not-the-right-one")
    assert (status, reply["error"]) == (401, "invalid_signature")
    status, reply = signed(served, "POST", "/execute", body, age=301)
    assert status == 401
    assert "timestamp" in str(reply["message"])
    status, reply = http(served, "POST", "/execute", body)
    assert status == 401
    unknown = json.dumps({"language": "klingon", "code": "qapla"}).encode()
    status, reply = signed(served, "POST", "/execute", unknown)
    assert status == 400
    assert "klingon" in str(reply["message"])

    status, started = signed(served, "POST", "/execute/async", body)
    assert (status, started["status"]) == (200, "pending")
    status, reply = signed(served, "GET", f"/jobs/{started['job_id']}")
    assert status == 200
    assert reply["job_id"] == started["job_id"]
    status, reply = signed(served, "GET", "/jobs/no-such-job")
    assert status == 404
    assert http(served, "GET", "/health")[0] == 200


def test_the_cli_talks_to_it(served: Served, tmp_path: Path) -> None:
    awkward = (
        "import sys\n"
        "sys.stdout.buffer.write(bytes(range(256)))\n"
        "sys.stderr.buffer.write(b'\\xff\\xfe no newline')\n"
    )
    run, raw, doctor = run_cli_each(
        [
            (["run", "-l", "python", "-c", "print('via serve')"], served.env()),
            (["run", "-l", "python", "-c", awkward], served.env()),
            (["doctor"], served.env()),
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == b"via serve\n"
    # Bytes that are not UTF-8 cross the wire as stdout_base64/stderr_base64.
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == bytes(range(256))
    assert raw.stderr == b"\xff\xfe no newline"
    report = doctor.stdout.decode()
    assert doctor.returncode == 0, report
    assert "✓ keys: valid (tier serve)" in report
    assert re.search(r"^✓ runs code \(python, \d+ ms\)$", report, re.MULTILINE), report


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


EXAMPLE_LANGUAGES = {
    "hello_world_async.py": {"python"},
    "fibonacci_async.py": {"python"},
    "sync_blocking_usage.py": {"python"},
    "async_job_polling.py": {"python", "javascript"},
    "concurrent_execution.py": {"python", "javascript", "go"},
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_LANGUAGES))
def test_examples_print_real_results(served: Served, name: str, tmp_path: Path) -> None:
    missing = EXAMPLE_LANGUAGES[name] - set(served.languages)
    if missing:
        pytest.skip(f"not installed on this machine: {', '.join(sorted(missing))}")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name)],
        env=served.env(),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    lines = done.stdout.decode().splitlines()
    expected = {
        "hello_world_async.py": ["Hello World", "status=completed exit_code=0"],
        "fibonacci_async.py": [f"fib({n}) = {fib(n)}" for n in range(11)],
        "sync_blocking_usage.py": [
            "Hello from a blocking call",
            f"Languages available: {len(served.languages)}",
            "Detected: go",
            "Hello from inside a running loop",
        ],
        "concurrent_execution.py": [
            "Language: python, Output: Python",
            "Language: javascript, Output: JavaScript",
            "Language: go, Output: Go",
        ],
    }
    if name == "async_job_polling.py":
        assert "Output: Job started" in lines
        assert "Status: completed" in lines
        assert any(line.startswith("Cancelled ") and line.endswith(": cancelled") for line in lines)
    else:
        assert lines == expected[name]


def test_non_loopback_needs_allow_remote(tmp_path: Path) -> None:
    run = run_cli("serve", "--host", "0.0.0.0", env=base_env(), cwd=tmp_path)  # noqa: S104
    assert run.returncode == 2
    assert run.stdout == b""
    assert b"--allow-remote" in run.stderr
    assert run.stderr.count(b"\n") == 1


def test_a_given_account_and_sigint(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(UN_ASYNC), "serve", "--port", "0", "--account", "unsb-pk-mine:unsb-sk-mine"],
        env=base_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines = read_stdout_lines(process, 3)
    finally:
        returncode, stderr = stop_process(process, signal.SIGINT)
    assert lines[1:] == [
        "export UNSANDBOX_PUBLIC_KEY=unsb-pk-mine",
        "export UNSANDBOX_SECRET_KEY=unsb-sk-mine",
    ]
    assert returncode == 0
    assert b"serving the unsandbox API on http://127.0.0.1:" in stderr
