"""The ``un-async`` command line (also ``python -m un_async``).

Modules, one job each: :mod:`.app` (the root group, plugin commands, the entry point),
:mod:`.exit_codes` (what each outcome exits with), :mod:`.errors` (one-line error
reports), :mod:`.options` (options shared by commands), :mod:`.runtime` (clients and the
event loop, Ctrl-C), :mod:`.sources` (programs from files, ``-c`` and stdin),
:mod:`.output` (program output, JSON, tables), :mod:`.progress` (the batch progress
display), :mod:`.run`, :mod:`.batch`, :mod:`.resources` (languages, jobs, snapshots, ...),
:mod:`.doctor` and :mod:`.serve`.

Importing this package imports neither aiohttp nor rich: commands load what they need
when they run.
"""

__all__: list[str] = []
