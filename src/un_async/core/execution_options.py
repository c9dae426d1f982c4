"""The execution options, defined once and shared by every signature that takes them.

``execute_code``, ``execute_async`` (client methods, module functions and the blocking
facade) accept these as keyword arguments, typed with ``**options: Unpack[ExecutionOptions]``
so that type checkers and IDEs see each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict

from un_async.core.models import InputFile

__all__ = ["EXECUTION_OPTION_NAMES", "ExecutionOptions", "InputFiles"]

InputFiles = Mapping[str, bytes | str] | Iterable[InputFile | tuple[str, bytes | str]]
"""Input files: ``{name: content}``, ``[(name, content)]`` or :class:`InputFile` objects."""


class ExecutionOptions(TypedDict, total=False):
    """How to run one program; every option is validated before anything is sent or run.

    ``env``: extra environment variables. ``input_files``: files placed in the working
    directory. ``network_mode``: ``"zerotrust"`` (no network) or ``"semitrusted"``.
    ``ttl``: the run's time limit in seconds (1 to 900). ``vcpu``: CPUs (1 to 8; memory scales
    with it). ``return_artifact``: return the files the program created.
    """

    env: Mapping[str, str] | None
    input_files: InputFiles | None
    network_mode: str | None
    ttl: int | None
    vcpu: int | None
    return_artifact: bool


EXECUTION_OPTION_NAMES: frozenset[str] = frozenset(ExecutionOptions.__annotations__)
"""The option names, for code that forwards them (e.g. the command line)."""
