"""Validation of identifiers that are interpolated into URL paths.

An id that reaches a URL path could otherwise address another endpoint (``../``, ``?``,
``#``, ``/``) or smuggle whitespace and control characters. Ids are restricted to the
characters real ids use (letters, digits, ``-``, ``_``, ``.``, ``:``), must not be ``.``
or ``..``, and are at most 200 characters, so they are safe in a path as they are.
"""

from __future__ import annotations

import re

from un_async.core.errors import ValidationError

__all__ = ["path_segment"]

_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def path_segment(kind: str, value: object) -> str:
    """``value`` checked for use as one URL path segment, or :class:`ValidationError`."""
    if not isinstance(value, str):
        raise ValidationError(f"{kind} must be a string, not {type(value).__name__}")
    if not _SAFE_ID.fullmatch(value) or value in {".", ".."}:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ValidationError(
            f"invalid {kind} {shown!r}: ids may contain only letters, digits, '-', '_', '.', ':'"
        )
    return value
