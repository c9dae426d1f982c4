"""Files the program created or changed in its work directory.

A :func:`snapshot` is taken once the input files and the source are written; afterwards
:func:`collect` walks the work directory again (without following symbolic links, through
directory descriptors, so a link planted by the program cannot make us read a host file)
and returns the regular files that are new or whose size or modification time changed,
except the source file. Paths are relative, ``/``-separated; the total is capped.
"""

from __future__ import annotations

import os
import stat

import attrs

__all__ = ["Collected", "Snapshot", "collect", "snapshot"]

Snapshot = dict[str, tuple[int, int]]
"""``{relative path: (size, mtime_ns)}`` of the regular files in a directory."""


@attrs.frozen
class Collected:
    """Artifacts found (``(path, content)``, sorted by path) and those left out because
    the total would have passed the cap."""

    files: tuple[tuple[str, bytes], ...]
    omitted: tuple[str, ...]


def snapshot(top: str) -> Snapshot:
    """Size and modification time of every regular file under ``top``."""
    found: Snapshot = {}
    for directory, _, names, dirfd in os.fwalk(top, follow_symlinks=False):
        relative = os.path.relpath(directory, top)
        for name in names:
            try:
                info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[_join(relative, name)] = (info.st_size, info.st_mtime_ns)
    return found


def _join(relative: str, name: str) -> str:
    return name if relative == "." else f"{relative}/{name}"


def collect(top: str, before: Snapshot, *, exclude: frozenset[str], limit: int) -> Collected:
    """The new or changed regular files under ``top``, at most ``limit`` bytes in all
    (a file that does not fit in what is left is listed in ``omitted``)."""
    files: list[tuple[str, bytes]] = []
    omitted: list[str] = []
    total = 0
    for directory, _, names, dirfd in os.fwalk(top, follow_symlinks=False):
        relative = os.path.relpath(directory, top)
        for name in names:
            path = _join(relative, name)
            if path in exclude:
                continue
            try:
                info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or before.get(path) == (
                info.st_size,
                info.st_mtime_ns,
            ):
                continue
            content = _read(name, dirfd, limit - total + 1)
            if content is None:
                continue
            if total + len(content) > limit:
                omitted.append(path)
                continue
            total += len(content)
            files.append((path, content))
    return Collected(tuple(sorted(files)), tuple(sorted(omitted)))


def _read(name: str, dirfd: int, most: int) -> bytes | None:
    """Up to ``most`` bytes of a regular file, opened without following links."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dirfd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        remaining = most
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
