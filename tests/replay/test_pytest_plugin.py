"""The pytest plugin, exercised on a small inner test suite in every record mode."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import un_async_pytest
from un_async.backends.replay import Latency, RecordMode
from un_async.core.errors import ConfigurationError

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

CONFTEST = """
import pytest
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox


@pytest.fixture
async def un_async_client_options(un_async_record_mode):
    options = {"languages_cache_path": False}
    if un_async_record_mode == "none":  # replay only: nothing to talk to
        yield {**options, "base_url": "http://127.0.0.1:9"}
        return
    async with FakeUnsandbox() as fake:
        yield {
            **options,
            "base_url": fake.url,
            "public_key": TEST_PUBLIC_KEY,
            "secret_key": TEST_SECRET_KEY,
        }
"""

TESTS = """
import pytest


async def test_hello(un_async_client):
    result = await un_async_client.execute_code("python", 'print("hi")')
    assert result.stdout == "hi\\n"


@pytest.mark.un_async_cassette("shared/named")
async def test_named(un_async_client):
    assert (await un_async_client.execute_code("python", "print(2)")).stdout == "2\\n"


async def test_http(un_async_http_client):
    result = await un_async_http_client.execute_code("python", 'print("http")')
    assert result.stdout == "http\\n"


def test_plain():
    assert 1 + 1 == 2
"""

CASSETTES = {
    "test_hello": "tests/cassettes/test_inner/test_hello.json",
    "test_named": "tests/cassettes/shared/named.json",
    "test_http": "tests/cassettes/test_inner/test_http.http.json",
}


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=TESTS)
    return pytester


def run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the inner suite in-process (hypothesis's plugin off: it slows every run)."""
    return suite.runpytest(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--strict-markers", *args
    )


def interactions(suite: pytest.Pytester, test: str) -> list[dict[str, object]]:
    document = json.loads((suite.path / CASSETTES[test]).read_text(encoding="utf-8"))
    return document["interactions"]  # type: ignore[no-any-return]


def cassette_files(suite: pytest.Pytester) -> list[str]:
    root = suite.path / "tests" / "cassettes"
    return sorted(str(path.relative_to(suite.path)) for path in root.rglob("*.json"))


def test_mode_none_without_cassettes_errors_with_a_hint(suite: pytest.Pytester) -> None:
    result = run(suite)
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(["*does not exist and record mode is 'none'*'once'*"])
    assert not (suite.path / "tests").exists()


def test_once_records_then_mode_none_replays(suite: pytest.Pytester) -> None:
    run(suite, "--un-async-record-mode=once").assert_outcomes(passed=4)
    assert cassette_files(suite) == sorted(CASSETTES.values())
    recorded = {test: interactions(suite, test) for test in CASSETTES}

    run(suite).assert_outcomes(passed=4)  # replay, with no server started
    run(suite, "--un-async-record-mode=once").assert_outcomes(passed=4)  # exists: replays
    assert {test: interactions(suite, test) for test in CASSETTES} == recorded


def test_new_episodes_appends_what_the_cassette_lacks(suite: pytest.Pytester) -> None:
    run(suite, "--un-async-record-mode=once").assert_outcomes(passed=4)
    suite.makepyfile(
        test_inner=TESTS.replace(
            '    assert result.stdout == "hi\\n"\n',
            '    assert result.stdout == "hi\\n"\n'
            "    await un_async_client.execute_code('python', 'print(3)')\n",
        )
    )
    result = run(suite, "-k", "hello")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*CassetteMissError*closest is #0 submit python*code*"])

    run(suite, "--un-async-record-mode=new_episodes", "-k", "hello").assert_outcomes(
        passed=1, deselected=3
    )
    codes = [item["request"]["code"] for item in interactions(suite, "test_hello")]  # type: ignore[index]
    assert codes == ['print("hi")', "print(3)"]
    run(suite, "-k", "hello").assert_outcomes(passed=1, deselected=3)


def test_all_rerecords_from_scratch(suite: pytest.Pytester) -> None:
    run(suite, "--un-async-record-mode=once").assert_outcomes(passed=4)
    path = suite.path / CASSETTES["test_hello"]
    document = json.loads(path.read_text(encoding="utf-8"))
    document["interactions"].append(document["interactions"][0])
    path.write_text(json.dumps(document), encoding="utf-8")

    run(suite, "--un-async-record-mode=all").assert_outcomes(passed=4)
    assert len(interactions(suite, "test_hello")) == 1


def test_a_failing_test_writes_no_cassette(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_failing="""
        async def test_records_then_fails(un_async_client):
            await un_async_client.execute_code("python", "print(1)")
            raise AssertionError("midway")
        """
    )
    result = run(suite, "--un-async-record-mode=once", "test_failing.py")
    result.assert_outcomes(failed=1)
    assert not (suite.path / "tests").exists()


def test_record_modes_are_validated(suite: pytest.Pytester) -> None:
    result = run(suite, "--un-async-record-mode=onec")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'onec'*"])

    suite.makeini(INI + "un_async_record_mode = onec\n")
    result = run(suite)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown record mode 'onec'*"])


def test_the_cassette_directory_is_configurable(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "un_async_cassette_dir = recordings\n")
    run(suite, "--un-async-record-mode=once", "-k", "hello").assert_outcomes(passed=1, deselected=3)
    assert (suite.path / "recordings" / "test_inner" / "test_hello.json").is_file()


def test_the_plugin_is_registered_and_documented(suite: pytest.Pytester) -> None:
    run(suite, "--markers").stdout.fnmatch_lines(["@pytest.mark.un_async_cassette(name):*"])
    run(suite, "--help").stdout.fnmatch_lines(["*--un-async-record-mode=*"])


# -- inertness: loading the plugin imports neither un_async nor aiohttp ------------------

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("un_async", "aiohttp")


def plugin_arguments() -> list[str]:
    """Load the plugin as installed; an install made before the plugin moved to
    ``un_async_pytest`` still names the old module, so name the new one explicitly."""
    installed = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    if installed.get("un_async") == "un_async_pytest":
        return []
    return ["-p", "no:un_async", "-p", "un_async_pytest"]


def test_the_entry_point_names_the_light_module() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["pytest11"] == {"un_async": "un_async_pytest"}
    assert project["tool"]["setuptools"]["package-data"]["un_async_pytest"] == ["py.typed"]


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, un_async_pytest\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_a_session_that_uses_no_fixture_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "un_async_replay_latency = scaled:0.5\n")  # validated, lightly
    pytester.makepyfile(
        test_light=f"""
        import sys

        def test_light(request):
            assert request.config.getoption("un_async_record_mode") == "new_episodes"
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
            assert loaded == []
        """
    )
    result = pytester.runpytest_subprocess(
        *plugin_arguments(),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:pytest_cov",
        "--un-async-record-mode=new_episodes",
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("value", ["none", "ONCE", " new-episodes ", "all", "", "onec", "al"])
def test_the_light_record_mode_check_agrees_with_record_mode_parse(value: str) -> None:
    expected: str | None = None
    try:
        RecordMode.parse(value)
    except ConfigurationError as exc:
        expected = str(exc)
    assert un_async_pytest._record_mode_problem(value) == expected
    assert {mode.value for mode in RecordMode} == set(un_async_pytest.MODES)


@pytest.mark.parametrize(
    "value",
    [
        "none",
        "",
        "Recorded",
        "scaled:0",
        "scaled:2.5",
        "scaled:-1",
        "scaled:x",
        "scaled:inf",
        "fast",
        "2",
    ],
)
def test_the_light_latency_check_agrees_with_latency_parse(value: str) -> None:
    expected: str | None = None
    try:
        Latency.parse(value)
    except ConfigurationError as exc:
        expected = str(exc)
    assert un_async_pytest._latency_problem(value) == expected
