"""Helpers shared by the test modules (fixtures live in ``tests/conftest.py``).

``tests`` is on ``sys.path`` (``pythonpath`` in pyproject's pytest settings), so this
package is imported as ``support`` under any import mode:

* :mod:`support.clients`: the test account's keys and fast client settings.
* :mod:`support.waiting`: waiting on a condition with a deadline.
* :mod:`support.subprocesses`: Python programs run against the fake server.
* :mod:`support.signed_http`: raw, independently signed HTTP requests to the fake server.
* :mod:`support.handler_watch`: knowing when the fake server has finished a request.
* :mod:`support.tls`: trusting the test certificate (the ``tls_files`` fixture).
* :mod:`support.replay`: comparing recorded and replayed results.
* :mod:`support.cli_process`: the installed ``un-async`` script, and a fake server on a
  background thread for it.
"""

from __future__ import annotations

from support.clients import CREDENTIALS, FAST_RETRY, KEYS, MakeClient, fast_config, request_paths
from support.waiting import until

__all__ = [
    "CREDENTIALS",
    "FAST_RETRY",
    "KEYS",
    "MakeClient",
    "fast_config",
    "request_paths",
    "until",
]
