"""Keeping secrets out of cassettes: header allow-lists, placeholders and a final scan.

Every save goes through :meth:`Redactor.render`, the one choke point:

1. headers are reduced to an allow-list (requests: :data:`REQUEST_HEADERS`, responses:
   :data:`RESPONSE_HEADERS`); ``Authorization``, ``X-Timestamp``, ``X-Signature``,
   ``User-Agent`` and everything else unknown is dropped;
2. every occurrence of a known secret in any other string (paths, bodies, code, env
   values, error messages) is replaced by a placeholder such as ``<UNSANDBOX_SECRET_KEY>``;
3. the rendered text is scanned for every known secret — verbatim, JSON-escaped,
   percent-encoded and base64-encoded — and a hit refuses the save
   (:class:`~un_async.backends.replay.errors.SecretLeakError`).

Known secrets are the keys of every credential the recorder saw, every ``UNSANDBOX_*``
environment value (except the non-secret settings in :data:`NOT_SECRET_ENV`) and every
request signature (found verbatim, as a 64-digit hex token). Values shorter than
:data:`MIN_SECRET_LENGTH` are ignored: they cannot be told apart from ordinary text.

The same :meth:`Redactor.scrub` is applied to live requests before matching, so a request
that contains a secret matches its placeholder form in the cassette.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from un_async.core.credentials import Credentials

__all__ = [
    "MIN_SECRET_LENGTH",
    "NOT_SECRET_ENV",
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "Redactor",
    "SecretSet",
    "allowed_headers",
]

REQUEST_HEADERS = frozenset({"accept", "content-type", "x-sudo-challenge"})
"""Request headers kept in a cassette (lower case); all others are dropped."""

RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)
"""Response headers kept in a cassette (lower case); all others are dropped."""

NOT_SECRET_ENV = frozenset({"UNSANDBOX_API_URL", "UNSANDBOX_ACCOUNT"})
"""``UNSANDBOX_*`` variables that hold settings, not secrets."""

MIN_SECRET_LENGTH = 8
ENV_PREFIX = "UNSANDBOX_"
SIGNATURE_LABEL = "X-Signature"
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_SIGNATURE_TOKEN = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")


def allowed_headers(headers: Mapping[str, str], allowed: frozenset[str]) -> dict[str, str]:
    """The entries of ``headers`` whose lower-cased name is in ``allowed``."""
    return {name: str(value) for name, value in headers.items() if name.lower() in allowed}


class SecretSet:
    """Secret values and the labels their placeholders show; safe to share across threads.

    A value is stored once, under the first label it was added with; a second value under
    an existing label gets a numbered label (``UNSANDBOX_SECRET_KEY_2``). Request
    signatures, one per request, are kept apart and matched as 64-digit hex tokens, so
    redaction and scanning stay linear however many requests were recorded.
    """

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._labels: dict[str, str] = {}  # value -> label
        self._lock = threading.Lock()
        self._seen: set[Credentials] = set()
        self._ordered: tuple[tuple[str, str], ...] = ()
        self._signatures: set[str] = set()
        for label, value in items:
            self.add(label, value)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SecretSet:
        """The ``UNSANDBOX_*`` values of ``environ`` (minus :data:`NOT_SECRET_ENV`)."""
        return cls(
            (name, value)
            for name, value in sorted(environ.items())
            if name.startswith(ENV_PREFIX) and name not in NOT_SECRET_ENV
        )

    def add(self, label: str, value: str | None) -> None:
        """Remember ``value`` as a secret shown as ``<label>``; short values are ignored."""
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._labels:
                return
            taken = set(self._labels.values())
            name, number = label, 1
            while name in taken:
                number += 1
                name = f"{label}_{number}"
            self._labels[value] = name
            # Longest first, so a secret containing another is replaced whole.
            self._ordered = tuple(
                sorted(((v, n) for v, n in self._labels.items()), key=lambda i: -len(i[0]))
            )

    def add_credentials(self, credentials: Credentials) -> None:
        """Remember both keys of ``credentials`` (cheap when seen before)."""
        if credentials in self._seen:
            return
        self.add("UNSANDBOX_PUBLIC_KEY", credentials.public_key)
        self.add("UNSANDBOX_SECRET_KEY", credentials.secret_key)
        with self._lock:
            self._seen.add(credentials)

    def update(self, other: SecretSet) -> None:
        """Add every secret and signature of ``other``."""
        for value, label in other.pairs():
            self.add(label, value)
        self._signatures.update(other.signatures)

    def add_signature(self, value: str | None) -> None:
        """Remember a request's ``X-Signature`` (placeholder ``<X-Signature>``)."""
        if value and _SIGNATURE.fullmatch(value):
            self._signatures.add(value.lower())

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """``(value, label)`` pairs, longest value first (signatures excluded)."""
        return self._ordered

    @property
    def signatures(self) -> set[str]:
        """The request signatures seen (lower-case hex)."""
        return self._signatures

    def __len__(self) -> int:
        return len(self._ordered) + len(self._signatures)

    def __repr__(self) -> str:
        labels = sorted(label for _, label in self._ordered)
        return f"SecretSet({labels})"


class Redactor:
    """Applies :class:`SecretSet` placeholders and header allow-lists; scans text."""

    def __init__(self, secrets: SecretSet) -> None:
        self.secrets = secrets

    def scrub(self, value: Any) -> Any:
        """``value`` with every secret inside any string (or dict key) replaced."""
        pairs, signatures = self.secrets.pairs(), self.secrets.signatures
        if not pairs and not signatures:
            return value
        return _scrub(value, pairs, signatures)

    def redact_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """A cassette document with headers allow-listed and secrets replaced."""
        interactions = [
            _filter_headers(interaction) for interaction in document.get("interactions", [])
        ]
        return self.scrub({**document, "interactions": interactions})  # type: ignore[no-any-return]

    def leaks(self, text: str) -> list[str]:
        """Labels (with the encoding found) of every known secret present in ``text``."""
        found: list[str] = []
        for value, label in self.secrets.pairs():
            for encoding, form in _forms(value):
                if form in text:
                    found.append(label if encoding == "verbatim" else f"{label} ({encoding})")
                    break
        signatures = self.secrets.signatures
        if signatures and any(
            token.lower() in signatures for token in _SIGNATURE_TOKEN.findall(text)
        ):
            found.append(SIGNATURE_LABEL)
        return found

    def render(self, document: dict[str, Any]) -> tuple[str, list[str]]:
        """The redacted document as JSON text, and the leaks found in that text."""
        text = dumps_document(self.redact_document(document))
        return text, self.leaks(text)


def dumps_document(document: Mapping[str, Any]) -> str:
    """Cassette JSON: sorted keys, two-space indent, UTF-8 text, final newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def placeholder(label: str) -> str:
    """The text that stands for the secret labelled ``label``."""
    return f"<{label}>"


def _scrub(value: Any, pairs: tuple[tuple[str, str], ...], signatures: set[str]) -> Any:
    if isinstance(value, str):
        for secret, label in pairs:
            if secret in value:
                value = value.replace(secret, placeholder(label))
        if signatures and len(value) >= 64:
            value = _SIGNATURE_TOKEN.sub(
                lambda m: placeholder(SIGNATURE_LABEL) if m[0].lower() in signatures else m[0],
                value,
            )
        return value
    if isinstance(value, dict):
        return {
            _scrub(key, pairs, signatures): _scrub(item, pairs, signatures)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, pairs, signatures) for item in value]
    return value


def _filter_headers(interaction: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(interaction)
    for part, allowed in (("request", REQUEST_HEADERS), ("response", RESPONSE_HEADERS)):
        section = result.get(part)
        if isinstance(section, dict) and isinstance(section.get("headers"), dict):
            result[part] = {**section, "headers": allowed_headers(section["headers"], allowed)}
    error = (result.get("response") or {}).get("error")
    if isinstance(error, dict) and isinstance(error.get("headers"), dict):
        kept = {**error, "headers": allowed_headers(error["headers"], RESPONSE_HEADERS)}
        result["response"] = {**result["response"], "error": kept}
    polls = result.get("polls")
    if isinstance(polls, list):
        result["polls"] = [_filter_headers(poll) for poll in polls]
    return result


def _forms(secret: str) -> list[tuple[str, str]]:
    """The ways ``secret`` can appear in a rendered cassette."""
    forms = [("verbatim", secret)]
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    if escaped != secret:
        forms.append(("JSON-escaped", escaped))
    ascii_escaped = json.dumps(secret)[1:-1]
    if ascii_escaped not in (secret, escaped):
        forms.append(("JSON-escaped", ascii_escaped))
    quoted = quote(secret, safe="")
    if quoted != secret:
        forms.append(("percent-encoded", quoted))
    forms.extend(("base64", core) for core in _base64_cores(secret.encode()))
    return forms


# Characters at the start of an encoding that still depend on the preceding bytes.
_SKIP = {0: 0, 1: 2, 2: 3}


def _base64_cores(data: bytes) -> list[str]:
    """Substrings every base64 (and base64url) encoding containing ``data`` must contain.

    ``data`` may start at any of three byte offsets within a base64 group; for each, the
    characters influenced by neighbouring bytes are cut off at both ends.
    """
    cores: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        core = encoded[_SKIP[offset] : max(_SKIP[offset], len(encoded) - 4)]
        if len(core) >= MIN_SECRET_LENGTH:
            cores.append(core)
            urlsafe = core.replace("+", "-").replace("/", "_")
            if urlsafe != core:
                cores.append(urlsafe)
    return cores
