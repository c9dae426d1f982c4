"""The command line that runs one step (compile or run) at an isolation level.

* ``bubblewrap``: ``bwrap`` builds a new root holding ``/usr`` (and its ``/bin``, ``/lib``
  links), a few harmless ``/etc`` files, the toolchain's own prefix, all read-only; the
  work and build directories read-write (build read-only while the program runs); ``/tmp``
  and ``/dev/shm`` backed by the execution's own ``tmp/``; fresh ``/proc`` and ``/dev``;
  new PID, IPC, UTS, cgroup and (``zerotrust``) network namespaces. Nothing else of the
  host — no home directory — exists inside.
* ``namespaces``: ``unshare`` gives new PID, mount, IPC, UTS and (``zerotrust``) network
  namespaces, with the launcher as PID 1 bringing loopback up; the filesystem is the host's.
* ``none``: the program runs in its own session and process group, with limits only.

At every level the program is started through a confinement prefix: ``prlimit`` sets the
resource limits and, when we are root, ``setpriv`` drops to the execution's own
unprivileged uid (no capabilities, ``no_new_privs``) — or the Python launcher does both.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from un_async.backends.local.host import Host

__all__ = [
    "ETC_ENTRIES",
    "SANDBOX_SHM",
    "SANDBOX_TMP",
    "Layout",
    "Step",
    "command",
    "confinement",
    "hidden_directories",
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
    """One program start: ``argv`` under ``rlimits`` as ``uid`` (None: our own)."""

    argv: tuple[str, ...]
    rlimits: Mapping[str, tuple[int, int]]
    uid: int | None
    share_network: bool
    binds: tuple[str, ...] = ()
    build: bool = False
    """The workspace has a build directory (compiled languages)."""
    build_writable: bool = False


def confinement(
    host: Host,
    rlimits: Mapping[str, tuple[int, int]],
    uid: int | None,
    *,
    init: bool = False,
    loopback: bool = False,
    hide: Sequence[str] = (),
    keep: Sequence[tuple[str, bool]] = (),
) -> list[str]:
    """The argv prefix that applies ``rlimits`` and drops to ``uid`` before the program
    (and, in a mount namespace, hides ``hide`` but for ``keep``: ``(path, writable)``)."""
    if not init and not loopback and not hide and host.native_confinement:
        assert host.prlimit is not None
        argv = [
            host.prlimit,
            *(f"--{name}={soft}:{hard}" for name, (soft, hard) in rlimits.items()),
        ]
        argv.append("--")
        if uid is not None:
            assert host.setpriv is not None
            argv += [
                host.setpriv,
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--no-new-privs",
                "--bounding-set=-all",
                "--inh-caps=-all",
                "--",
            ]
        return argv
    argv = [host.python, "-I", "-S", host.launcher]
    if loopback:
        argv.append("--loopback")
    for directory in hide:
        argv += ["--hide", directory]
    for path, writable in keep:
        argv += ["--keep-rw" if writable else "--keep-ro", path]
    for name, (soft, hard) in rlimits.items():
        argv += ["--rlimit", f"{name}={soft}:{hard}"]
    if uid is not None:
        argv += ["--uid", str(uid), "--gid", str(uid)]
    argv += ["--init" if init else "--exec", "--"]
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
    binds: Sequence[str] = step.binds
    if not host.native_confinement:
        binds = [*binds, host.launcher, str(Path(host.python).parent.parent)]
    binds = list(dict.fromkeys(binds))
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
    argv += _dirs(
        {str(p) for path in in_tmp for p in Path(path).parents if str(p) not in outer}
    )
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
    return argv + confinement(host, step.rlimits, step.uid) + list(step.argv)


def _unshare(host: Host, layout: Layout, step: Step) -> list[str]:
    assert host.unshare is not None
    argv = [host.unshare, "--ipc", "--uts", "--pid", "--fork", "--kill-child"]
    argv += ["--mount", "--mount-proc", "--propagation", "private"]
    if not step.share_network:
        argv.append("--net")
    if not host.is_root:
        argv += ["--user", "--map-root-user"]
    argv.append("--")
    hide = hidden_directories(host, [layout.root, *step.binds])
    keep = [(path, False) for path in step.binds] + [(layout.root, True)]
    prefix = confinement(
        host,
        step.rlimits,
        step.uid,
        init=True,
        loopback=not step.share_network,
        hide=hide,
        keep=keep if hide else [],
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
    ``none``)."""
    if level == "bubblewrap":
        return _bwrap(host, layout, step)
    if level == "namespaces":
        return _unshare(host, layout, step)
    return confinement(host, step.rlimits, step.uid) + list(step.argv)
