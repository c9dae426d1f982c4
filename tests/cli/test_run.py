"""``un-async run`` against the fake server: exit statuses, pass-through, JSON, options.

Every test runs the installed console script in a subprocess.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from support.cli_process import (
    Run,
    base_env,
    fake_env,
    run_cli,
    run_cli_each,
    run_cli_many,
    run_in_process,
)
from un_async.testing import TEST_PUBLIC_KEY, FakeUnsandbox

ERROR_PREFIX = b"un-async: error: "


def assert_one_error_line(run: Run) -> str:
    """The run's stderr is exactly one ``un-async: error:`` line; returns its text."""
    assert run.stderr.startswith(ERROR_PREFIX), run.stderr
    assert run.stderr.count(b"\n") == 1, run.stderr
    assert run.stderr.endswith(b"\n")
    assert b"Traceback" not in run.stderr
    return run.stderr[len(ERROR_PREFIX) :].decode()


def test_each_exit_status(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    exits_7 = "import sys; sys.exit(7)  # exit-status test"
    times_out = "while True: pass  # exit-status test"
    cancelled = "print('cancelled elsewhere')  # exit-status test"
    slow = "import time; time.sleep(60)  # exit-status test"
    cli_fake.script("python", exits_7, stdout="seven\n", stderr="oops\n", exit_code=7)
    cli_fake.script("python", times_out, status="timeout", exit_code=None)
    cli_fake.script("python", cancelled, status="cancelled", exit_code=None)
    cli_fake.script("python", slow, duration=60)
    env = fake_env(cli_fake)
    cases: dict[str, tuple[list[str], int]] = {
        "program's code": (["run", "-l", "python", "-c", exits_7], 7),
        "service timeout": (["run", "-l", "python", "-c", times_out], 124),
        "cancelled result": (["run", "-l", "python", "-c", cancelled], 130),
        "client deadline": (["run", "-l", "python", "-c", slow, "-t", "0.5"], 124),
        "no program": (["run"], 2),
        "bad option value": (["run", "-l", "python", "-c", "1", "--network", "open"], 2),
        "missing file": (["run", "missing.py"], 2),
        "unknown option": (["run", "--no-such-option"], 2),
        "unknown language": (["run", "-l", "klingon", "-c", "qapla"], 4),
        "invalid request": (["run", "-l", "python", "-c", "1", "-e", "1BAD=x"], 4),
        "unknown job": (["jobs", "get", "no-such-job"], 4),
    }
    # One installed-script run per distinct exit status; the other causes of the same
    # status run in this process (same ``main``, no interpreter start-up).
    scripted = ["program's code", "service timeout", "cancelled result", "client deadline",
                "unknown option", "unknown language"]  # fmt: skip
    runs = run_cli_many([cases[name][0] for name in scripted], env=env, cwd=tmp_path)
    outcome = dict(zip(scripted, runs, strict=True))
    for name, (args, _) in cases.items():
        if name not in outcome:
            outcome[name] = run_in_process(*args, env=env)
    for name, (_, expected) in cases.items():
        assert outcome[name].returncode == expected, (name, outcome[name].stderr)

    assert outcome["program's code"].stdout == b"seven\n"
    assert outcome["program's code"].stderr == b"oops\n"
    assert outcome["service timeout"].stdout == b""
    assert b"timed out" in outcome["service timeout"].stderr
    assert b"cancelled" in outcome["cancelled result"].stderr
    assert outcome["client deadline"].stderr.endswith(
        b"was cancelled: the client deadline (-t 0.5 s) passed\n"
    )
    for name in ("no program", "bad option value", "missing file", "unknown option"):
        assert outcome[name].stdout == b""
        assert_one_error_line(outcome[name])
    unknown_language = assert_one_error_line(outcome["unknown language"])
    assert "klingon" in unknown_language
    assert "get_languages()" not in unknown_language
    assert "1BAD" in assert_one_error_line(outcome["invalid request"])
    assert "no-such-job" in assert_one_error_line(outcome["unknown job"])
    # The client deadline cancelled the job on the server.
    slow_jobs = [job for job in cli_fake.jobs.values() if job.code == slow]
    assert len(slow_jobs) == 1
    assert slow_jobs[0].cancelled_at is not None


def test_credential_errors_exit_3(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    args = ["run", "-l", "python", "-c", "print('creds')"]
    no_keys = base_env(UNSANDBOX_API_URL=cli_fake.url)
    wrong_key = fake_env(cli_fake, UNSANDBOX_SECRET_KEY="unsb-sk-wrong-wrong-wrong-wrong")
    missing = run_cli(*args, env=no_keys, cwd=tmp_path)
    rejected = run_in_process(*args, env=wrong_key)
    assert missing.returncode == 3
    advice = assert_one_error_line(missing)
    assert "No credentials found" in advice
    for fix in (
        "UNSANDBOX_PUBLIC_KEY",
        "~/.unsandbox/accounts.csv",
        "--account N",
        "--backend local",
    ):
        assert fix in advice
    assert "public_key=" not in advice
    assert "account_index" not in advice
    assert rejected.returncode == 3
    text = assert_one_error_line(rejected)
    assert "401" in text
    assert "unsb-sk-wrong" not in text


def test_output_passes_through_byte_for_byte(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    code = "emit_awkward_bytes()  # pass-through test"
    stdout = "nul:\x00 esc:\x1b[31mred\x1b[0m cr:\r tab:\t é ✓ 🙂 no newline at the end"
    stderr = "warning:\x07 \r\n  second line without newline"
    cli_fake.script("python", code, stdout=stdout, stderr=stderr, exit_code=0)
    run = run_cli("run", "-l", "python", "-c", code, env=fake_env(cli_fake), cwd=tmp_path)
    assert run.returncode == 0
    assert run.stdout == stdout.encode()
    assert run.stderr == stderr.encode()


def test_json_prints_one_object_and_keeps_the_exit_status(
    cli_fake: FakeUnsandbox, tmp_path: Path
) -> None:
    exits_5 = "import sys; sys.exit(5)  # json test"
    times_out = "while True: pass  # json test"
    cli_fake.script("python", exits_5, stdout="five\n", exit_code=5)
    cli_fake.script("python", times_out, status="timeout", exit_code=None)
    env = fake_env(cli_fake)
    five = run_cli("run", "--json", "-l", "python", "-c", exits_5, env=env, cwd=tmp_path)
    timed_out = run_in_process("run", "--json", "-l", "python", "-c", times_out, env=env)
    failed = run_in_process("run", "--json", "-l", "klingon", "-c", "qapla", env=env)
    assert five.returncode == 5
    assert five.stdout.count(b"\n") == 1
    result = json.loads(five.stdout)
    assert (result["status"], result["exit_code"], result["stdout"]) == ("completed", 5, "five\n")
    assert result["job_id"]
    assert timed_out.returncode == 124
    assert json.loads(timed_out.stdout)["status"] == "timeout"
    assert failed.returncode == 4
    assert failed.stdout.count(b"\n") == 1
    error = json.loads(failed.stdout)["error"]
    assert error["type"] in {"ValidationError", "BadRequestError"}  # client or server check
    assert error["exit_status"] == 4
    assert error["message"] == assert_one_error_line(failed).strip()


def test_json_errors_are_one_object_on_stdout(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    slow = "import time; time.sleep(60)  # json deadline test"
    cli_fake.script("python", slow, duration=60)
    env = fake_env(cli_fake)
    usage, no_keys, deadline = run_cli_each(
        [
            (["run", "--json", "-l", "python", "-c", "1", "--network", "open"], env),
            (
                ["run", "--json", "-l", "python", "-c", "1"],
                base_env(UNSANDBOX_API_URL=cli_fake.url),
            ),
            (["run", "--json", "-t", "0.5", "-l", "python", "-c", slow], env),
        ],
        cwd=tmp_path,
    )
    for run, kind, status in ((usage, "UsageError", 2), (no_keys, "CredentialsError", 3)):
        assert run.returncode == status
        assert run.stdout.count(b"\n") == 1
        assert json.loads(run.stdout) == {
            "error": {
                "type": kind,
                "message": assert_one_error_line(run).strip(),
                "exit_status": status,
            }
        }
    assert deadline.returncode == 124
    assert deadline.stdout.count(b"\n") == 1
    state = json.loads(deadline.stdout)
    assert state["status"] == "timeout"
    assert state["job_id"] in cli_fake.jobs
    assert cli_fake.jobs[state["job_id"]].cancelled_at is not None


def test_every_option_is_sent(cli_fake: FakeUnsandbox, tmp_path: Path) -> None:
    code = "print(open('data.csv').read())  # options test"
    cli_fake.script("python", code, stdout="ok\n", artifacts={"report.txt": b"made \x00 here"})
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.csv").write_bytes(b"a,b\n\xff\x00")
    program = tmp_path / "prog.py"
    program.write_text(code)
    run = run_cli(
        "run",
        str(program),
        "-e",
        "GREETING=hello world",
        "-e",
        "FROM_HERE",
        "-f",
        "sub/data.csv",
        "-n",
        "semitrusted",
        "--ttl",
        "42",
        "--vcpu",
        "2",
        "-o",
        "out",
        env=fake_env(cli_fake, FROM_HERE="copied"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == b"ok\n"
    sent = [r.json() for r in cli_fake.requests if r.method == "POST" and r.json()["code"] == code]
    assert len(sent) == 1
    body = sent[0]
    assert body["language"] == "python"
    assert body["env"] == {"GREETING": "hello world", "FROM_HERE": "copied"}
    assert [f["filename"] for f in body["input_files"]] == ["data.csv"]
    content = body["input_files"][0].get("content", body["input_files"][0].get("content_base64"))
    assert base64.b64decode(content) == b"a,b\n\xff\x00"
    assert (body["network_mode"], body["ttl"], body["vcpu"]) == ("semitrusted", 42, 2)
    assert body["return_artifact"] is True
    assert (tmp_path / "out" / "report.txt").read_bytes() == b"made \x00 here"
    assert b"wrote" in run.stderr


def test_programs_from_files_stdin_and_shebangs(
    cli_fake: FakeUnsandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.js").write_text("console.log('from a file')")
    (tmp_path / "script").write_text("#!/usr/bin/env python3\nprint('from a shebang')\n")
    (tmp_path / "notes").write_text("no language here\n")
    env = fake_env(cli_fake)
    by_extension, by_shebang, unknown, quiet = (
        run_in_process(*args, env=env)
        for args in (["run", "a.js"], ["run", "script"], ["run", "notes"], ["run", "-q", "a.js"])
    )
    from_stdin = run_cli(
        "run", "-l", "ruby", "-", env=env, cwd=tmp_path, stdin=b"puts 'from stdin'\n"
    )
    assert by_extension.stdout == b"from a file\n"
    assert by_shebang.stdout == b"from a shebang\n"
    assert from_stdin.stdout == b"from stdin\n"
    assert quiet.stdout == b"from a file\n"
    assert unknown.returncode == 2
    assert "-l LANGUAGE" in assert_one_error_line(unknown)
    languages = {
        r.json()["code"]: r.json()["language"] for r in cli_fake.requests if r.method == "POST"
    }
    assert languages["console.log('from a file')"] == "javascript"
    assert languages["#!/usr/bin/env python3\nprint('from a shebang')\n"] == "python"
    assert languages["puts 'from stdin'\n"] == "ruby"


def test_a_long_multiline_error_is_one_line(tmp_path: Path) -> None:
    from support.cli_process import ThreadedFake
    from un_async.testing import Fault

    message = "first line\nsecond line\n" + "x" * 5000
    with ThreadedFake() as fake:
        fake.inject(Fault.status(400, {"error": "bad", "message": message}, path="/execute"))
        run = run_cli("run", "-l", "python", "-c", "print(1)", env=fake_env(fake), cwd=tmp_path)
    assert run.returncode == 4
    text = assert_one_error_line(run)
    assert "first line second line" in text
    assert TEST_PUBLIC_KEY not in text


def test_debug_adds_the_traceback(cli_fake: FakeUnsandbox) -> None:
    args = ["run", "-l", "python", "-c", "print('debug')"]
    env = base_env(UNSANDBOX_API_URL=cli_fake.url)  # no keys: a credentials error
    plain = run_in_process(*args, env=env)
    debug = run_in_process("--debug", *args, env=env)
    assert plain.returncode == debug.returncode == 3
    assert b"Traceback" not in plain.stderr
    assert debug.stderr.startswith(b"Traceback")
    assert debug.stderr.splitlines()[-1] == plain.stderr.strip()


def test_language_names_are_lower_cased_and_aliases_accepted(cli_fake: FakeUnsandbox) -> None:
    env = fake_env(cli_fake)
    given = {
        "Python": "python",
        "py": "python",
        "JS": "javascript",
        "node": "javascript",
        "sh": "bash",
        "c++": "cpp",
        "ts": "typescript",
        "rs": "rust",
    }
    for name in given:
        ran = run_in_process("run", "-q", "-l", name, "-c", f"alias test {name}", env=env)
        assert ran.returncode == 0, ran.stderr
    sent = {
        r.json()["code"]: r.json()["language"]
        for r in cli_fake.requests
        if r.method == "POST" and r.json().get("code", "").startswith("alias test ")
    }
    assert sent == {f"alias test {name}": language for name, language in given.items()}
