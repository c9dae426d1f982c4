"""Atomic file replacement, shared by the languages cache and the cassette writer.

:func:`write_atomic` writes to a temporary file in the target's directory, sets its
permission bits, flushes it to disk (``fsync``) and then moves it over the target with
``os.replace``. Readers therefore see either the old complete file or the new complete
file, never a partial one. When anything fails, the temporary file is removed and the old
file is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["existing_mode", "write_atomic"]


def existing_mode(path: str | os.PathLike[str], default: int) -> int:
    """The permission bits of the file at ``path``, or ``default`` when there is none."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return default


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int,
    dir_mode: int = 0o777,
) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) atomically.

    The new file gets exactly the permission bits ``mode``, whatever the umask; they are
    set before any data is written. A missing parent directory is created (the last
    component with ``dir_mode``, filtered by the umask; any ancestors with the default
    permissions). On failure the temporary file is removed and the exception propagates.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    target.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
