"""Pathologies of the fake server's job listing (``GET /jobs``).

Spec §3.2 gives only the fields of a listing entry; a real listing may be stale, cut to
its newest entries, partial or very long. :class:`ListingPathology` holds one knob per
kind, all off by default, and :func:`listing_entries` builds the ``jobs`` array of one
reply from an account's jobs. Set ``FakeUnsandbox(listing=...)``, or assign the server's
``listing`` attribute at any time (e.g. to omit jobs whose ids are known only once
submitted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

import attrs

__all__ = ["ListedJob", "ListingPathology", "history_entry", "listing_entries"]

_ACTIVE = frozenset({"pending", "running"})


@attrs.frozen(kw_only=True)
class ListingPathology:
    """How the fake's ``GET /jobs`` misreports the account's jobs.

    * ``stale_for``: a finished job is listed as ``running`` until this many seconds after
      it finished (``math.inf``: forever), as a lagging cache or replica would.
    * ``newest``: only the newest ``newest`` entries are listed (history included).
    * ``omit``: ids never listed, as a server counting only some jobs would.
    * ``history``: that many finished jobs, older than every real one, listed first.
    """

    stale_for: float = 0.0
    newest: int | None = None
    omit: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    history: int = 0

    def __attrs_post_init__(self) -> None:
        if self.stale_for < 0 or math.isnan(self.stale_for):
            raise ValueError("stale_for must be >= 0")
        if self.newest is not None and self.newest < 0:
            raise ValueError("newest must be >= 0")
        if self.history < 0:
            raise ValueError("history must be >= 0")


class ListedJob(Protocol):
    """What the listing needs of a fake job (:class:`~un_async.testing.FakeJob`)."""

    @property
    def job_id(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def end(self) -> float: ...
    @property
    def cancelled_at(self) -> float | None: ...

    def summary(self, now: float) -> dict[str, Any]:
        """The honest ``GET /jobs`` entry at server time ``now``."""
        ...


def history_entry(index: int) -> dict[str, Any]:
    """Entry ``index`` of a synthetic history: a long-finished job."""
    return {
        "job_id": f"00000000-0000-4000-8000-{index:012x}",
        "status": "completed",
        "language": "python",
        "created_at": 0,
        "completed_at": 0,
    }


def listing_entries(
    jobs: Iterable[ListedJob], now: float, pathology: ListingPathology
) -> list[dict[str, Any]]:
    """The ``jobs`` array for ``jobs`` (one account's, oldest first) at server time ``now``."""
    entries = [history_entry(index) for index in range(pathology.history)]
    for job in jobs:
        if job.job_id in pathology.omit:
            continue
        entry = job.summary(now)
        if pathology.stale_for > 0 and entry["status"] not in _ACTIVE:
            finished = job.cancelled_at if job.cancelled_at is not None else job.end
            if now < finished + pathology.stale_for:
                entry = {
                    "job_id": job.job_id,
                    "status": "running",
                    "language": job.language,
                    "created_at": entry["created_at"],
                }
        entries.append(entry)
    if pathology.newest is not None:
        entries = entries[len(entries) - pathology.newest :] if pathology.newest else []
    return entries
