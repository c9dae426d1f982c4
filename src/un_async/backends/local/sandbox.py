"""The command line that runs one step (compile or run) at an isolation level.

* ``bubblewrap``: ``bwrap`` builds a new root holding ``/usr`` (and its ``/bin``, ``/lib``
  links), a few harmless ``/etc`` files, the toolchain's own prefix, all read-only; the
  work and build directories read-write (build read-only while the program runs); ``/tmp``
  and ``/dev/shm`` backed by the execution's own ``tmp/``; fresh ``/proc`` and ``/dev``;
  new PID, IPC, UTS, cgroup and (``zerotrust``) network namespaces. Nothing else of the
  host — no home directory — exists inside.
* ``namespaces``: ``unshare`` gives new PID, mount, IPC, UTS and (``zerotrust``) network
  namespaces, with the launcher as PID 1 bringing loopback up; the filesystem is the
  host's, except that the home directories are hidden, ``/run`` is hidden (its sockets
  with it) and ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are the execution's own ``tmp/``.
* ``none``: the program runs in its own session and process group, with limits only.

At every level the program is started through a confinement chain: ``prlimit`` sets the
resource limits, ``setpriv`` sets ``no_new_privs`` and, when we are root, drops to the
execution's own unprivileged uid with no capabilities (empty bounding, inheritable and
ambient sets), ``sh`` changes to the work directory, checks that the program can be
executed and reports on standard input (a pipe of ours: see
:mod:`~un_async.backends.local.process`) that the sandbox is set up, then ``env -i``
starts the program with exactly its own environment — or the Python launcher does all
of that. Every helper runs with :data:`HELPER_ENV` and ``/`` as its current directory;
the program's environment (the call's ``env=`` included) only ever reaches the program.
A toolchain path that is, or contains, a home directory is never bound (see
:func:`refused_binds`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from un_async.backends.local.host import Host, exposes_home

__all__ = [
    "ETC_ENTRIES",
    "EXEC_FAILURE",
    "HELPER_ENV",
    "HIDDEN_RUN",
    "PRIVATE_TMP",
    "SANDBOX_SHM",
    "SANDBOX_TMP",
    "Layout",
    "Step",
    "command",
    "confinement",
    "hidden_directories",
    "refused_binds",
]

ETC_ENTRIES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "gai.conf",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "perl",
    "php",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)
"""``/etc`` entries exposed read-only at ``bubblewrap`` level (no credentials among them);
``java-*`` and ``python3*`` configuration directories are added when present."""

SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's own /tmp, backed by the execution's tmp/
SANDBOX_SHM = "/dev/shm"  # noqa: S108 - likewise
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@attrs.frozen(kw_only=True)
class Layout:
    """The directories of one execution, all inside ``root`` (host paths, which are also
    the paths inside the sandbox): ``work`` is the current directory and ``HOME``."""

    root: str
    work: str
    build: str
    tmp: str
    etc: str

    @classmethod
    def under(cls, root: str) -> Layout:
        base = Path(root)
        return cls(
            root=root,
            work=str(base / "work"),
            build=str(base / "build"),
            tmp=str(base / "tmp"),
            etc=str(base / "etc"),
        )


@attrs.frozen(kw_only=True)
class Step:
    """One program start: ``argv`` under ``rlimits`` as ``uid`` (None: our own), with
    exactly the environment ``env``."""

    argv: tuple[str, ...]
    rlimits: Mapping[str, tuple[int, int]]
    uid: int | None
    share_network: bool
    binds: tuple[str, ...] = ()
    build: bool = False
    """The workspace has a build directory (compiled languages)."""
    build_writable: bool = False
    env: Mapping[str, str] = attrs.field(factory=dict)


HELPER_ENV: Mapping[str, str] = {"PATH": "/usr/bin:/bin"}
"""The whole environment of the helpers (``bwrap``, ``unshare``, ``prlimit``, ``setpriv``,
``sh``, ``env``, the launcher), some of which run as root."""

EXEC_FAILURE = 125
"""Exit status of the ``sh`` step when it cannot change to the work directory or the
program is not executable (as the launcher's own failures)."""

_EXEC_STEP = (
    f'cd "$1" || exit {EXEC_FAILURE}; '
    'if [ -n "$2" ] && { [ -d "$2" ] || [ ! -x "$2" ]; }; then '
    f'printf "un-async-exec: cannot execute %s\\n" "$2" >&2; exit {EXEC_FAILURE}; fi; '
    'printf x >&0; shift 2; exec "$@" 0</dev/null'
)
"""The ``sh`` step: ``$1`` the directory, ``$2`` the program to check (or empty), then
the command (``env -i ...``); the ``x`` written to standard input says "set up"."""


def refused_binds(host: Host, binds: Sequence[str]) -> list[str]:
    """The toolchain paths that are never bound because they are, or contain, a home
    directory (:func:`~un_async.backends.local.host.exposes_home`)."""
    return [path for path in binds if exposes_home(path, host.home)]


def _safe_binds(host: Host, binds: Sequence[str]) -> list[str]:
    refused = set(refused_binds(host, binds))
    return [path for path in dict.fromkeys(binds) if path not in refused]


def _native(host: Host, program: str | None) -> bool:
    """``prlimit``/``setpriv``/``sh``/``env`` can start ``program`` (``env`` would take a
    path with ``=`` for a variable: the launcher starts those)."""
    return host.native_confinement and "=" not in (program or "")


def confinement(
    host: Host,
    rlimits: Mapping[str, tuple[int, int]],
    uid: int | None,
    *,
    init: bool = False,
    loopback: bool = False,
    hide: Sequence[str] = (),
    keep: Sequence[tuple[str, bool]] = (),
    tmp: Sequence[tuple[str, str]] = (),
    env: Mapping[str, str] | None = None,
    chdir: str | None = None,
    program: str | None = None,
) -> list[str]:
    """The argv prefix that applies ``rlimits``, sets ``no_new_privs``, drops every
    capability (and to ``uid``), changes to ``chdir``, checks that ``program`` can be
    executed, reports the sandbox set up (an ``x`` on standard input) and starts the
    program with exactly ``env`` (empty when None). In a mount namespace it first hides
    ``hide``, binds each ``tmp`` ``(source, target)`` read-write and binds back ``keep``:
    ``(path, writable)``."""
    env = {} if env is None else env
    if _native(host, program) and not (init or loopback or hide or keep or tmp):
        assert None not in (host.prlimit, host.setpriv, host.sh, host.env)
        argv = [
            str(host.prlimit),
            *(f"--{name}={soft}:{hard}" for name, (soft, hard) in rlimits.items()),
            "--",
            str(host.setpriv),
            "--no-new-privs",
        ]
        if uid is not None:
            argv += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        if uid is not None or host.is_root:
            argv += ["--bounding-set=-all", "--inh-caps=-all"]
        argv += ["--", str(host.sh), "-c", _EXEC_STEP, "sh", chdir or ".", program or ""]
        return [*argv, str(host.env), "-i", "--", *(f"{k}={v}" for k, v in env.items())]
    argv = [host.python, "-I", "-S", host.launcher]
    if loopback:
        argv.append("--loopback")
    for directory in hide:
        argv += ["--hide", directory]
    for source, target in tmp:
        argv += ["--bind", source, target]
    for path, writable in keep:
        argv += ["--keep-rw" if writable else "--keep-ro", path]
    for name, (soft, hard) in rlimits.items():
        argv += ["--rlimit", f"{name}={soft}:{hard}"]
    if uid is not None:
        argv += ["--uid", str(uid), "--gid", str(uid)]
    for name, value in env.items():
        argv += ["--env", f"{name}={value}"]
    if chdir is not None:
        argv += ["--chdir", chdir]
    argv += ["--started", "--init" if init else "--exec", "--"]
    return argv


def _etc_entries() -> list[str]:
    try:
        present = os.listdir("/etc")
    except OSError:
        return []
    extra = [name for name in present if name.startswith(("java-", "python3"))]
    return [name for name in (*ETC_ENTRIES, *sorted(extra)) if name in present]


def _parent_dirs(paths: Sequence[str], *, skip: Sequence[str]) -> list[str]:
    """``--perms 0755 --dir`` for every ancestor of ``paths`` not in (or under) ``skip``
    (bwrap would create them ``0700``, untraversable by the program's uid), outermost
    first."""
    ancestors: set[str] = set()
    for path in paths:
        for parent in Path(path).parents:
            text = str(parent)
            if text != "/" and not any(text == s or text.startswith(f"{s}/") for s in skip):
                ancestors.add(text)
    return _dirs(ancestors)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(f"{directory}/")


def _dirs(ancestors: set[str]) -> list[str]:
    argv: list[str] = []
    for directory in sorted(ancestors, key=lambda p: (p.count("/"), p)):
        argv += ["--perms", "0755", "--dir", directory]
    return argv


def _bwrap(host: Host, layout: Layout, step: Step) -> list[str]:
    assert host.bwrap is not None
    argv = [host.bwrap, "--ro-bind", "/usr", "/usr", "--perms", "0755", "--dir", "/etc"]
    for link in _ROOT_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            argv += ["--ro-bind", link, link]
    for name in _etc_entries():
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--ro-bind", f"{layout.etc}/passwd", "/etc/passwd"]
    argv += ["--ro-bind", f"{layout.etc}/group", "/etc/group"]
    binds = _safe_binds(host, step.binds)
    if not _native(host, step.argv[0]):
        binds = list(dict.fromkeys([*binds, host.launcher, str(Path(host.python).parent.parent)]))
    # A toolchain under the host's /tmp (e.g. a virtualenv made with mktemp) is bound after
    # the sandbox's own /tmp, which would otherwise hide it.
    in_tmp = [path for path in binds if _under(path, SANDBOX_TMP)]
    binds = [path for path in binds if not _under(path, SANDBOX_TMP)]
    argv += _parent_dirs(binds, skip=("/usr", "/etc", SANDBOX_TMP))
    for path in binds:
        argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--bind", layout.tmp, SANDBOX_TMP, "--bind", layout.tmp, SANDBOX_SHM]
    outer = {"/", SANDBOX_TMP}
    argv += _dirs({str(p) for p in Path(layout.work).parents if str(p) not in outer})
    argv += ["--bind", layout.work, layout.work]
    argv += _dirs({str(p) for path in in_tmp for p in Path(path).parents if str(p) not in outer})
    for path in in_tmp:
        argv += ["--ro-bind", path, path]
    if step.build:
        argv += ["--bind" if step.build_writable else "--ro-bind", layout.build, layout.build]
    argv += ["--chdir", layout.work, "--hostname", "sandbox"]
    argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not step.share_network:
        argv.append("--unshare-net")
    if not host.is_root:
        argv.append("--unshare-user")
    elif step.uid is None:
        argv += ["--cap-drop", "ALL"]
    argv += ["--die-with-parent", "--new-session", "--"]
    prefix = confinement(
        host, step.rlimits, step.uid, env=step.env, chdir=layout.work, program=step.argv[0]
    )
    return argv + prefix + list(step.argv)


PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - replaced, not used
"""Shared writable directories that, at ``namespaces`` level, are the execution's own
``tmp/`` instead of the host's."""
HIDDEN_RUN = "/run"
"""Hidden under an empty tmpfs at ``namespaces`` level (the host's sockets, locks and
runtime state); the target of ``/etc/resolv.conf`` is kept when it lies there."""


def _kept_runtime_files() -> list[str]:
    resolver = os.path.realpath("/etc/resolv.conf")
    if _under(resolver, HIDDEN_RUN) and os.path.isfile(resolver):
        return [resolver]
    return []


def _unshare(host: Host, layout: Layout, step: Step) -> list[str]:
    assert host.unshare is not None
    argv = [host.unshare, "--ipc", "--uts", "--pid", "--fork", "--kill-child"]
    argv += ["--mount", "--mount-proc", "--propagation", "private"]
    if not step.share_network:
        argv.append("--net")
    if not host.is_root:
        argv += ["--user", "--map-root-user"]
    argv.append("--")
    binds = _safe_binds(host, step.binds)
    hide = hidden_directories(host, [layout.root, *binds])
    if os.path.isdir(HIDDEN_RUN) and not os.path.islink(HIDDEN_RUN):
        hide = [path for path in hide if not _under(path, HIDDEN_RUN)] + [HIDDEN_RUN]
    tmp = [
        (layout.tmp, path)
        for path in PRIVATE_TMP
        if os.path.isdir(path) and not os.path.islink(path)
    ]
    keep = [(path, False) for path in [*binds, *_kept_runtime_files()]]
    keep.append((layout.root, True))
    prefix = confinement(
        host,
        step.rlimits,
        step.uid,
        init=True,
        loopback=not step.share_network,
        hide=hide,
        keep=keep,
        tmp=tmp,
        env=step.env,
        chdir=layout.work,
        program=step.argv[0],
    )
    return argv + prefix + list(step.argv)


def hidden_directories(host: Host, needed: Sequence[str]) -> list[str]:
    """What the ``namespaces`` level hides under an empty tmpfs: the home directories
    (``/root``, ``/home``, the caller's ``HOME``) and any directory others may not search
    on the way to a path the program needs (so that it can be bound back)."""
    candidates = {"/root", "/home"}
    if host.home:
        candidates.add(host.home)
    for path in needed:
        for parent in reversed(Path(path).parents):
            try:
                searchable = os.stat(parent).st_mode & stat.S_IXOTH
            except OSError:
                break
            if not searchable:
                candidates.add(str(parent))
                break
    protected = {"/", "/usr", "/etc", SANDBOX_TMP, "/proc", "/dev", "/bin", "/lib", "/sbin"}
    hidden = [
        path
        for path in sorted(candidates)
        if path not in protected and os.path.isdir(path) and not os.path.islink(path)
    ]
    # Hiding a directory hides what lies under it: keep only the outermost ones.
    return [p for p in hidden if not any(p != q and p.startswith(f"{q}/") for q in hidden)]


def command(level: str, host: Host, layout: Layout, step: Step) -> list[str]:
    """The full argv running ``step`` at ``level`` (``bubblewrap``, ``namespaces``,
    ``none``), to be started with :data:`HELPER_ENV`, in ``/``, with a pipe of ours as
    standard input (see :func:`confinement`)."""
    if level == "bubblewrap":
        return _bwrap(host, layout, step)
    if level == "namespaces":
        return _unshare(host, layout, step)
    prefix = confinement(
        host, step.rlimits, step.uid, env=step.env, chdir=layout.work, program=step.argv[0]
    )
    return prefix + list(step.argv)
