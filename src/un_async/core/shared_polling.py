"""Shared polling: one ``GET /jobs`` per tick serves every job a client waits on.

Per-job polling costs one request per job per poll. The shared waiter keeps, for each
set of credentials, one ticker that lists the account's jobs and fetches
``GET /jobs/{id}`` only for jobs the listing shows finished (or in a state it cannot
classify). Jobs the listing does not show (just created, or lost), and every job while
the listing fails, are polled on their own.

A wait alone on its account polls its job itself, in its caller's task, exactly as the
per-job waiter does (both drive :class:`~un_async.core.waiting.PollState`): listing would
not save a request. When a second wait of the account arrives it starts the ticker, and
the first joins it at once, keeping its place in the schedule.

Schedule: each wait keeps the per-job due times of :class:`~un_async.core.waiting.WaitPolicy`
(300, 450, 700 ms … after the wait started, jittered). A tick runs at the earliest due
time of any waiting job and counts as a poll for every job due within ``window``
seconds, so each job is observed at least as often as it would be polled on its own,
while ticks are never closer than ``window`` (default: 0.8 times the shortest delay).
A tick's listing runs in the background, so one slow reply does not hold back the next
tick; with :data:`MAX_LISTINGS` in flight, due jobs join the newest listing (or, if that
one has been in flight longer than the schedule's longest delay, are polled on their own).

The listing is never trusted alone (its size, order, paging and freshness are not
specified, spec §3.2):

* each wait fetches its job on its own at least every ``confirm_every`` seconds (default
  :data:`CONFIRM_FACTOR` times the schedule's longest delay: 8 s), even while the listing
  shows it running; a listing that never shows a job finished therefore delays its result
  by at most that much over per-job polling;
* a listing that contradicts the jobs' own replies is a strike: one started after a job's
  own reply showed it pending or running that omits it, when the job's next own reply
  still shows it so (a truncated or partial listing), or one started after a job's own
  reply that shows it at an earlier status (a stale one). After ``max_strikes`` strikes,
  or one listing of more than ``max_listing_entries`` jobs (or twice the number of waits
  of the account, if that is more), listing is off for that account for the waiter's
  lifetime (logged once) and its jobs are polled one by one.

Failure handling is per job and the same as per-job polling
(:class:`~un_async.core.waiting.PollHealth`), a listing standing in for the polls of the
waits it serves. A listing showing a job is a successful observation of it (though a 404
from the job's own lookup while the listing still shows it is the registration race,
ridden out for ``not_found_grace``). A transient listing failure is a transient failure
of each wait it served, whose next poll is then its own ``GET /jobs/{id}`` (so a listing
that keeps failing while jobs can be fetched fails no wait). A 429 on the listing holds
the account's next tick for its ``Retry-After``; on a job's own poll, that job's next
poll. Any other listing failure turns listing off for :data:`LIST_BACKOFF` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from un_async.core.credentials import Credentials, mask_key
from un_async.core.errors import ClientClosedError, NotFoundError, RateLimitError
from un_async.core.models import ExecutionResult, JobStatus
from un_async.core.waiting import (
    TRANSIENT,
    PollHealth,
    PollState,
    WaitPolicy,
    timeout_error,
)

__all__ = [
    "CONFIRM_FACTOR",
    "LIST_BACKOFF",
    "MAX_LISTINGS",
    "MAX_LISTING_ENTRIES",
    "MAX_STRIKES",
    "JobLister",
    "SharedPollingWaiter",
]

log = logging.getLogger("un_async")

JobLister = Callable[[Credentials], Awaitable[Mapping[str, Mapping[str, Any]]]]
"""Lists an account's jobs as ``{job_id: entry}``; each entry has at least ``status``."""

PollJob = Callable[[Credentials, str], Awaitable[ExecutionResult]]

LIST_BACKOFF = 60.0
"""Seconds listing stays off for an account after a non-transient listing failure."""

MAX_LISTINGS = 2
"""Listings of one account in flight at once; beyond that, due jobs join the newest."""

CONFIRM_FACTOR = 4.0
"""Default ``confirm_every``, in multiples of the schedule's longest delay: a job's own
fetch at least every 8 s on the default schedule, about one request per job for every
four per-job polls, and a stale listing costs a wait at most 8 s."""

MAX_LISTING_ENTRIES = 5_000
"""Default ``max_listing_entries``: a bigger listing (on the order of 1 MB of JSON,
parsed on every tick) turns listing off for the account."""

MAX_STRIKES = 3
"""Default ``max_strikes``: contradictions between an account's listing and its jobs' own
replies after which listing is turned off for the account."""

_AccountKey = tuple[str, str]

_PENDING, _RUNNING, _FINAL = 0, 1, 2


def _rank(status: JobStatus) -> int | None:
    """Lifecycle order of a status (pending < running < final); ``None``: unknown."""
    if status is JobStatus.PENDING:
        return _PENDING
    if status is JobStatus.RUNNING:
        return _RUNNING
    return _FINAL if status.is_terminal else None


def _from_listing(job_id: str, entry: Mapping[str, Any]) -> ExecutionResult:
    raw_status = entry.get("status")
    language, error = entry.get("language"), entry.get("error")
    return ExecutionResult(
        job_id=job_id,
        status=JobStatus.parse(raw_status),
        raw_status=raw_status if isinstance(raw_status, str) else None,
        language=language if isinstance(language, str) else None,
        error=error if isinstance(error, str) and error else None,
        raw=entry,  # copied once, by the constructor
    )


class _Wait:
    """One caller waiting for one job in a group."""

    __slots__ = (
        "busy",
        "confirmed",
        "entry",
        "fetch_next",
        "future",
        "health",
        "index",
        "job_id",
        "last",
        "listed",
        "next_due",
        "omitted",
        "own_rank",
    )

    def __init__(
        self,
        job_id: str,
        future: asyncio.Future[ExecutionResult],
        health: PollHealth,
        first_due: float,
        last: ExecutionResult | None,
        *,
        confirmed: float,
        index: int = 0,
        own_rank: int | None = None,
    ) -> None:
        self.job_id = job_id
        self.future = future
        self.health = health
        self.next_due = first_due
        self.index = index
        self.last = last
        self.entry: Mapping[str, Any] | None = None  # newer than ``last`` when set
        self.listed = False  # the latest listing showed the job
        self.fetch_next = False  # a listing failed for it: its next poll is its own
        self.busy = False
        self.confirmed = confirmed  # loop time of its last own reply (else of the start)
        self.own_rank = own_rank  # _rank of that reply's status
        self.omitted = False  # a listing omitted it while its own reply showed it active

    def last_state(self) -> ExecutionResult | None:
        if self.entry is not None:
            return _from_listing(self.job_id, self.entry)
        return self.last

    def resolve(self, result: ExecutionResult) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class _Listing:
    """One ``GET /jobs`` in flight and the waits it serves as their due poll."""

    __slots__ = ("due", "started")

    def __init__(self, started: float, due: list[_Wait]) -> None:
        self.started = started
        self.due = due


class _Group:
    """The waits of one set of credentials and the ticker serving them."""

    __slots__ = (
        "credentials",
        "finished",
        "key",
        "list_off_until",
        "listings",
        "not_before",
        "planned",
        "task",
        "waits",
        "wakeup",
    )

    def __init__(self, key: _AccountKey, credentials: Credentials) -> None:
        self.key = key
        self.credentials = credentials
        self.waits: dict[_Wait, None] = {}
        self.task: asyncio.Task[None] | None = None
        self.wakeup = asyncio.Event()
        self.planned = math.inf
        self.list_off_until = -math.inf
        self.not_before = -math.inf  # no tick before (a 429's Retry-After)
        self.listings: list[_Listing] = []  # in flight, oldest first
        # Jobs whose own reply showed them final, and when: checked against the next listing.
        self.finished: dict[str, float] = {}

    def next_due(self) -> float:
        return min((w.next_due for w in self.waits if not w.busy), default=math.inf)


class _Solo:
    """The wait polling alone for its account, in its caller's task; ``wake`` ends its
    sleep early (a second wait arrived, or the waiter closed)."""

    __slots__ = ("sleeper",)

    def __init__(self) -> None:
        self.sleeper: asyncio.Future[None] | None = None

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.sleeper = future = loop.create_future()
        handle = loop.call_later(seconds, _set_done, future)
        try:
            await future
        finally:
            handle.cancel()
            self.sleeper = None

    def wake(self) -> None:
        if self.sleeper is not None:
            _set_done(self.sleeper)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SharedPollingWaiter:
    """A :class:`~un_async.core.waiting.JobWaiter` that polls many jobs with few requests.

    ``poll`` fetches one job (no retries); ``lister`` lists the account's jobs (see
    :meth:`~un_async.core.executor.BaseExecutor.list_job_states`). With fewer than
    ``min_listed`` waits for an account, jobs are polled on their own (``min_listed=1``:
    list even for one wait). ``window`` is the tick coalescing window in seconds.
    ``confirm_every`` (seconds; default :data:`CONFIRM_FACTOR` times the longest delay),
    ``max_strikes`` and ``max_listing_entries`` bound how much a wrong listing can cost
    (see the module doc).
    """

    def __init__(
        self,
        poll: PollJob,
        lister: JobLister,
        policy: WaitPolicy,
        *,
        min_listed: int = 2,
        window: float | None = None,
        confirm_every: float | None = None,
        max_strikes: int = MAX_STRIKES,
        max_listing_entries: int = MAX_LISTING_ENTRIES,
        rng: random.Random | None = None,
    ) -> None:
        self._poll = poll
        self._list = lister
        self.policy = policy
        self.min_listed = min_listed
        self.window = 0.8 * min(policy.schedule) if window is None else window
        longest = max(policy.schedule)
        self.confirm_every = CONFIRM_FACTOR * longest if confirm_every is None else confirm_every
        self.max_strikes = max_strikes
        self.max_listing_entries = max_listing_entries
        self._rng = rng or random.Random()
        self._groups: dict[_AccountKey, _Group] = {}
        self._solos: dict[_AccountKey, _Solo] = {}
        self._strikes: dict[_AccountKey, int] = {}
        self._unlisted: set[_AccountKey] = set()  # accounts whose listing is off for good
        self._tasks: set[asyncio.Task[None]] = set()  # tickers, listings, fetches
        self._closed = False

    async def wait(
        self,
        credentials: Credentials,
        job_id: str,
        *,
        deadline: float | None,
        last: ExecutionResult | None = None,
    ) -> ExecutionResult:
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = asyncio.get_running_loop()
        now = loop.time()
        if deadline is not None and deadline <= now:
            raise timeout_error(job_id, last)
        key = (credentials.public_key, credentials.secret_key)
        group = self._groups.get(key)
        if self.min_listed > 1 and not (group and group.waits) and key not in self._solos:
            state = PollState(self.policy, job_id, now, last)
            return await self._wait_alone(key, credentials, state, deadline)
        health = PollHealth(self.policy, job_id, now)
        first_due = now + self.policy.delay(0, self._rng)
        wait = _Wait(job_id, loop.create_future(), health, first_due, last, confirmed=now)
        return await self._wait_in_group(key, credentials, wait, deadline)

    async def aclose(self) -> None:
        """Fail pending waits with :class:`ClientClosedError` and stop every ticker."""
        self._closed = True
        for solo in self._solos.values():
            solo.wake()  # it sees the waiter closed
        for group in self._groups.values():
            for wait in group.waits:
                wait.fail(ClientClosedError("the client is closed"))
        self._groups.clear()
        tasks = list(self._tasks)  # also work of groups whose waits all ended
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one wait on its own --------------------------------------------------------------

    async def _wait_alone(
        self, key: _AccountKey, credentials: Credentials, state: PollState, deadline: float | None
    ) -> ExecutionResult:
        """Poll like the per-job waiter until final, or until a second wait of the account
        starts a group: then join it, due when this wait's next poll would have been."""
        loop = asyncio.get_running_loop()
        solo = self._solos[key] = _Solo()
        poll = functools.partial(self._poll, credentials, state.job_id)
        try:
            while True:
                due = loop.time() + state.delay(self._rng)
                while True:
                    if self._closed:
                        raise ClientClosedError("the client is closed")
                    group = self._groups.get(key)
                    if group is not None and group.waits:
                        del self._solos[key]
                        wait = self._handed_over(state, loop.create_future(), due)
                        return await self._wait_in_group(key, credentials, wait, deadline)
                    until = due if deadline is None else min(due, deadline)
                    remaining = until - loop.time()
                    if remaining <= 0:
                        break
                    await solo.sleep(remaining)
                if deadline is not None and loop.time() >= deadline:
                    raise timeout_error(state.job_id, state.last)
                result = await state.poll(poll, deadline)
                if result is not None:
                    return result
        finally:
            if self._solos.get(key) is solo:
                del self._solos[key]

    @staticmethod
    def _handed_over(
        state: PollState, future: asyncio.Future[ExecutionResult], due: float
    ) -> _Wait:
        """A group member continuing ``state``: same health, schedule place and last reply."""
        seen = state.last if state.seen_at is not None else None
        return _Wait(
            state.job_id,
            future,
            state.health,
            due,
            state.last,
            confirmed=state.seen_at if state.seen_at is not None else state.health.started,
            index=state.index,
            own_rank=None if seen is None else _rank(seen.status),
        )

    # -- waits in a group -----------------------------------------------------------------

    async def _wait_in_group(
        self, key: _AccountKey, credentials: Credentials, wait: _Wait, deadline: float | None
    ) -> ExecutionResult:
        group = self._join(key, credentials, wait)
        try:
            if deadline is None:
                return await wait.future
            async with asyncio.timeout_at(deadline):
                return await wait.future
        except TimeoutError:
            if wait.future.done() and not wait.future.cancelled():
                raise  # the job's own error, not the deadline
            raise timeout_error(wait.job_id, wait.last_state()) from None
        finally:
            group.waits.pop(wait, None)
            if wait.future.done() and not wait.future.cancelled():
                wait.future.exception()  # retrieved: no "never retrieved" warning

    def _join(self, key: _AccountKey, credentials: Credentials, wait: _Wait) -> _Group:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key, credentials)
        group.waits[wait] = None
        if group.task is None:
            group.task = self._spawn(self._run(key, group))
        elif wait.next_due < group.planned:
            group.wakeup.set()
        solo = self._solos.get(key)
        if solo is not None:
            solo.wake()  # the wait polling alone joins this group
        return group

    async def _run(self, key: _AccountKey, group: _Group) -> None:
        loop = asyncio.get_running_loop()
        try:
            while group.waits:
                group.planned = max(group.next_due(), group.not_before)
                delay = group.planned - loop.time()
                if delay > 0:
                    group.wakeup.clear()
                    try:
                        async with asyncio.timeout(None if math.isinf(delay) else delay):
                            await group.wakeup.wait()
                        continue  # woken by a new wait or a finished fetch: re-plan
                    except TimeoutError:
                        pass
                try:
                    self._tick(group, loop)
                except Exception as exc:  # a bug here must fail the waits, not hang them
                    log.exception("shared job polling failed")
                    for wait in group.waits:
                        wait.fail(exc)
                    group.waits.clear()
        finally:
            group.task = None
            if not group.waits and self._groups.get(key) is group:
                del self._groups[key]

    def _tick(self, group: _Group, loop: asyncio.AbstractEventLoop) -> None:
        """Serve every wait due within the window: by a listing, or one by one.

        Listings run as tasks, so a slow reply does not hold back the next tick: due
        waits start a new listing while fewer than :data:`MAX_LISTINGS` are in flight,
        else join the newest one — unless that has taken longer than the schedule's
        longest delay, when they are polled on their own.
        """
        now = loop.time()
        horizon = now + self.window
        due: list[_Wait] = []
        for wait in list(group.waits):
            if wait.future.done():  # its caller left (deadline, cancellation)
                group.waits.pop(wait, None)
            elif wait.busy or wait.next_due > horizon:
                continue
            elif wait.fetch_next:  # its last listing failed: poll it on its own
                self._fetch(group, wait, loop)
            else:
                due.append(wait)
        if not due:
            return
        listed = (
            len(group.waits) >= self.min_listed
            and now >= group.list_off_until
            and group.key not in self._unlisted
        )
        if listed and len(group.listings) < MAX_LISTINGS:
            listing = _Listing(now, due)
            group.listings.append(listing)
            self._spawn(self._list_and_apply(group, listing, loop))
        elif listed and now - group.listings[-1].started < max(self.policy.schedule):
            group.listings[-1].due.extend(due)
        else:  # a single wait, no listing available, or listings stuck: one by one
            for wait in due:
                self._fetch(group, wait, loop)
            return
        for wait in due:
            self._advance(wait, horizon)

    async def _list_and_apply(
        self, group: _Group, listing: _Listing, loop: asyncio.AbstractEventLoop
    ) -> None:
        found: Mapping[str, Mapping[str, Any]] | None = None
        try:
            found = await self._list(group.credentials)
        except TRANSIENT as exc:
            log.debug("job listing failed (%s); next polls one by one", exc)
            self._listing_failed(group, listing, exc, loop)
            return
        except Exception as exc:  # e.g. no such endpoint: stop listing for a while
            group.list_off_until = listing.started + LIST_BACKOFF
            log.info("job listing unavailable (%s); polling jobs one by one", exc)
            self._fetch_all(group, listing.due, loop)
            return
        finally:
            group.listings.remove(listing)
        # A listing no bigger than twice what we wait for is still the cheap way to poll.
        limit = max(self.max_listing_entries, 2 * len(group.waits))
        if len(found) > limit:
            self._stop_listing(group.key, f"{len(found)} jobs listed, more than {limit}")
            self._fetch_all(group, listing.due, loop)
            return
        self._check_finished(group, listing, found)
        now = loop.time()
        due = {id(wait) for wait in listing.due}
        for wait in list(group.waits):
            if wait.busy or wait.future.done():
                continue
            entry = found.get(wait.job_id)
            wait.listed = entry is not None
            rank = None if entry is None else _rank(JobStatus.parse(entry.get("status")))
            if wait.own_rank is not None and wait.confirmed <= listing.started:
                if entry is None and wait.own_rank < _FINAL:
                    wait.omitted = True  # a strike if its next own reply shows it active
                elif rank is not None and rank < wait.own_rank:
                    self._strike(group.key, "it showed a job at an earlier status")
            if rank is not None and rank < _FINAL and now - wait.confirmed < self.confirm_every:
                wait.entry, wait.fetch_next = entry, False
                wait.health.on_success()
            elif entry is not None or id(wait) in due:
                # finished, unclassifiable, unconfirmed for too long, or not listed
                self._fetch(group, wait, loop)

    def _check_finished(
        self, group: _Group, listing: _Listing, found: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """A listing started after a job's own reply showed it final must not show it
        pending or running."""
        for job_id, seen_final in list(group.finished.items()):
            if seen_final > listing.started:
                continue
            del group.finished[job_id]
            entry = found.get(job_id)
            rank = None if entry is None else _rank(JobStatus.parse(entry.get("status")))
            if rank is not None and rank < _FINAL:
                self._strike(group.key, "it showed a finished job as still running")

    def _strike(self, key: _AccountKey, reason: str) -> None:
        """The listing contradicted a job's own replies; enough strikes turn it off."""
        if key in self._unlisted:
            return
        strikes = self._strikes[key] = self._strikes.get(key, 0) + 1
        if strikes >= self.max_strikes:
            self._stop_listing(key, f"{reason}; {strikes} contradictions with the jobs' replies")

    def _stop_listing(self, key: _AccountKey, reason: str) -> None:
        if key in self._unlisted:
            return
        self._unlisted.add(key)
        self._strikes.pop(key, None)
        log.warning(
            "job listing of account %s is unreliable (%s); polling its jobs one by one",
            mask_key(key[0]),
            reason,
        )

    def _listing_failed(
        self, group: _Group, listing: _Listing, exc: Exception, loop: asyncio.AbstractEventLoop
    ) -> None:
        """A transient listing failure counts as one for each wait the listing served."""
        for wait in listing.due:
            if wait.busy or wait.future.done():
                continue
            error = wait.health.on_transient(exc)
            if error is not None:
                wait.fail(error)
            wait.fetch_next = not isinstance(exc, RateLimitError)  # a 429: list, but later
        hold = self.policy.hold(exc)
        if hold > 0:
            group.not_before = max(group.not_before, loop.time() + hold)
            group.wakeup.set()  # re-plan

    def _advance(self, wait: _Wait, until: float) -> None:
        while wait.next_due <= until:
            wait.index += 1
            wait.next_due += self.policy.delay(wait.index, self._rng)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _fetch_all(
        self, group: _Group, waits: list[_Wait], loop: asyncio.AbstractEventLoop
    ) -> None:
        for wait in waits:
            if not wait.busy and not wait.future.done():
                self._fetch(group, wait, loop)

    def _fetch(self, group: _Group, wait: _Wait, loop: asyncio.AbstractEventLoop) -> None:
        wait.busy = True
        self._spawn(self._fetch_one(group, wait, loop))

    async def _fetch_one(self, group: _Group, wait: _Wait, loop: asyncio.AbstractEventLoop) -> None:
        hold = 0.0
        error: Exception | None = None
        try:
            state = await self._poll(group.credentials, wait.job_id)
        except NotFoundError as exc:
            error = wait.health.on_not_found(exc, loop.time(), listed=wait.listed)
        except TRANSIENT as exc:
            error = wait.health.on_transient(exc)
            hold = self.policy.hold(exc)
        except Exception as exc:
            error = exc
        else:
            self._observed(group, wait, state, loop.time())
        finally:
            wait.busy = False
            now = loop.time()
            self._advance(wait, now)
            wait.next_due = max(wait.next_due, now + hold)
            if wait.next_due < group.planned:
                group.wakeup.set()
        if error is not None:
            wait.fail(error)

    def _observed(self, group: _Group, wait: _Wait, state: ExecutionResult, now: float) -> None:
        """The job's own reply: record it, check the listing against it, resolve if final."""
        wait.health.on_success()
        wait.last, wait.entry = state, None
        rank = _rank(state.status)
        if wait.omitted and rank is not None and rank < _FINAL:
            self._strike(group.key, "it omitted a job that was running")
        wait.omitted = False
        wait.confirmed, wait.own_rank = now, rank
        if state.is_final:
            listing = group.key not in self._unlisted and now >= group.list_off_until
            if listing and len(group.waits) > 1:  # later listings are checked against it
                group.finished[wait.job_id] = now
            wait.resolve(state)
