"""A tiny launcher run as a script (``python -I -S launcher.py ...``) inside the sandbox.

It does, in order, what the kernel only lets a process do to itself: bring the loopback
interface up (``--loopback``, in a fresh network namespace), hide directories under an
empty tmpfs (``--hide DIR``, in a fresh mount namespace), bind a directory read-write
over another (``--bind SOURCE TARGET``), bind back paths that must stay visible
(``--keep-ro PATH``, ``--keep-rw PATH``; every source is opened before anything is
mounted), apply resource limits (``--rlimit NAME=SOFT[:HARD]``), lock itself down —
``no_new_privs``, an empty capability bounding set, no inheritable or ambient
capabilities — drop to an unprivileged user (``--uid``/``--gid``) and clear every
remaining capability, change to ``--chdir DIR``, check that the program can be executed
and, with ``--started``, write ``x`` to its standard input (a pipe of the backend's:
"the sandbox is set up") and replace it with ``/dev/null``. Then it either execs the
program (``--exec``) with exactly the environment given by ``--env NAME=VALUE`` (nothing
else, its own included) or, as PID 1 of a fresh PID namespace, forks it and waits
(``--init``: reaps orphans, exits with the program's status or 128+signal, and its exit
tears the namespace down). ``--kill-all`` instead kills every process of the user it
dropped to (``kill(-1)``). It is used where ``prlimit``/``setpriv`` cannot do the job.

Standalone on purpose: it imports only the standard library, never ``un_async`` — and its
C modules (``_signal``, ``_socket``, ``_struct``) rather than their Python wrappers, whose
imports (``enum``, ``selectors``) would cost more than everything else it does. A failure
of its own is reported on stderr prefixed ``un-async-launcher:`` with exit status 125.
"""

from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]
import _socket as socket
import _struct as struct
import fcntl
import os
import resource
import sys

TYPE_CHECKING = False  # not ``typing``'s: importing it would cost more than the launcher
if TYPE_CHECKING:
    import ctypes

__all__ = ["main"]

LAUNCHER_FAILURE = 125
PREFIX = "un-async-launcher"
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_LIMITS = {
    "as": resource.RLIMIT_AS,
    "core": resource.RLIMIT_CORE,
    "cpu": resource.RLIMIT_CPU,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
}


_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522


class _Fail(Exception):
    pass


def _libc() -> ctypes.CDLL:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if _libc().mount(raw(source), raw(target), raw(fstype), flags, raw(data)) != 0:
        raise _Fail(f"mount {target}: {os.strerror(_errno())}")


def _hide_and_keep(
    hide: list[str], binds: list[tuple[str, str]], keep: list[tuple[str, bool]]
) -> None:
    """Mount an empty tmpfs over each ``hide`` directory, bind each ``(source, target)``
    of ``binds`` read-write, then bind each kept path back at its own place (read-only
    unless marked writable)."""
    if not (hide or binds or keep):
        return
    flags = os.O_PATH | os.O_CLOEXEC
    sources = [(os.open(source, flags), target) for source, target in binds]
    held = [(os.open(path, flags), path, writable) for path, writable in keep]
    for directory in hide:
        _mount("tmpfs", directory, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64k")
    for fd, target in sources:
        _mount(f"/proc/self/fd/{fd}", target, None, _MS_BIND, None)
        os.close(fd)
    for fd, path, writable in held:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if not os.path.exists(path):
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC, None)
        if not writable:
            kept = os.statvfs(path).f_flag & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
            _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept, None)
        os.close(fd)


def _loopback_up() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


def _set_limit(spec: str) -> None:
    name, _, values = spec.partition("=")
    soft_text, _, hard_text = values.partition(":")
    try:
        kind = _LIMITS[name]
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except (KeyError, ValueError):
        raise _Fail(f"bad --rlimit {spec!r}") from None
    resource.setrlimit(kind, (soft, hard))


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


def _lock_down(uid: int | None, gid: int | None) -> None:
    """``no_new_privs``; drop the bounding set (while we may: it needs ``CAP_SETPCAP``)
    and the ambient set; switch to ``gid``/``uid``; then clear the effective, permitted
    and inheritable sets. Without ``CAP_SETPCAP`` the bounding set stays as it is, which
    ``no_new_privs`` and the empty permitted set make harmless: no exec can gain a
    capability."""
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _Fail(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(_errno())}")
    for capability in range(_last_capability() + 1):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # EPERM: no CAP_SETPCAP (nothing to drop with); EINVAL: past the last
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL before 4.3
    if gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
    if uid is not None:
        os.setresuid(uid, uid, uid)
    import ctypes

    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    sets = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; twice 32 bits
    if libc.capset(header, sets) != 0:
        raise _Fail(f"capset: {os.strerror(_errno())}")


def _check_program(path: str) -> None:
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise _Fail(f"cannot execute {path}")


def _report_started() -> None:
    """Tell the backend the sandbox is set up (an ``x`` on standard input, its pipe),
    then give the program ``/dev/null`` as standard input instead."""
    os.write(0, b"x")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _run_as_init(argv: list[str], env: dict[str, str]) -> int:
    """Fork the program and reap every child until it exits; its status is ours."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    child = os.fork()
    if child == 0:
        try:
            os.execve(argv[0], argv, env)  # noqa: S606 - the launcher's job
        except OSError as exc:
            os.write(2, f"{PREFIX}: cannot execute {argv[0]}: {exc.strerror}\n".encode())
        os._exit(LAUNCHER_FAILURE)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return LAUNCHER_FAILURE
        if pid == child:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


def main(args: list[str]) -> int:
    """Parse ``args`` (see the module docstring) and do what they say."""
    # Python ignores SIGPIPE and SIGXFSZ; the program must get the default actions.
    for number in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)
    uid: int | None = None
    gid: int | None = None
    mode = "--exec"
    hide: list[str] = []
    binds: list[tuple[str, str]] = []
    keep: list[tuple[str, bool]] = []
    env: dict[str, str] = {}
    chdir: str | None = None
    started = False
    try:
        while args and args[0] != "--":
            option = args.pop(0)
            if option == "--loopback":
                _loopback_up()
            elif option == "--hide" and args:
                hide.append(args.pop(0))
            elif option == "--bind" and len(args) >= 2:
                binds.append((args.pop(0), args.pop(0)))
            elif option == "--env" and args and "=" in args[0]:
                variable, _, text = args.pop(0).partition("=")
                env[variable] = text
            elif option == "--chdir" and args:
                chdir = args.pop(0)
            elif option == "--started":
                started = True
            elif option in {"--keep-ro", "--keep-rw"} and args:
                keep.append((args.pop(0), option == "--keep-rw"))
            elif option == "--rlimit" and args:
                _set_limit(args.pop(0))
            elif option in {"--uid", "--gid"} and args:
                value = int(args.pop(0))
                uid, gid = (value, gid) if option == "--uid" else (uid, value)
            elif option in {"--exec", "--init", "--kill-all"}:
                mode = option
            else:
                raise _Fail(f"unknown option {option!r}")
        argv = args[1:]
        if mode != "--kill-all" and not argv:
            raise _Fail("no program given")
        _hide_and_keep(hide, binds, keep)
        _lock_down(uid, gid)
        if chdir is not None:
            os.chdir(chdir)
        if mode != "--kill-all":
            _check_program(argv[0])
        if started:
            _report_started()
    except (_Fail, OSError, ValueError) as exc:
        os.write(2, f"{PREFIX}: {exc}\n".encode())
        return LAUNCHER_FAILURE
    if mode == "--kill-all":
        if uid is None or os.getuid() == 0:
            os.write(2, f"{PREFIX}: --kill-all needs --uid of an unprivileged user\n".encode())
            return LAUNCHER_FAILURE
        try:  # noqa: SIM105 - contextlib would double the launcher's start-up time
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return 0
    if mode == "--init":
        return _run_as_init(argv, env)
    try:
        os.execve(argv[0], argv, env)  # noqa: S606 - the launcher's job
    except OSError as exc:
        os.write(2, f"{PREFIX}: cannot execute {argv[0]}: {exc.strerror}\n".encode())
    return LAUNCHER_FAILURE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
