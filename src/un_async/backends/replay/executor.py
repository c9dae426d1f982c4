"""Execution-level record and replay: executors that wrap or replace any backend.

:class:`RecordingExecutor` forwards every operation of the backend contract to an inner
backend — the unsandbox service, the local backend or any third-party one — and records
the normalised request with its value or SDK error and how long it took. Polls of a job
that a waiting ``submit`` created, or the native wait (``wait_job``) of a backend that
awaits jobs itself, are attached to that submit, with the time from submit to the final
state and their number. Resource calls (``api_call``) are recorded by name, method, path,
query and body.

:class:`ReplayExecutor` answers from a cassette without any network. A waiting ``submit``
whose recording reached a final state returns that final state directly (after
``until_final`` seconds under ``recorded`` latency), so a replayed ``execute_code`` gives
the recorded result without polling; if the recording never reached a final state the
submit reply is returned and the job's recorded polls are served, in order, to
``poll_job`` (the last non-final state repeats), while ``wait_job`` waits until the
caller's deadline, as the recorded wait did. A replay waits the way the recording's
backend did (``native_wait`` is read from the cassette). Other identical requests are
served in recorded order.
"""

from __future__ import annotations

import asyncio
import os
import time
from asyncio import sleep
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar, cast

from un_async.backends.replay.cassette import Cassette, Interaction
from un_async.backends.replay.codec import (
    decode_error,
    encode_error,
    fresh,
    plain,
    value_codec,
)
from un_async.backends.replay.errors import CassetteFormatError
from un_async.backends.replay.matching import api_request, operation_request, submit_request
from un_async.backends.replay.modes import Latency, RecordMode
from un_async.backends.replay.recorder import CassetteRecorder
from un_async.backends.replay.redaction import SecretSet
from un_async.backends.replay.session import CassetteSession
from un_async.core.credentials import Credentials
from un_async.core.errors import ConfigurationError
from un_async.core.executor import BaseExecutor, SudoCallback, as_executor
from un_async.core.models import (
    ExecutionRequest,
    ExecutionResult,
    JobInfo,
    JobStatus,
    Record,
    Snapshot,
)

__all__ = ["RecordingExecutor", "ReplayExecutor"]

T = TypeVar("T")
CassetteSource = Cassette | CassetteSession | str | os.PathLike[str]


def _elapsed(started: float) -> float:
    return round(time.perf_counter() - started, 6)


def _timing(started: float) -> dict[str, float]:
    return {"elapsed": _elapsed(started)}


UNFINISHED = {"unfinished": True}
"""The recorded response of a ``wait_job`` its caller gave up on (deadline, cancel)."""


class RecordingExecutor(CassetteRecorder[BaseExecutor], BaseExecutor):
    """Wraps ``inner`` (any backend: a :class:`~un_async.core.executor.BaseExecutor` or an
    object :func:`~un_async.core.executor.as_executor` accepts) and records it.

    ``target`` is a :class:`CassetteSession`, a file path (recorded in mode ``all``) or
    ``None`` (kept in memory: see :attr:`cassette`). The recording is saved by
    :meth:`aclose` unless ``save_on_close=False`` (then call :meth:`save` or
    :meth:`discard`). ``secrets`` are redacted in addition to the credentials seen and
    the ``UNSANDBOX_*`` environment. The recorder waits for jobs as ``inner`` does
    (``native_wait``) and needs credentials when it does.
    """

    name = "recording"

    def __init__(
        self,
        inner: object,
        target: CassetteSession | str | os.PathLike[str] | None = None,
        *,
        save_on_close: bool = True,
        secrets: SecretSet | None = None,
    ) -> None:
        if isinstance(target, CassetteSession):
            session = target
        else:
            session = CassetteSession(
                level="execution", mode=RecordMode.ALL, path=target, secrets=secrets
            )
        if not session.recording:
            raise ConfigurationError(f"{session!r} does not record in its current mode")
        self.inner = as_executor(inner)
        self.session = session
        self.save_on_close = save_on_close
        self._waiting: dict[str, tuple[Interaction, float]] = {}
        self._closed = False
        self.requires_credentials = self.inner.requires_credentials  # as the inner needs
        self.native_wait = self.inner.native_wait
        self.cache_languages = self.inner.cache_languages
        session.recording_through(self.inner.name, native_wait=self.native_wait)

    @property
    def cassette(self) -> Cassette:
        """What has been recorded (plus, in ``new_episodes`` mode, the loaded file)."""
        return self.session.cassette

    def owns(self, job_id: str) -> bool:
        """True while this recorder attaches ``job_id``'s polls or wait to a submit."""
        return job_id in self._waiting

    def __repr__(self) -> str:
        return f"RecordingExecutor({self.inner!r}, {self.session.source!r})"

    def describe(self) -> dict[str, Any]:
        """The inner backend's facts, plus where they are recorded."""
        return {**self.inner.describe(), "recording_to": self.session.source}

    async def _record(
        self, credentials: Credentials, request: dict[str, Any], call: Awaitable[T]
    ) -> tuple[T, Interaction]:
        self.session.secrets.add_credentials(credentials)
        encode, _ = value_codec(request["operation"])
        started = time.perf_counter()
        try:
            value = await call
        except asyncio.CancelledError:
            if request["operation"] == "wait_job":
                self.session.add(
                    Interaction(request=request, response=dict(UNFINISHED), timing=_timing(started))
                )
            raise
        except Exception as exc:
            error = encode_error(exc)
            if error is not None:
                self.session.add(
                    Interaction(request=request, response={"error": error}, timing=_timing(started))
                )
            raise
        interaction = Interaction(
            request=request, response={"value": encode(value)}, timing=_timing(started)
        )
        self.session.add(interaction)
        return value, interaction

    async def _simple(
        self, credentials: Credentials, call: Awaitable[T], operation: str, **arguments: Any
    ) -> T:
        value, _ = await self._record(credentials, operation_request(operation, **arguments), call)
        return value

    async def _attached(
        self, job_id: str, waiting: tuple[Interaction, float], call: Awaitable[ExecutionResult]
    ) -> ExecutionResult:
        """Run a poll or wait of a waiting submit's job, recorded inside that submit."""
        interaction, submitted = waiting
        polls = interaction.polls if interaction.polls is not None else []
        interaction.polls = polls
        started = time.perf_counter()
        try:
            result = await call
        except Exception as exc:
            error = encode_error(exc)
            if error is not None:
                polls.append({"response": {"error": error}, "timing": _timing(started)})
                interaction.timing["polls"] = len(polls)
                self.session.changed()
            raise
        polls.append({"response": {"value": plain(result)}, "timing": _timing(started)})
        interaction.timing["polls"] = len(polls)
        if result.is_final:
            interaction.timing["until_final"] = _elapsed(submitted)
            self._waiting.pop(job_id, None)
        self.session.changed()
        return result

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        started = time.perf_counter()
        result, interaction = await self._record(
            credentials,
            submit_request(request, wait=wait),
            self.inner.submit(credentials, request, wait=wait),
        )
        if wait:
            interaction.timing["polls"] = 0
            if result.is_final:
                interaction.timing["until_final"] = interaction.timing["elapsed"]
            elif result.job_id is not None:
                interaction.polls = []
                self._waiting[result.job_id] = (interaction, started)
        return result

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return await self._simple(
            credentials, self.inner.get_job(credentials, job_id), "get_job", job_id=job_id
        )

    async def poll_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        waiting = self._waiting.get(job_id)
        if waiting is None:
            return await self._simple(
                credentials, self.inner.poll_job(credentials, job_id), "poll_job", job_id=job_id
            )
        return await self._attached(job_id, waiting, self.inner.poll_job(credentials, job_id))

    async def wait_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        waiting = self._waiting.get(job_id)
        if waiting is None:
            return await self._simple(
                credentials, self.inner.wait_job(credentials, job_id), "wait_job", job_id=job_id
            )
        return await self._attached(job_id, waiting, self.inner.wait_job(credentials, job_id))

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        self._waiting.pop(job_id, None)
        return await self._simple(
            credentials, self.inner.cancel_job(credentials, job_id), "cancel_job", job_id=job_id
        )

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        return await self._simple(credentials, self.inner.list_jobs(credentials), "list_jobs")

    async def list_job_states(self, credentials: Credentials) -> Mapping[str, Mapping[str, Any]]:
        """The inner backend's job listing for the shared poller; not recorded, because
        replay answers every listing with no jobs (see :class:`ReplayExecutor`)."""
        return await self.inner.list_job_states(credentials)

    async def get_languages(self, credentials: Credentials) -> list[str]:
        return await self._simple(
            credentials, self.inner.get_languages(credentials), "get_languages"
        )

    async def create_snapshot(
        self, credentials: Credentials, session_id: str, *, name: str | None, hot: bool
    ) -> str:
        call = self.inner.create_snapshot(credentials, session_id, name=name, hot=hot)
        return await self._simple(
            credentials, call, "create_snapshot", session_id=session_id, name=name, hot=hot
        )

    async def list_snapshots(self, credentials: Credentials) -> list[Snapshot]:
        return await self._simple(
            credentials, self.inner.list_snapshots(credentials), "list_snapshots"
        )

    async def restore_snapshot(self, credentials: Credentials, snapshot_id: str) -> Record:
        call = self.inner.restore_snapshot(credentials, snapshot_id)
        return await self._simple(credentials, call, "restore_snapshot", snapshot_id=snapshot_id)

    async def delete_snapshot(
        self, credentials: Credentials, snapshot_id: str, *, sudo: SudoCallback | None = None
    ) -> Record:
        call = self.inner.delete_snapshot(credentials, snapshot_id, sudo=sudo)
        return await self._simple(credentials, call, "delete_snapshot", snapshot_id=snapshot_id)

    async def api_call(
        self,
        credentials: Credentials,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        text: str | None = None,
        query: Mapping[str, str] | None = None,
        sudo: SudoCallback | None = None,
    ) -> Any:
        """Forward the resource call and record its reply (or SDK error); a sudo
        challenge is answered live and only the final reply is recorded."""
        request = api_request(operation, method, path, body=body, text=text, query=query)
        call = self.inner.api_call(
            credentials, operation, method, path, body=body, text=text, query=query, sudo=sudo
        )
        value, _ = await self._record(credentials, request, call)
        return value


def _is_final(entry: dict[str, Any]) -> bool:
    """True when a recorded poll or wait holds a terminal job state."""
    value = entry["response"].get("value")
    return isinstance(value, dict) and JobStatus.parse(value.get("status")).is_terminal


async def _until_cancelled() -> NoReturn:
    """Wait until the caller gives up (its deadline or a cancellation)."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable: the future is never resolved")


class ReplayExecutor(BaseExecutor):
    """Serves executor operations from a cassette, opening no connection.

    ``source`` is a :class:`Cassette`, a :class:`CassetteSession` or a cassette file.
    ``latency`` is ``none`` (default), ``recorded`` or ``scaled:F``. A request without an
    unused recorded match raises :class:`CassetteMissError`, unless ``fallback`` is given:
    then it is forwarded there (``new_episodes``: a :class:`RecordingExecutor` on the same
    session). ``repeat=True`` serves a cassette's interactions again once all were used.

    ``native_wait`` follows the fallback when there is one, else the recording's backend
    (the cassette's ``backend`` entry), so the client waits for replayed jobs the way it
    waited when they were recorded.
    """

    name = "replay"

    def __init__(
        self,
        source: CassetteSource,
        *,
        latency: str | float | Latency = "none",
        fallback: BaseExecutor | None = None,
        repeat: bool = False,
    ) -> None:
        if isinstance(source, CassetteSession):
            session = source
        elif isinstance(source, Cassette):
            session = CassetteSession(level="execution", cassette=source, repeat=repeat)
        else:
            session = CassetteSession(level="execution", path=source, repeat=repeat)
        self.session = session
        self.latency = Latency.parse(latency)
        self.fallback = fallback
        self._jobs: dict[str, list[dict[str, Any]]] = {}
        self._closed = False
        # Replay needs no credentials, unless misses go to a fallback that does.
        self.requires_credentials = fallback is not None and fallback.requires_credentials
        self.native_wait = fallback.native_wait if fallback is not None else session.native_wait

    def __repr__(self) -> str:
        return f"ReplayExecutor({self.session.source!r}, latency={str(self.latency)!r})"

    def describe(self) -> dict[str, Any]:
        """The cassette and the backend it was recorded through."""
        return {
            "backend": self.name,
            "cassette": self.session.source,
            "recorded_through": dict(self.session.recorded_backend or {}),
        }

    def _find(self, credentials: Credentials, request: dict[str, Any]) -> Interaction | None:
        self.session.secrets.add_credentials(credentials)
        interaction = self.session.take(request)
        if interaction is None and self.fallback is None:
            raise self.session.miss(request)
        return interaction

    async def _sleep(self, seconds: Any) -> None:
        delay = self.latency.delay(seconds if isinstance(seconds, int | float) else 0.0)
        if delay:
            await sleep(delay)

    @staticmethod
    def _value(response: dict[str, Any], operation: str) -> Any:
        """A fresh value (or the recorded error, raised) for a stored response."""
        error = response.get("error")
        if isinstance(error, dict):
            raise decode_error(error)
        if "value" not in response:
            raise CassetteFormatError(f"recorded {operation} response has no value or error")
        return value_codec(operation)[1](response["value"])

    async def _serve(
        self, interaction: Interaction, operation: str, response: dict[str, Any], seconds: Any
    ) -> Any:
        """The interaction's value (decoded once, served as a fresh copy) or its error."""
        await self._sleep(seconds)
        if "error" in response:
            self._value(response, operation)  # raises a fresh exception every time
        if interaction.decoded is None:
            interaction.decoded = self._value(response, operation)
        return fresh(interaction.decoded)

    async def _replay(
        self,
        credentials: Credentials,
        request: dict[str, Any],
        forward: Callable[[BaseExecutor], Awaitable[T]],
    ) -> T:
        interaction = self._find(credentials, request)
        if interaction is None:
            assert self.fallback is not None
            return await forward(self.fallback)
        value = await self._serve(
            interaction,
            request["operation"],
            interaction.response,
            interaction.timing.get("elapsed"),
        )
        return cast(T, value)

    async def _operation(
        self,
        credentials: Credentials,
        forward: Callable[[BaseExecutor], Awaitable[T]],
        operation: str,
        **arguments: Any,
    ) -> T:
        return await self._replay(credentials, operation_request(operation, **arguments), forward)

    async def submit(
        self, credentials: Credentials, request: ExecutionRequest, *, wait: bool
    ) -> ExecutionResult:
        interaction = self._find(credentials, submit_request(request, wait=wait))
        if interaction is None:
            assert self.fallback is not None
            return await self.fallback.submit(credentials, request, wait=wait)
        polls = interaction.polls
        if wait and polls and _is_final(polls[-1]):
            final = polls[-1]["response"]
            until = interaction.timing.get("until_final", interaction.timing.get("elapsed"))
            return cast(ExecutionResult, await self._serve(interaction, "submit", final, until))
        result = cast(
            ExecutionResult,
            await self._serve(
                interaction, "submit", interaction.response, interaction.timing.get("elapsed")
            ),
        )
        if wait and polls is not None and result.job_id is not None:
            # Nothing polled before the deadline: the submitted state repeats.
            self._jobs[result.job_id] = list(polls) or [{"response": interaction.response}]
        return result

    async def get_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        return await self._operation(
            credentials, lambda e: e.get_job(credentials, job_id), "get_job", job_id=job_id
        )

    async def poll_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        queue = self._jobs.get(job_id)
        if queue:
            if len(queue) == 1 and not _is_final(queue[0]):
                entry = queue[0]  # the last recorded state repeats until the caller gives up
            else:
                entry = queue.pop(0)
                if not queue:
                    del self._jobs[job_id]
            await self._sleep(entry.get("timing", {}).get("elapsed"))
            return cast(ExecutionResult, self._value(entry["response"], "poll_job"))
        fallback = self.fallback
        if isinstance(fallback, RecordingExecutor) and fallback.owns(job_id):
            return await fallback.poll_job(credentials, job_id)
        return await self._operation(
            credentials, lambda e: e.poll_job(credentials, job_id), "poll_job", job_id=job_id
        )

    async def wait_job(self, credentials: Credentials, job_id: str) -> ExecutionResult:
        """The job's recorded final state: from a waiting submit's recorded polls or wait
        (the first final one), else a recorded ``wait_job``. A recording that never saw
        the job finish waits until the caller's deadline, as the recorded wait did."""
        queue = self._jobs.pop(job_id, None)
        if queue is not None:
            for entry in queue:
                await self._sleep(entry.get("timing", {}).get("elapsed"))
                if "error" in entry["response"] or _is_final(entry):
                    return cast(ExecutionResult, self._value(entry["response"], "wait_job"))
            await _until_cancelled()
        fallback = self.fallback
        if isinstance(fallback, RecordingExecutor) and fallback.owns(job_id):
            return await fallback.wait_job(credentials, job_id)
        request = operation_request("wait_job", job_id=job_id)
        interaction = self._find(credentials, request)
        if interaction is None:
            assert fallback is not None
            return await fallback.wait_job(credentials, job_id)
        if interaction.response.get("unfinished") is True:
            await _until_cancelled()
        elapsed = interaction.timing.get("elapsed")
        served = await self._serve(interaction, "wait_job", interaction.response, elapsed)
        return cast(ExecutionResult, served)

    async def cancel_job(self, credentials: Credentials, job_id: str) -> Record:
        self._jobs.pop(job_id, None)
        return await self._operation(
            credentials, lambda e: e.cancel_job(credentials, job_id), "cancel_job", job_id=job_id
        )

    async def list_jobs(self, credentials: Credentials) -> list[JobInfo]:
        return await self._operation(credentials, lambda e: e.list_jobs(credentials), "list_jobs")

    async def list_job_states(self, credentials: Credentials) -> Mapping[str, Mapping[str, Any]]:
        """No jobs: a shared poller then serves each wait from that job's recorded polls,
        whatever the timing, instead of from listings whose number depends on timing."""
        return {}

    async def get_languages(self, credentials: Credentials) -> list[str]:
        return await self._operation(
            credentials, lambda e: e.get_languages(credentials), "get_languages"
        )

    async def create_snapshot(
        self, credentials: Credentials, session_id: str, *, name: str | None, hot: bool
    ) -> str:
        return await self._operation(
            credentials,
            lambda e: e.create_snapshot(credentials, session_id, name=name, hot=hot),
            "create_snapshot",
            session_id=session_id,
            name=name,
            hot=hot,
        )

    async def list_snapshots(self, credentials: Credentials) -> list[Snapshot]:
        return await self._operation(
            credentials, lambda e: e.list_snapshots(credentials), "list_snapshots"
        )

    async def restore_snapshot(self, credentials: Credentials, snapshot_id: str) -> Record:
        return await self._operation(
            credentials,
            lambda e: e.restore_snapshot(credentials, snapshot_id),
            "restore_snapshot",
            snapshot_id=snapshot_id,
        )

    async def delete_snapshot(
        self, credentials: Credentials, snapshot_id: str, *, sudo: SudoCallback | None = None
    ) -> Record:
        return await self._operation(
            credentials,
            lambda e: e.delete_snapshot(credentials, snapshot_id, sudo=sudo),
            "delete_snapshot",
            snapshot_id=snapshot_id,
        )

    async def api_call(
        self,
        credentials: Credentials,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        text: str | None = None,
        query: Mapping[str, str] | None = None,
        sudo: SudoCallback | None = None,
    ) -> Any:
        """The recorded reply (a fresh copy) of the matching resource call; ``sudo`` is
        never asked, since the recording holds the call's final outcome."""
        return await self._replay(
            credentials,
            api_request(operation, method, path, body=body, text=text, query=query),
            lambda e: e.api_call(
                credentials, operation, method, path, body=body, text=text, query=query, sudo=sudo
            ),
        )

    async def aclose(self) -> None:
        """Close the fallback (which saves new episodes); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.fallback is not None:
            await self.fallback.aclose()
