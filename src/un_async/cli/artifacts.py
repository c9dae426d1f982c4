"""Writing returned artifacts under an output directory (``run -a``/``-o DIR``).

Each artifact keeps its relative path: ``a/x.txt`` is written to ``DIR/a/x.txt``. Every
artifact is checked before any is written, and one problem refuses them all (an
:class:`ArtifactError`, exit status 4, nothing written):

* a name that is empty, absolute or climbs out with ``..`` (``\\`` counts as ``/``);
* a path that would pass through a symbolic link or a non-directory under ``DIR``, or
  whose own place holds a symbolic link or a directory;
* two artifacts with one path, or one whose path is a directory of another's;
* an existing file, unless ``force``.

Each file is first written to a temporary name beside its target, then moved into place:
with ``force`` by renaming over the old file, otherwise by a hard link, which fails if a
file appeared there meanwhile. If anything fails, what this call created is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from un_async.cli import exit_codes
from un_async.cli.errors import CliError

__all__ = ["ArtifactError", "PlannedFile", "plan_artifacts", "write_artifacts"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_PART_SUFFIX = ".un-async-part"


class ArtifactError(CliError):
    """Artifacts that cannot be written safely; none was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_codes.SDK_ERROR)


@attrs.frozen
class PlannedFile:
    """One artifact's relative path, where it goes, and its bytes."""

    relative: PurePosixPath
    target: Path
    content: bytes = attrs.field(repr=lambda value: f"<{len(value)} bytes>")


def _relative(name: str) -> PurePosixPath | str:
    """The artifact's path below the output directory, or why it is refused."""
    text = name.replace("\\", "/")
    if "\x00" in text:
        return "its name contains a NUL character"
    if text.startswith("/") or _DRIVE.match(text):
        return "its path is absolute"
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts:
        return "its name is empty"
    if ".." in parts:
        return "its path leaves the output directory (..)"
    return PurePosixPath(*parts)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None


def _place_problem(directory: Path, relative: PurePosixPath, force: bool) -> str | None:
    """Why ``directory/relative`` cannot be written (``None``: it can)."""
    current = directory
    for part in relative.parts[:-1]:
        current = current / part
        info = _lstat(current)
        if info is None:
            return None  # created on write; nothing deeper exists
        if stat.S_ISLNK(info.st_mode):
            return f"{current} is a symbolic link"
        if not stat.S_ISDIR(info.st_mode):
            return f"{current} is not a directory"
    target = directory.joinpath(*relative.parts)
    info = _lstat(target)
    if info is None:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"{target} is a symbolic link"
    if stat.S_ISDIR(info.st_mode):
        return f"{target} is a directory"
    if not force:
        return f"{target} already exists (--force overwrites)"
    return None


def _refuse(problems: list[str]) -> ArtifactError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ArtifactError(f"artifacts not written: {problems[0]}{more}; nothing was written")


def plan_artifacts(artifacts: Iterable[Any], directory: Path, *, force: bool) -> list[PlannedFile]:
    """Check every artifact (``filename``/``content``) against ``directory``; the files to
    write, or :class:`ArtifactError` naming the first problem (and how many more)."""
    problems: list[str] = []
    info = _lstat(directory)
    if info is not None and not directory.is_dir():
        raise _refuse([f"the output directory {directory} is not a directory"])
    planned: list[PlannedFile] = []
    seen: dict[PurePosixPath, str] = {}
    for artifact in artifacts:
        name = str(artifact.filename)
        relative = _relative(name)
        if isinstance(relative, str):
            problems.append(f"artifact {name!r}: {relative}")
            continue
        if relative in seen:
            problems.append(f"two artifacts are named {str(relative)!r}")
            continue
        seen[relative] = name
        problem = _place_problem(directory, relative, force)
        if problem is not None:
            problems.append(problem)
            continue
        planned.append(
            PlannedFile(relative, directory.joinpath(*relative.parts), bytes(artifact.content))
        )
    for relative in seen:
        for parent in relative.parents:
            if parent in seen:
                problems.append(
                    f"artifact {str(parent)!r} is also a directory of {str(relative)!r}"
                )
    if problems:
        raise _refuse(problems)
    return planned


class _Writer:
    """Stages, commits and, on failure, undoes one call's writes."""

    def __init__(self, force: bool) -> None:
        self.force = force
        self.made_dirs: list[Path] = []
        self.staged: list[tuple[Path, Path]] = []
        self.created: list[Path] = []

    def make_dirs(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, remembering each."""
        missing: list[Path] = []
        current = folder
        while _lstat(current) is None and current != current.parent:
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            path.mkdir()
            self.made_dirs.append(path)

    def stage(self, item: PlannedFile) -> None:
        hidden = f".{item.target.name}.{secrets.token_hex(4)}{_PART_SUFFIX}"
        temporary = item.target.with_name(hidden)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        self.staged.append((temporary, item.target))
        with os.fdopen(fd, "wb") as stream:
            stream.write(item.content)

    def commit(self) -> None:
        for temporary, target in self.staged:
            if self.force:
                existed = _lstat(target) is not None
                os.replace(temporary, target)
                if not existed:
                    self.created.append(target)
                continue
            try:
                os.link(temporary, target)
            except FileExistsError:
                raise _refuse([f"{target} appeared while writing (--force overwrites)"]) from None
            except OSError as exc:  # a file system without hard links
                if exc.errno not in {errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}:
                    raise
                if _lstat(target) is not None:
                    raise _refuse([f"{target} already exists (--force overwrites)"]) from None
                os.replace(temporary, target)
            else:
                os.unlink(temporary)
            self.created.append(target)

    def undo(self) -> None:
        for temporary, _ in self.staged:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        for target in self.created:
            with contextlib.suppress(OSError):
                os.unlink(target)
        for folder in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()


def write_artifacts(artifacts: Iterable[Any], directory: Path, *, force: bool) -> list[Path]:
    """Write ``artifacts`` under ``directory`` (created if missing) at their relative
    paths; returns the files written. :class:`ArtifactError` when any cannot be written
    safely — then none is."""
    planned = plan_artifacts(artifacts, directory, force=force)
    writer = _Writer(force)
    try:
        for item in planned:
            writer.make_dirs(item.target.parent)
            writer.stage(item)
        writer.commit()
    except BaseException:
        writer.undo()
        raise
    return [item.target for item in planned]
