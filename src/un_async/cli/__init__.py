"""The ``un-async`` command line (also ``python -m un_async``).

Modules, one job each: :mod:`.app` (the root group, plugin commands, the entry point),
:mod:`.exit_codes` (what each outcome exits with), :mod:`.errors` (one-line error
reports), :mod:`.options` (options shared by commands), :mod:`.runtime` (clients, the
event loop, Ctrl-C), :mod:`.sources` (programs from files, ``-c`` and stdin),
:mod:`.output` (program output, JSON, tables), :mod:`.artifacts` (returned files
written under an output directory), :mod:`.results` (what a final result prints and exits
with), :mod:`.progress` (the batch progress display), :mod:`.prompts`
(confirmations, one-time passwords); the commands :mod:`.run`, :mod:`.batch`,
:mod:`.doctor`, :mod:`.serve` and :mod:`.resources` (languages, jobs, snapshots,
sessions, services, images, key).

Importing this package imports neither aiohttp nor rich: commands load what they need
when they run.
"""

__all__: list[str] = []
