"""Client-side TLS for servers using the ``tls_files`` fixture's certificate."""

from __future__ import annotations

import ssl

import trustme

__all__ = ["client_context"]


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A default client context that trusts ``ca`` (and verifies hostnames)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
