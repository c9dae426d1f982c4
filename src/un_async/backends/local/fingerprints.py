"""What the local backend's probe answers depend on, as plain JSON-able mappings.

:mod:`~un_async.backends.local.probe_cache` keeps each probe's answer under the digest of
one of these keys; a key that changed is a miss and the probe runs again. Nothing here
starts a program: these are ``stat`` calls and small reads of ``/proc`` and of version
files only (well under a millisecond together).

Both keys include the identity of the modules whose code produces the answer (an upgrade
or an edit of the SDK probes again).

* :func:`isolation_key` — every fact of the :class:`~un_async.backends.local.host.Host`
  (helper programs, interpreter, launcher, uid pool, home), each program with its file
  identity (resolved path, inode, size, mtime, mode with its setuid bit, owner), who we
  are (uids, gids, uid/gid maps, user and mount namespaces, capabilities,
  ``no_new_privs``, seccomp), the kernel
  (release and build), the user-namespace sysctls (``max_user_namespaces``,
  ``unprivileged_userns_clone``, AppArmor's ``restrict_unprivileged_userns``) and the
  temporary directory the probe's workspace lies in.
* :func:`toolchain_key` — the language, whether only world-reachable toolchains count,
  every name it is looked up by with each file of that name along ``PATH``, the environment
  (without variables that look like secrets and the shell's bookkeeping), and the
  version-selector files that version managers read (``.python-version``,
  ``.tool-versions``, ... in the working directory and its parents; pyenv's, rbenv's,
  nodenv's, rustup's, asdf's and mise's global settings): a shim picks its interpreter
  from those.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from un_async.backends.local.host import Host

__all__ = ["file_identity", "isolation_key", "toolchain_key"]

_PROC_FILES = (
    "/proc/self/uid_map",
    "/proc/self/gid_map",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
)
_STATUS_FIELDS = ("CapEff", "CapBnd", "CapPrm", "NoNewPrivs", "Seccomp")
_NAMESPACES = ("user", "mnt")

VERSION_FILES = (
    ".python-version",
    ".ruby-version",
    ".node-version",
    ".nvmrc",
    ".go-version",
    ".java-version",
    ".perl-version",
    ".tool-versions",
    ".mise.toml",
    "mise.toml",
    ".rtx.toml",
    "rust-toolchain",
    "rust-toolchain.toml",
)
"""Files that select a tool's version for the directory they are in and below."""

_MANAGER_ROOTS = {
    "PYENV_ROOT": ".pyenv",
    "RBENV_ROOT": ".rbenv",
    "NODENV_ROOT": ".nodenv",
    "GOENV_ROOT": ".goenv",
    "JENV_ROOT": ".jenv",
}
_HOME_FILES = (".tool-versions", ".config/mise/config.toml", ".rustup/settings.toml")
_SKIPPED_VARIABLES = frozenset({"_", "OLDPWD", "PWD", "SHLVL"})
_SECRET_WORDS = (
    "KEY",
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
    "SIGNATURE",
)
_SMALL_FILE = 64 * 1024
_HERE = Path(__file__).parent
_ISOLATION_CODE = ("isolation.py", "sandbox.py", "host.py", "workspace.py", "launcher.py")
_TOOLCHAIN_CODE = ("toolchains.py",)


def file_identity(path: str | None) -> list[Any] | None:
    """``[resolved path, inode, size, mtime (ns), mode, owner]`` of ``path``, or None
    when there is no such file."""
    if not path:
        return None
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return None
    return [real, info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode, info.st_uid]


def _directory_identity(path: str) -> list[Any] | None:
    """A directory's resolved path, mode and owner (not its mtime: files come and go)."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return None
    return [real, info.st_mode, info.st_uid]


def _content_identity(path: str) -> list[Any] | None:
    """The identity of a small text file, its content digest included (an edit within
    one mtime tick still changes the key)."""
    identity = file_identity(path)
    if identity is None or identity[2] > _SMALL_FILE:
        return identity
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return identity
    return [*identity, digest]


def _code(names: Iterable[str]) -> dict[str, Any]:
    return {name: file_identity(str(_HERE / name)) for name in names}


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _status_fields() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (_read("/proc/self/status") or "").splitlines():
        name, _, value = line.partition(":")
        if name in _STATUS_FIELDS:
            found[name] = value.strip()
    return found


def _namespaces() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in _NAMESPACES:
        try:
            found[name] = os.readlink(f"/proc/self/ns/{name}")
        except OSError:
            found[name] = None
    return found


def isolation_key(host: Host) -> dict[str, Any]:
    """Everything the isolation probe's answer depends on (see the module docstring)."""
    uname = os.uname()
    facts = attrs.asdict(host)
    programs = {
        name: file_identity(value)
        for name, value in facts.items()
        if isinstance(value, str) and os.path.isabs(value) and os.path.isfile(value)
    }
    return {
        "code": _code(_ISOLATION_CODE),
        "host": facts,
        "programs": programs,
        "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
        "kernel": [uname.sysname, uname.release, uname.version, uname.machine],
        "proc": {path: _read(path) for path in _PROC_FILES},
        "status": _status_fields(),
        "namespaces": _namespaces(),
        "tmp": _directory_identity(tempfile.gettempdir()),
    }


def _public_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the shell's bookkeeping and without anything named like a
    secret (no secret is written to disk, not even inside a digest)."""
    return {
        name: value
        for name, value in environ.items()
        if name not in _SKIPPED_VARIABLES
        and not any(word in name.upper() for word in _SECRET_WORDS)
    }


def _ancestors(*starts: str | None) -> list[str]:
    seen: dict[str, None] = {}
    for start in starts:
        if not start or not os.path.isabs(start):
            continue
        path = Path(start)
        for directory in (path, *path.parents):
            seen.setdefault(str(directory), None)
    return list(seen)


def _version_files(environ: Mapping[str, str], found: Iterable[str]) -> dict[str, Any]:
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    candidates = [
        os.path.join(directory, name)
        for directory in _ancestors(cwd, environ.get("PWD"))
        for name in VERSION_FILES
    ]
    home = environ.get("HOME")
    for variable, default in _MANAGER_ROOTS.items():
        root = environ.get(variable) or (os.path.join(home, default) if home else None)
        if root:
            candidates.append(os.path.join(root, "version"))
    if home:
        candidates += [os.path.join(home, name) for name in _HOME_FILES]
    if environ.get("RUSTUP_HOME"):
        candidates.append(os.path.join(environ["RUSTUP_HOME"], "settings.toml"))
    for path in found:
        shims = Path(path).parent
        if shims.name == "shims":  # pyenv, rbenv, nodenv...: <root>/shims/<tool>
            candidates.append(str(shims.parent / "version"))
    return {
        path: identity
        for path in dict.fromkeys(candidates)
        if (identity := _content_identity(path)) is not None
    }


def toolchain_key(
    language: str, names: Sequence[str], environ: Mapping[str, str], *, world: bool
) -> dict[str, Any]:
    """Everything looking ``language`` up by ``names`` depends on (see the module
    docstring)."""
    directories = [entry or "." for entry in environ.get("PATH", os.defpath).split(os.pathsep)]
    resolved: dict[str, Any] = {}
    for name in names:
        # Every match along PATH: with ``world`` an unreachable first one is skipped.
        hits = [os.path.abspath(os.path.join(d, name)) for d in dict.fromkeys(directories)]
        resolved[name] = [[hit, file_identity(hit)] for hit in hits if os.path.isfile(hit)]
    found_paths = [hit for entries in resolved.values() for hit, _ in entries]
    return {
        "code": _code(_TOOLCHAIN_CODE),
        "language": language,
        "world": world,
        "names": resolved,
        "environment": _public_environment(environ),
        "version_files": _version_files(environ, found_paths),
    }
