"""An unsandbox-compatible HTTP API that runs code for real through a backend
(``un-async serve``).

Any unsandbox client — this SDK, the service's reference SDKs, curl — pointed at it with
the key pair it was started with runs programs on this machine (by default through the
``local`` backend). Modules: :mod:`.accounts` (key pairs), :mod:`.auth` (HMAC signature
and timestamp checks), :mod:`.wire` (request bodies and error replies), :mod:`.routes`
(the endpoints) and :mod:`.runner` (listening until stopped).
"""

from __future__ import annotations

__all__: list[str] = []
