"""The fake unsandbox server in its own process, plus a throw-away TLS certificate."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme

__all__ = ["ServerProcess", "TlsFiles"]


class TlsFiles:
    """A loopback certificate signed by a fresh ``trustme`` CA, written to a temp dir."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="un-async-bench-")
        self._ca = trustme.CA()
        cert = self._ca.issue_cert("127.0.0.1", "localhost")
        base = Path(self._dir.name)
        self.cert = base / "cert.pem"
        self.key = base / "key.pem"
        cert.cert_chain_pems[0].write_to_path(self.cert)
        for extra in cert.cert_chain_pems[1:]:
            with self.cert.open("ab") as handle:
                handle.write(extra.bytes())
        cert.private_key_pem.write_to_path(self.key)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only the throw-away CA."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def close(self) -> None:
        self._dir.cleanup()


class ServerProcess:
    """``python -m un_async.testing`` with ``args``; the URL is its first stdout line."""

    def __init__(self, *args: str, tls: TlsFiles | None = None) -> None:
        self.args = list(args)
        self.tls = tls
        if tls is not None:
            self.args += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed in __exit__)

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "un_async.testing", "--port", "0", *self.args]
        self._proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url:
            self.__exit__(None, None, None)
            self._log.seek(0)
            raise RuntimeError(f"the fake server did not start:\n{self._log.read()}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._log.close()

    def _control(self, method: str, path: str) -> Any:
        context = self.tls.client_context() if self.tls else None
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30, context=context) as reply:  # noqa: S310
            return json.loads(reply.read())

    def cpu_seconds(self) -> float | None:
        """The server process's user + system CPU time (Linux ``/proc``), else ``None``."""
        if self._proc is None:
            return None
        try:
            stat = Path(f"/proc/{self._proc.pid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stats(self) -> dict[str, Any]:
        """The server's counters (``GET /_fake/stats``)."""
        data: dict[str, Any] = self._control("GET", "/_fake/stats")
        return data

    def reset(self) -> None:
        """Zero the server's counters (``POST /_fake/reset``)."""
        self._control("POST", "/_fake/reset")
