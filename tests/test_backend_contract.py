"""The backend contract: required operations, fail-closed selection, contexts, capabilities."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Generator
from typing import Any

import pluggy
import pytest

from un_async import AsyncClient, ClientConfig, JobTimeoutError, UnsupportedOperationError
from un_async.core.errors import UnsandboxError
from un_async.plugin import (
    BackendContext,
    BaseExecutor,
    Credentials,
    ExecutionRequest,
    ExecutionResult,
    JobStatus,
    PluginHost,
    Record,
    RegisterBackend,
    hookimpl,
)


class NativeBackend(BaseExecutor):
    """Finishes each job when the test says so; the client awaits it without polling."""

    name = "native"
    requires_credentials = False
    native_wait = True

    def __init__(self, context: BackendContext | None = None) -> None:
        self.context = context
        self.done: dict[str, asyncio.Future[ExecutionResult]] = {}
        self.cancelled: list[str] = []
        self.polls = 0
        self.submitted = asyncio.Event()

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        job_id = f"job-{len(self.done) + 1}"
        self.done[job_id] = asyncio.get_running_loop().create_future()
        self.submitted.set()
        return ExecutionResult(job_id=job_id, status=JobStatus.RUNNING)

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        self.polls += 1
        return ExecutionResult(job_id=job_id, status=JobStatus.RUNNING)

    async def wait_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return await self.done[job_id]

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        self.cancelled.append(job_id)
        return Record({"job_id": job_id, "status": "cancelled"})

    async def get_languages(self, credentials: Credentials) -> list[str]:
        return ["python"]

    async def aclose(self) -> None:
        return None


class DuckBackend:
    """Not a BaseExecutor, but it has every required operation."""

    name = "duck"
    requires_credentials = False

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        return ExecutionResult(
            job_id="duck-1", status=JobStatus.COMPLETED, stdout=request.code, exit_code=0
        )

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return ExecutionResult(job_id=job_id, status=JobStatus.COMPLETED)

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        return Record({"job_id": job_id, "status": "cancelled"})

    async def get_languages(self, credentials: Credentials) -> list[str]:
        return ["python"]

    async def aclose(self) -> None:
        return None


class IncompleteBackend:
    """Has submit and cancel only: must be refused, never replaced by the HTTP backend."""

    name = "incomplete"

    async def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("never called")

    async def cancel_job(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("never called")


class BackendPlugin:
    def __init__(self) -> None:
        self.contexts: list[BackendContext] = []

    @hookimpl
    def register_backends(self, register: RegisterBackend) -> None:
        def build(context: BackendContext) -> BaseExecutor:
            self.contexts.append(context)
            return NativeBackend(context)

        register("native", build)


def host_with(*plugins: object) -> PluginHost:
    return PluginHost(load_entry_points=False, plugins=plugins)


@pytest.mark.parametrize("backend", [object(), 42, IncompleteBackend()])
def test_an_object_that_is_not_a_backend_is_refused_at_construction(backend: object) -> None:
    with pytest.raises(TypeError, match="backend must be a backend name or a BaseExecutor"):
        AsyncClient(backend=backend, public_key="pk", secret_key="sk")


def test_the_refusal_names_the_missing_operations() -> None:
    with pytest.raises(TypeError) as caught:
        AsyncClient(backend=IncompleteBackend())
    assert "get_job, get_languages, aclose" in str(caught.value)


def test_a_backend_class_missing_a_required_operation_cannot_be_instantiated() -> None:
    class Partial(BaseExecutor):
        async def submit(
            self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
        ) -> ExecutionResult:
            raise AssertionError

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


async def test_a_duck_typed_backend_runs_and_lacks_the_optional_capabilities() -> None:
    async with AsyncClient(backend=DuckBackend(), plugins=host_with()) as client:
        result = await client.execute_code("python", "print(1)")
        assert result.stdout == "print(1)"
        assert isinstance(client.executor, BaseExecutor)
        assert client.executor.name == "duck"
        with pytest.raises(UnsupportedOperationError) as caught:
            await client.list_snapshots()
    error = caught.value
    assert (error.backend, error.operation) == ("duck", "list_snapshots")
    assert "backend 'duck' does not support list_snapshots" in str(error)
    assert isinstance(error, UnsandboxError)
    assert not hasattr(error, "status")  # not an HTTP error: no invented status code


async def test_the_resource_api_is_unsupported_unless_a_backend_offers_it() -> None:
    backend = NativeBackend()
    with pytest.raises(UnsupportedOperationError, match=r"sessions\.create"):
        await backend.api_call(Credentials("", "", "none"), "sessions.create", "POST", "/sessions")


def test_a_factory_receives_its_own_options_and_the_environment() -> None:
    plugin = BackendPlugin()
    environ = {"UN_ASYNC_NATIVE_DEPTH": "7", "UN_ASYNC_BACKEND": "native"}
    client = AsyncClient(
        plugins=host_with(plugin), environ=environ, backend_options={"width": 3}
    )
    [context] = plugin.contexts
    assert client.config.backend == "native"
    assert context.name == "native"
    assert context.setting("width") == 3
    assert context.setting("depth") == "7"  # UN_ASYNC_NATIVE_DEPTH, read by the backend
    assert context.setting("height", 1) == 1
    assert context.env_name("memory_mb") == "UN_ASYNC_NATIVE_MEMORY_MB"
    assert context.config is client.config
    assert isinstance(client.executor, NativeBackend)


def test_the_client_config_knows_no_backend_variables() -> None:
    config = ClientConfig.from_env({"UN_ASYNC_CASSETTE": "x.json", "UN_ASYNC_LOCAL_MEMORY_MB": "9"})
    assert dict(config.options) == {}


def test_register_backends_is_called_through_pluggy_so_wrappers_see_it() -> None:
    seen: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def register_backends(self, register: RegisterBackend) -> Generator[None, None, None]:
            seen.append("before")
            yield
            seen.append("after")

    factories = host_with(BackendPlugin(), Wrapper()).backend_factories()
    assert seen == ["before", "after"]
    assert {"native", "unsandbox", "replay"} <= set(factories)


def test_a_plugin_backend_replaces_a_builtin_of_the_same_name() -> None:
    class Override:
        @hookimpl
        def register_backends(self, register: RegisterBackend) -> None:
            register("unsandbox", NativeBackend)

    client = AsyncClient(backend="unsandbox", plugins=host_with(Override()))
    assert isinstance(client.executor, NativeBackend)


async def test_a_native_wait_backend_is_awaited_not_polled() -> None:
    backend = NativeBackend()
    async with AsyncClient(backend=backend, plugins=host_with()) as client:
        pending = asyncio.ensure_future(client.execute_code("python", "print(1)"))
        await backend.submitted.wait()
        backend.done["job-1"].set_result(
            ExecutionResult(job_id="job-1", status=JobStatus.COMPLETED, stdout="1\n", exit_code=0)
        )
        result = await pending
    assert result.stdout == "1\n"
    assert backend.polls == 0


async def test_a_native_wait_past_its_deadline_cancels_the_job() -> None:
    backend = NativeBackend()
    async with AsyncClient(backend=backend, plugins=host_with()) as client:
        with pytest.raises(JobTimeoutError) as caught:
            await client.execute_code("python", "loop()", timeout=0.05)
    assert caught.value.job_id == "job-1"
    assert backend.cancelled == ["job-1"]


def test_importing_the_sdk_does_not_import_aiohttp() -> None:
    code = (
        "import sys, un_async, un_async.plugin\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
        "from un_async import NotFoundError\n"
        "import aiohttp\n"
        "assert issubclass(NotFoundError, aiohttp.ClientResponseError)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_plugin_module_reexports_what_a_backend_author_needs() -> None:
    import un_async.plugin as plugin_api

    for name in plugin_api.__all__:
        assert getattr(plugin_api, name) is not None
    assert plugin_api.hookimpl is not None
    assert isinstance(plugin_api.hookimpl, pluggy.HookimplMarker)


def test_a_backend_class_is_refused_until_instantiated() -> None:
    with pytest.raises(TypeError, match="instantiate it first"):
        AsyncClient(backend=NativeBackend)


def test_a_backend_context_never_shows_the_environment() -> None:
    context = BackendContext(
        name="native",
        config=ClientConfig(),
        plugins=host_with(),
        environ={"UNSANDBOX_SECRET_KEY": "very-secret-value"},
        options={"token": "also-secret"},
    )
    assert "very-secret-value" not in repr(context)
    assert "also-secret" not in repr(context)


async def test_a_backends_own_timeout_error_is_not_a_deadline() -> None:
    class SlowToFail(NativeBackend):
        async def submit(
            self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
        ) -> ExecutionResult:
            raise TimeoutError("the backend's own timeout")

    async with AsyncClient(backend=SlowToFail(), plugins=host_with()) as client:
        with pytest.raises(TimeoutError) as caught:
            await client.execute_async("python", "print(1)")
    assert not isinstance(caught.value, JobTimeoutError)


def test_errors_survive_pickling() -> None:
    import pickle

    from un_async import JobLostError

    lost = pickle.loads(pickle.dumps(JobLostError("gone", job_id="job-1")))
    assert (str(lost), lost.job_id) == ("gone", "job-1")
    unsupported = pickle.loads(
        pickle.dumps(UnsupportedOperationError("local", "sessions.create", "use unsandbox"))
    )
    assert str(unsupported) == "backend 'local' does not support sessions.create; use unsandbox"
