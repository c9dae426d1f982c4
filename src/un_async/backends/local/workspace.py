"""The private directory of one execution, under ``tempfile.gettempdir()``.

Layout (see :class:`~un_async.backends.local.sandbox.Layout`): ``work/`` holds the input
files and the source and is the program's current directory and ``HOME``; ``build/``
(compiled languages only) receives compiler output; ``tmp/`` backs the sandbox's ``/tmp``
and ``/dev/shm`` (and is ``TMPDIR`` below it); ``etc/`` (``bubblewrap`` only) holds a
minimal ``passwd``/``group``. The root is ``0711`` and owned by us; the rest belongs to
the execution's uid. :meth:`Workspace.remove` deletes it
all, also what the program made unwritable.
"""

from __future__ import annotations

import contextlib
import os
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

__all__ = ["Workspace", "check_input_names"]

MAX_NAME_DEPTH = 32
_PREFIX = "un-async-"


def check_input_names(files: Iterable[InputFile]) -> None:
    """:class:`ValidationError` unless every name is a relative path inside the work
    directory: no absolute path, no ``..`` or empty component, no NUL."""
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


class Workspace:
    """One execution's directories; create with :meth:`create`, always :meth:`remove`."""

    def __init__(self, layout: Layout, uid: int | None) -> None:
        self.layout = layout
        self.uid = uid

    @classmethod
    def create(cls, uid: int | None, *, build: bool = True, etc: bool = True) -> Workspace:
        """Make the directories (owned by ``uid`` when given; we must be root then);
        ``build/`` and ``etc/`` only when asked for."""
        root = tempfile.mkdtemp(prefix=_PREFIX, dir=tempfile.gettempdir())
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
