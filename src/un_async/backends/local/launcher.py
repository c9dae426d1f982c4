"""A tiny launcher run as a script (``python -I -S launcher.py ...``) inside the sandbox.

It does, in order, what the kernel only lets a process do to itself: bring the loopback
interface up (``--loopback``, in a fresh network namespace), hide directories under an
empty tmpfs (``--hide DIR``, in a fresh mount namespace) and bind back paths that must stay
visible (``--keep-ro PATH``, ``--keep-rw PATH``: opened before hiding), apply resource limits
(``--rlimit NAME=SOFT[:HARD]``), drop to an unprivileged user (``--uid``/``--gid``), and
then either exec the program (``--exec``) or, as PID 1 of a fresh PID namespace, fork it
and wait (``--init``: reaps orphans, exits with the program's status or 128+signal, and its
exit tears the namespace down). ``--kill-all`` instead kills every process of the user it
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


class _Fail(Exception):
    pass


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data)) != 0:
        errno = ctypes.get_errno()
        raise _Fail(f"mount {target}: {os.strerror(errno)}")


def _hide_and_keep(hide: list[str], keep: list[tuple[str, bool]]) -> None:
    """Mount an empty tmpfs over each ``hide`` directory, then bind each kept path back
    at its own place (read-only unless marked writable)."""
    if not hide:
        return
    held = [(os.open(path, os.O_PATH | os.O_CLOEXEC), path, writable) for path, writable in keep]
    for directory in hide:
        _mount("tmpfs", directory, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64k")
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


def _drop_privileges(uid: int | None, gid: int | None) -> None:
    if gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
    if uid is not None:
        os.setresuid(uid, uid, uid)


def _run_as_init(argv: list[str]) -> int:
    """Fork the program and reap every child until it exits; its status is ours."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    child = os.fork()
    if child == 0:
        try:
            os.execv(argv[0], argv)  # noqa: S606 - the launcher's job
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
    keep: list[tuple[str, bool]] = []
    try:
        while args and args[0] != "--":
            option = args.pop(0)
            if option == "--loopback":
                _loopback_up()
            elif option == "--hide" and args:
                hide.append(args.pop(0))
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
        _hide_and_keep(hide, keep)
        _drop_privileges(uid, gid)
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
        return _run_as_init(argv)
    try:
        os.execv(argv[0], argv)  # noqa: S606 - the launcher's job
    except OSError as exc:
        os.write(2, f"{PREFIX}: cannot execute {argv[0]}: {exc.strerror}\n".encode())
    return LAUNCHER_FAILURE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
