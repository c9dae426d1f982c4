"""The live progress display of ``batch``, on stderr, only when stderr is a terminal.

With rich installed: a bar with done/failed/running counts, rate and ETA, redrawn in
place. Without rich: one plain line rewritten with a carriage return. When stderr is not
a terminal nothing is shown (no animation in logs or pipes).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO, Any, Protocol

from un_async.cli.output import rich_available

__all__ = ["BatchProgress", "Counts", "make_progress"]


class Counts:
    """Done/failed/running counts of a batch of ``total`` programs."""

    def __init__(self, total: int, concurrency: int) -> None:
        self.total = total
        self.concurrency = concurrency
        self.done = 0
        self.failed = 0
        self.started_at = time.monotonic()

    @property
    def running(self) -> int:
        """Programs in flight: the batch keeps ``concurrency`` running while any remain."""
        return min(self.concurrency, self.total - self.done)

    def rate(self) -> float:
        """Programs finished per second so far."""
        elapsed = time.monotonic() - self.started_at
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds until all are done at the current rate (``None``: not known yet)."""
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None


class BatchProgress(Protocol):
    """Shown while a batch runs; :meth:`update` after each program."""

    def __enter__(self) -> BatchProgress: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, counts: Counts) -> None: ...


class _Silent:
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def update(self, counts: Counts) -> None:
        return None


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes:02d}:{secs:02d}"


class _PlainLine:
    """``[####......] 12/20  1 failed  4 running  3.1/s  ETA 00:03``, rewritten in place."""

    WIDTH = 24

    def __init__(self, stream: IO[str], counts: Counts) -> None:
        self.stream = stream
        self.counts = counts

    def __enter__(self) -> _PlainLine:
        self.update(self.counts)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def update(self, counts: Counts) -> None:
        filled = self.WIDTH * counts.done // max(counts.total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(
            f"\r[{bar}] {counts.done}/{counts.total}  {counts.failed} failed  "
            f"{counts.running} running  {counts.rate():.1f}/s  ETA {_clock(counts.eta())} "
        )
        self.stream.flush()


class _RichBar:
    """rich's live progress bar with the batch's counts."""

    def __init__(self, stream: IO[str], counts: Counts) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[red]{task.fields[failed]} failed[/]  [cyan]{task.fields[running]} running[/]"
                "  {task.fields[rate]}/s"
            ),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
            # Lines printed meanwhile go above the bar only when stdout is that terminal
            # too; piped stdout (``--json | jq``) must receive them itself.
            redirect_stdout=sys.stdout.isatty(),
            redirect_stderr=False,
        )
        self.task = self.progress.add_task(
            "batch", total=counts.total, failed=0, running=counts.running, rate="0.0"
        )

    def __enter__(self) -> _RichBar:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def update(self, counts: Counts) -> None:
        fields: dict[str, Any] = {
            "failed": counts.failed,
            "running": counts.running,
            "rate": f"{counts.rate():.1f}",
        }
        self.progress.update(self.task, completed=counts.done, **fields)


def make_progress(counts: Counts, *, stream: IO[str] | None = None) -> BatchProgress:
    """The display for ``stream`` (default stderr): rich, plain or none."""
    out = stream or sys.stderr
    if not out.isatty():
        return _Silent()
    if rich_available():
        return _RichBar(out, counts)
    return _PlainLine(out, counts)
