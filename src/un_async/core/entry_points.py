"""Whether an installed distribution may declare entry points of a group — answered
without importing :mod:`importlib.metadata` (with its ``email``, ``zipfile`` and ``csv``
imports, the largest part of loading plugins when there are none).

:func:`may_declare` looks where :mod:`importlib.metadata` looks by default: the
``*.dist-info`` and ``*.egg-info`` directories in every ``sys.path`` directory, reading
their ``entry_points.txt``. It answers False only when that finds no ``[group]`` section
and nothing else could add distributions: no ``sys.path`` entry is a file (a zip) or an
egg, and no import finder other than the standard path finder can find distributions.
Otherwise it answers True, and the caller lets :mod:`importlib.metadata` do the real work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from importlib.machinery import PathFinder

__all__ = ["may_declare"]

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def _declares(text: str, group: str) -> bool:
    """True when ``text`` (an ``entry_points.txt``) has a section named ``group``
    (leniently: whitespace inside the brackets is ignored)."""
    for line in text.splitlines():
        value = line.strip()
        if value.startswith("[") and value.endswith("]") and value.strip("[]").strip() == group:
            return True
    return False


def _directory_may_declare(directory: str, group: str) -> bool:
    try:
        children = os.listdir(directory or ".")
    except OSError:
        return False  # importlib.metadata skips what it cannot list, too
    for child in children:
        if not child.lower().endswith(_METADATA_SUFFIXES):
            continue
        path = os.path.join(directory, child, "entry_points.txt")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        if _declares(text, group):
            return True
    return False


def may_declare(group: str, path: Iterable[str] | None = None) -> bool:
    """False when certainly no distribution on ``path`` (default ``sys.path``) declares
    entry points in ``group``; True when one does or might (see the module docstring)."""
    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return True
    for entry in sys.path if path is None else path:
        if os.path.basename(entry).lower().endswith(".egg"):
            return True
        if os.path.isdir(entry or "."):
            if _directory_may_declare(entry, group):
                return True
        elif os.path.exists(entry):
            return True  # a zip archive: let importlib.metadata read it
    return False
