"""The private directory of one execution, under ``tempfile.gettempdir()``.

Layout (see :class:`~un_async.backends.local.sandbox.Layout`): ``work/`` holds the input
files and the source and is the program's current directory and ``HOME``; ``build/``
(compiled languages only) receives compiler output; ``tmp/`` backs the sandbox's ``/tmp``
and ``/dev/shm`` (and is ``TMPDIR`` below it); ``etc/`` (``bubblewrap`` only) holds a
minimal ``passwd``/``group``. The root is ``0711`` and owned by us; the rest belongs to
the execution's uid. :meth:`Workspace.remove` deletes it
all, also what the program made unwritable.

The root is named ``un-async-<pid>-<pid namespace>-<random>``: when a process dies before
it could clean up (``kill -9``), the next backend started on the same temporary
directory removes what it left (:func:`sweep_stale`). :func:`disk_usage` measures a
workspace for the disk limit.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from un_async.backends.local.sandbox import Layout
from un_async.core.errors import ValidationError
from un_async.core.models import InputFile

__all__ = ["Workspace", "check_input_names", "disk_usage", "sweep_stale"]

MAX_NAME_DEPTH = 32
MAX_COMPONENT_BYTES = 255
"""The longest file name component Linux file systems take (``NAME_MAX``)."""
MAX_NAME_BYTES = 3000
"""The longest input file name, leaving room for the work directory within ``PATH_MAX``."""
MIN_FILE_BYTES = 4096
"""What every file and directory counts for at least in :func:`disk_usage`."""
_PREFIX = "un-async-"
_STALE = re.compile(r"un-async-(\d+)-(\d+)-[^/]+")


def check_input_names(files: Iterable[InputFile]) -> None:
    """:class:`ValidationError` unless every name is a relative path inside the work
    directory that can be created there: no absolute path, no ``..`` or empty component,
    no NUL, no component over 255 bytes, no name given twice, and no name that another
    one needs as a directory (``a`` and ``a/b``)."""
    names: set[str] = set()
    directories: set[str] = set()
    for item in files:
        name = item.filename
        path = PurePosixPath(name)
        parts = name.split("/")
        if (
            "\x00" in name
            or path.is_absolute()
            or any(part in {"", ".", ".."} for part in parts)
            or len(parts) > MAX_NAME_DEPTH
        ):
            raise ValidationError(
                f"invalid input file name {name!r}: use a relative path inside the work "
                "directory (no absolute path, '..', '.' or empty component)"
            )
        encoded = [len(part.encode("utf-8", "surrogatepass")) for part in parts]
        if max(encoded) > MAX_COMPONENT_BYTES or sum(encoded) + len(parts) > MAX_NAME_BYTES:
            raise ValidationError(
                f"invalid input file name {name[:80]!r}...: each part of a name may have at"
                f" most {MAX_COMPONENT_BYTES} bytes, the whole name {MAX_NAME_BYTES}"
            )
        if name in names:
            raise ValidationError(f"input file {name!r} is given twice")
        names.add(name)
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    clash = sorted(names & directories)
    if clash:
        raise ValidationError(
            f"input file {clash[0]!r} is also needed as a directory (another input file is"
            " inside it)"
        )


def _pid_namespace() -> str:
    try:
        link = os.readlink("/proc/self/ns/pid")
    except OSError:
        return "0"
    return "".join(ch for ch in link if ch.isdigit()) or "0"


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    return True


def sweep_stale(directory: str) -> list[str]:
    """Remove the workspaces under ``directory`` whose owner process is dead: only
    directories named as :meth:`Workspace.create` names them, created in our PID
    namespace, owned by our uid, whose owner pid no longer exists. Returns what was
    removed. Best effort: errors are ignored."""
    removed: list[str] = []
    namespace = _pid_namespace()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        found = _STALE.fullmatch(entry.name)
        if found is None or found.group(2) != namespace:
            continue
        pid = int(found.group(1))
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.getuid()
            or pid == os.getpid()
            or _owner_alive(pid)
        ):
            continue
        Workspace(Layout.under(entry.path), None).remove()
        if not os.path.lexists(entry.path):
            removed.append(entry.path)
    return removed


def _opened_up(directory: str) -> list[os.DirEntry[str]]:
    try:
        os.chmod(directory, stat.S_IRWXU)
        return list(os.scandir(directory))
    except OSError:
        return []


def disk_usage(top: str, *, stop_above: int | None = None) -> int:
    """Bytes the tree under ``top`` occupies (allocated blocks, each file and directory
    counting at least :data:`MIN_FILE_BYTES`), without following links; the walk stops
    once ``stop_above`` is passed. A directory the program made unreadable is opened up
    (we own it, or are root) and counted."""
    total = 0
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except PermissionError:
            entries = _opened_up(directory)
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(info.st_blocks * 512, MIN_FILE_BYTES)
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
        if stop_above is not None and total > stop_above:
            break
    return total


class Workspace:
    """One execution's directories; create with :meth:`create`, always :meth:`remove`."""

    def __init__(self, layout: Layout, uid: int | None) -> None:
        self.layout = layout
        self.uid = uid

    @classmethod
    def create(cls, uid: int | None, *, build: bool = True, etc: bool = True) -> Workspace:
        """Make the directories (owned by ``uid`` when given; we must be root then);
        ``build/`` and ``etc/`` only when asked for."""
        prefix = f"{_PREFIX}{os.getpid()}-{_pid_namespace()}-"
        root = tempfile.mkdtemp(prefix=prefix, dir=tempfile.gettempdir())
        workspace = cls(Layout.under(root), uid)
        try:
            os.chmod(root, 0o711)  # noqa: S103 - traversable by the execution's uid only
            layout = workspace.layout
            for path in (layout.work, layout.tmp, *([layout.build] if build else [])):
                os.mkdir(path, 0o700)
                workspace._own(path)
            if etc:
                os.mkdir(layout.etc, 0o755)
                workspace._write_etc(os.getuid() if uid is None else uid)
        except BaseException:
            workspace.remove()
            raise
        return workspace

    def _own(self, path: str) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.uid, follow_symlinks=False)

    def _write_etc(self, user: int) -> None:
        passwd = (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"sandbox:x:{user}:{user}:sandbox:{self.layout.work}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        group = f"root:x:0:\nsandbox:x:{user}:\nnogroup:x:65534:\n"
        for name, text in (("passwd", passwd), ("group", group)):
            path = os.path.join(self.layout.etc, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(path, 0o644)

    def write(self, name: str, content: bytes) -> None:
        """Create ``work/<name>`` (and its directories), owned by the execution's uid."""
        target = os.path.join(self.layout.work, name)
        parent = os.path.dirname(target)
        missing: list[str] = []
        while not os.path.isdir(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(missing):
            os.mkdir(directory, 0o755)
            self._own(directory)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(target, flags, 0o644)
        try:
            with open(fd, "wb", closefd=False) as handle:
                handle.write(content)
            if self.uid is not None:
                os.fchown(fd, self.uid, self.uid)
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Delete everything; directories the program made unreadable are opened up."""
        root = self.layout.root
        if not os.path.lexists(root):
            return

        def open_up(function: object, path: str, *_: object) -> None:
            with contextlib.suppress(OSError):
                os.chmod(os.path.dirname(path), stat.S_IRWXU)
                if os.path.isdir(path) and not os.path.islink(path):
                    os.chmod(path, stat.S_IRWXU)
                    _rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)

        _rmtree(root, handler=open_up)


def _rmtree(path: str, *, handler: Any = None, ignore_errors: bool = False) -> None:
    if handler is None:
        shutil.rmtree(path, ignore_errors=ignore_errors)
    elif sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=handler)
    else:
        shutil.rmtree(path, onerror=handler)
