"""The ``local`` backend: run code on this machine, isolated, with no account.

Modules, one job each: :mod:`.settings` (options and ``UN_ASYNC_LOCAL_*``), :mod:`.host`
(helper programs, uid pool), :mod:`.isolation` (probe and per-level facts),
:mod:`.sandbox` (the command line per level), :mod:`.launcher` (the in-sandbox helper
script), :mod:`.limits`, :mod:`.uids`, :mod:`.toolchains` (languages, versions, recipes),
:mod:`.workspace` and :mod:`.artifacts` (the execution's directory), :mod:`.process`
(running and capturing), :mod:`.verdict` (status and reason), :mod:`.results`,
:mod:`.runner` (one execution), :mod:`.jobs` (the job table) and :mod:`.backend`.

What each isolation level enforces (every result says which one it ran at):

=============  ==========================================================================
``bubblewrap`` private root: only ``/usr``, a few ``/etc`` files and the toolchain's prefix,
               read-only; writable: the work directory, ``/tmp``, ``/dev/shm`` (the
               execution's own). New PID/IPC/UTS/network namespaces (network shared only
               for ``semitrusted``). Limits; a pool uid when root.
``namespaces`` new PID/mount/IPC/UTS/network namespaces (loopback up); the host filesystem
               as the program's user sees it, with the home directories (``/root``,
               ``/home``, the caller's ``HOME``) and ``/run`` hidden under an empty tmpfs
               and only the toolchain's prefix bound back; ``/tmp``, ``/var/tmp`` and
               ``/dev/shm`` are the execution's own. Limits; a pool uid when root.
``none``       own session and process group; limits; a pool uid when root (then every
               process of the execution is killed by uid, also those that left the group).
=============  ==========================================================================

At every level the program has ``no_new_privs`` and no capabilities, gets exactly its own
environment (the helpers building the sandbox never see the call's ``env=``), and its
workspace is watched against the disk limit. Memory is limited per process.
"""

from __future__ import annotations

__all__ = ["local_backend"]


def __getattr__(name: str) -> object:
    if name == "local_backend":
        from un_async.backends.local.backend import local_backend

        return local_backend
    raise AttributeError(name)
