"""Record modes and replay latency, parsed from names so a typo is an error.

Record modes decide what a cassette session does with a request:

* ``none`` (default): replay only; a request with no recorded match raises.
* ``once``: record everything if the cassette file does not exist yet, else as ``none``.
* ``new_episodes``: replay matches; record misses and append them to the same file.
* ``all``: never replay; record everything and overwrite the file.

Replay latency: ``none`` answers at once, ``recorded`` sleeps each interaction's recorded
duration, ``scaled:F`` sleeps the recorded duration times ``F`` (``F >= 0``).
"""

from __future__ import annotations

import enum
import math

import attrs

from un_async.core.errors import ConfigurationError

__all__ = ["Latency", "RecordMode"]


class RecordMode(enum.StrEnum):
    """What a cassette session records and replays (see the module docstring)."""

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"

    @classmethod
    def parse(cls, value: str | RecordMode | None) -> RecordMode:
        """The mode named ``value`` (``None``/empty: ``none``); unknown names raise."""
        if isinstance(value, RecordMode):
            return value
        text = (value or "none").strip().lower().replace("-", "_")
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(mode.value for mode in cls)
            raise ConfigurationError(
                f"unknown record mode {value!r}; expected one of: {known}"
            ) from None


@attrs.frozen
class Latency:
    """How long replay takes: ``factor`` times each recorded duration (0: no sleeping)."""

    factor: float = 0.0

    @classmethod
    def parse(cls, value: str | float | Latency | None) -> Latency:
        """``none``, ``recorded``, ``scaled:F`` (or a bare non-negative number ``F``)."""
        if isinstance(value, Latency):
            return value
        if value is None:
            return cls(0.0)
        if isinstance(value, int | float):
            return cls(_factor(value, value))
        text = value.strip().lower()
        if text in ("", "none"):
            return cls(0.0)
        if text == "recorded":
            return cls(1.0)
        if text.startswith("scaled:"):
            try:
                number = float(text.removeprefix("scaled:"))
            except ValueError:
                number = math.nan
            return cls(_factor(number, value))
        raise ConfigurationError(
            f"unknown replay latency {value!r}; expected none, recorded or scaled:FACTOR"
        )

    def delay(self, recorded: float) -> float:
        """Seconds to sleep for an interaction that took ``recorded`` seconds."""
        return recorded * self.factor if self.factor and recorded > 0 else 0.0

    def __str__(self) -> str:
        if self.factor == 0:
            return "none"
        return "recorded" if self.factor == 1 else f"scaled:{self.factor:g}"


def _factor(number: float, original: object) -> float:
    if not math.isfinite(number) or number < 0:
        raise ConfigurationError(
            f"replay latency factor must be a finite number >= 0, got {original!r}"
        )
    return float(number)
