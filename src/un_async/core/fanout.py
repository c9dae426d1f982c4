"""Fan-out: run many executions with bounded concurrency, yielding outcomes as they finish.

:class:`ExecutionStream` is an async iterator of :class:`ExecutionOutcome` in completion
order. One execution failing (a bad request, an API error, a deadline) produces an
outcome carrying the error; the batch goes on. When the consumer stops — ``break`` out of
``async for``, an exception in its body, :meth:`ExecutionStream.aclose` or leaving
``async with`` — executions still running are cancelled, and with them (through the
client's cancel-on-abandon) their server-side jobs::

    async with client.execute_many(requests, concurrency=32) as outcomes:
        async for outcome in outcomes:
            print(outcome.index, outcome.result["stdout"] if outcome.ok else outcome.error)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from types import TracebackType
from typing import Any, Self

import attrs

from un_async.core.errors import ValidationError
from un_async.core.models import ExecutionRequest, ExecutionResult

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ExecutionOutcome",
    "ExecutionStream",
    "ProgressCallback",
    "RequestLike",
    "as_request",
]

DEFAULT_CONCURRENCY = 16

RequestLike = ExecutionRequest | tuple[str, str] | Mapping[str, Any]
"""An :class:`ExecutionRequest`, a ``(language, code)`` pair, or a mapping of its fields."""


@attrs.frozen(kw_only=True)
class ExecutionOutcome:
    """One finished item of a batch: ``result`` or ``error``, never both.

    ``index`` is the item's position in the input; ``request`` is ``None`` only when the
    item could not be turned into a request (then ``error`` is a ``ValidationError``).
    """

    index: int
    request: ExecutionRequest | None
    result: ExecutionResult | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the execution produced a result (whatever its exit code)."""
        return self.error is None

    def unwrap(self) -> ExecutionResult:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


ProgressCallback = Callable[[int, int | None, ExecutionOutcome], None]
"""``progress(completed, total, outcome)``; ``total`` is ``None`` for unsized inputs."""


def as_request(item: RequestLike) -> ExecutionRequest:
    """Turn one batch item into an :class:`ExecutionRequest` (``ValidationError`` if not)."""
    if isinstance(item, ExecutionRequest):
        return item
    if isinstance(item, Mapping):
        try:
            return ExecutionRequest(**item)
        except TypeError as exc:
            raise ValidationError(f"invalid execution request fields: {exc}") from None
    if isinstance(item, tuple) and len(item) == 2:
        return ExecutionRequest(language=item[0], code=item[1])
    raise ValidationError(
        "expected an ExecutionRequest, a (language, code) pair or a mapping, "
        f"not {type(item).__name__}"
    )


class _Batch:
    """The running state, kept apart from the stream so tasks never reference the stream
    (dropping the stream then cancels the work at once)."""

    def __init__(
        self,
        run: Callable[[ExecutionRequest], Awaitable[ExecutionResult]],
        items: Iterator[tuple[int, RequestLike]],
        concurrency: int,
    ) -> None:
        self.run = run
        self.items = items
        self.concurrency = concurrency
        self.pending: set[asyncio.Task[ExecutionOutcome]] = set()
        self.ready: deque[ExecutionOutcome] = deque()
        self.signal: asyncio.Future[None] | None = None
        self.failure: BaseException | None = None
        self.exhausted = False
        self.stopped = False

    def fill(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.exhausted and not self.stopped and len(self.pending) < self.concurrency:
            try:
                index, item = next(self.items)
            except StopIteration:
                self.exhausted = True
            except Exception as exc:  # the caller's iterable broke: end the batch with it
                self.exhausted = True
                self.failure = exc
            else:
                task = loop.create_task(self.one(index, item))
                self.pending.add(task)
                task.add_done_callback(self.done)

    async def one(self, index: int, item: RequestLike) -> ExecutionOutcome:
        try:
            request = as_request(item)
        except Exception as exc:
            return ExecutionOutcome(index=index, request=None, error=exc)
        try:
            result = await self.run(request)
        except Exception as exc:
            return ExecutionOutcome(index=index, request=request, error=exc)
        return ExecutionOutcome(index=index, request=request, result=result)

    def done(self, task: asyncio.Task[ExecutionOutcome]) -> None:
        self.pending.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:  # a BaseException such as KeyboardInterrupt
            self.failure = self.failure or error
        else:
            self.ready.append(task.result())
        if not self.stopped:
            self.fill()
        if self.signal is not None and not self.signal.done():
            self.signal.set_result(None)

    async def next(self) -> ExecutionOutcome:
        self.fill()
        while not self.ready:
            if self.failure is not None:
                failure, self.failure = self.failure, None
                await self.stop()
                raise failure
            if not self.pending:
                raise StopAsyncIteration
            self.signal = asyncio.get_running_loop().create_future()
            try:
                await self.signal
            except asyncio.CancelledError:
                await asyncio.shield(self.stop())
                raise
            finally:
                self.signal = None
        return self.ready.popleft()

    def cancel(self) -> None:
        self.stopped = True
        for task in self.pending:
            if not task.get_loop().is_closed():
                task.cancel()

    async def stop(self) -> None:
        self.cancel()
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)


class ExecutionStream:
    """Async iterator of :class:`ExecutionOutcome`, in completion order (module doc).

    Work starts on the first ``__anext__`` (or ``async with``); at most ``concurrency``
    executions run at once. ``progress`` is called for each outcome just before it is
    yielded. Keep a reference only as long as you consume: the stream cancels its
    remaining work when it is closed or dropped.
    """

    def __init__(
        self,
        run: Callable[[ExecutionRequest], Awaitable[ExecutionResult]],
        requests: Iterable[RequestLike],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressCallback | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError(f"concurrency must be a positive integer, got {concurrency!r}")
        self.total: int | None = len(requests) if isinstance(requests, Sized) else None
        self.completed = 0
        self._progress = progress
        self._batch = _Batch(run, enumerate(requests), concurrency)
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ExecutionOutcome:
        if self._closed:
            raise StopAsyncIteration
        outcome = await self._batch.next()
        self.completed += 1
        if self._progress is not None:
            self._progress(self.completed, self.total, outcome)
        return outcome

    async def collect(self) -> list[ExecutionOutcome]:
        """Consume the stream; every outcome, ordered by ``index``."""
        try:
            return sorted([outcome async for outcome in self], key=lambda o: o.index)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Cancel executions still running and wait until they have stopped; idempotent."""
        self._closed = True
        await self._batch.stop()

    async def __aenter__(self) -> Self:
        self._batch.fill()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        batch = getattr(self, "_batch", None)  # absent when __init__ raised
        if batch is not None:
            batch.cancel()
