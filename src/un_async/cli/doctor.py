"""``un-async doctor``: can this machine run code, and how?

One line per check, ✓ or ✗ (``!`` for a warning), with a hint for each ✗: the backend, the
credential source (the public key shown by its first 8 characters at most, the secret key
never), whether the API answers ``/health`` and accepts the keys (a server without
``/keys/validate`` is a warning), the local backend's isolation level and languages,
whether a trivial program really runs (``✓ runs code (python, 35 ms)``), and whether rich
is installed. Exit status 0 when the selected backend ran the trivial program, else 1.
"""

from __future__ import annotations

import asyncio
import platform
import sys
import time
from typing import Any

import attrs
import click

from un_async._version import __version__
from un_async.cli import exit_codes
from un_async.cli.errors import describe, one_line
from un_async.cli.options import account_option, backend_option, json_option
from un_async.cli.output import print_json, rich_available
from un_async.cli.runtime import make_client, run_async
from un_async.core.client import AsyncClient

__all__ = ["Check", "doctor", "mask_public_key"]

SHOWN_KEY_CHARS = 8
HEALTH_TIMEOUT = 5.0
RUN_TIMEOUT = 60.0
GOOD_LEVELS = ("bubblewrap", "namespaces")
README_LOCAL = "see 'The local backend' in the README (#the-local-backend)"

TRIVIAL_PROGRAMS = {
    "python": "print('ok')",
    "bash": "echo ok",
    "javascript": "console.log('ok')",
    "ruby": "puts 'ok'",
    "perl": 'print "ok\\n";',
    "go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("ok") }\n',
}
"""A program printing ``ok`` in each language the ``runs code`` check may use, in order
of preference."""


@attrs.frozen
class Check:
    """One line of the report; ``warning``: worth knowing, but code can still run."""

    ok: bool
    label: str
    detail: str
    hint: str = ""
    warning: bool = False


def mask_public_key(key: str) -> str:
    """At most the first 8 characters of a public key, then an ellipsis."""
    return f"{key[:SHOWN_KEY_CHARS]}…" if key else "(empty)"


async def _health(client: AsyncClient) -> Check:
    url = f"{client.config.base_url}/health"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await client.health()
    except TimeoutError:
        return Check(
            False,
            "API",
            f"{url}: no answer within {HEALTH_TIMEOUT:g} s",
            "check the network, a proxy, or UNSANDBOX_API_URL",
        )
    except Exception as exc:
        return Check(
            False,
            "API",
            f"{url}: {one_line(describe(exc), 300)}",
            "check the network, a proxy, or UNSANDBOX_API_URL",
        )
    elapsed = (time.perf_counter() - started) * 1000
    return Check(True, "API", f"{url} answered in {elapsed:.0f} ms")


async def _keys(client: AsyncClient) -> Check:
    try:
        reply = await client.keys.validate()
    except Exception as exc:
        if getattr(exc, "status", None) == 404:  # e.g. an older un-async serve
            return Check(
                True,
                "keys",
                "not checked: the server has no POST /keys/validate (404)",
                warning=True,
            )
        return Check(False, "keys", one_line(describe(exc), 300), "check the key pair")
    if not reply.valid:
        return Check(
            False,
            "keys",
            f"not valid ({reply.reason or 'no reason given'})",
            "renew or replace the key pair",
        )
    details = ", ".join(
        f"{name} {value}"
        for name, value in (("tier", reply.tier), ("valid until", reply.expires_at))
        if value not in (None, "")
    )
    return Check(True, "keys", f"valid ({details})" if details else "valid")


def _local_checks(facts: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    isolation = facts.get("isolation") or {}
    level = str(isolation.get("level", "unknown"))
    detail = (
        f"{level} (network {isolation.get('network', '?')}, "
        f"filesystem {isolation.get('filesystem', '?')})"
    )
    unavailable = facts.get("levels_unavailable") or {}
    why = "; ".join(f"{name}: {reason}" for name, reason in unavailable.items())
    hint = "install bubblewrap for a private filesystem" + (f" ({why})" if why else "")
    checks.append(
        Check(level in GOOD_LEVELS, "isolation", detail, "" if level in GOOD_LEVELS else hint)
    )
    for warning in isolation.get("warnings") or ():
        checks.append(Check(False, "isolation", str(warning), README_LOCAL))
    languages = facts.get("languages") or {}
    listed = ", ".join(
        f"{name} {str(version).split(' ')[0]}" for name, version in languages.items()
    )
    checks.append(
        Check(
            bool(languages),
            "languages",
            listed or "none found",
            "" if languages else "install python3 (or another toolchain)",
        )
    )
    for name, hint in (facts.get("missing_languages") or {}).items():
        checks.append(Check(False, name, "not available here", str(hint)))
    return checks


async def _runs_code(client: AsyncClient, names: list[str]) -> Check:
    """Run a trivial program on the backend: does it print ``ok`` and exit 0?"""
    language = next((name for name in TRIVIAL_PROGRAMS if name in names), None)
    if language is None:
        return Check(
            bool(names),
            "runs code",
            f"not tried: no language here has a test program ({', '.join(TRIVIAL_PROGRAMS)})",
            "" if names else "no language can run",
            warning=bool(names),
        )
    started = time.perf_counter()
    try:
        result = await client.execute_code(
            language, TRIVIAL_PROGRAMS[language], timeout=RUN_TIMEOUT
        )
    except Exception as exc:
        return Check(False, "runs code", f"{language}: {one_line(describe(exc), 300)}")
    elapsed = (time.perf_counter() - started) * 1000
    if result.exit_code == 0 and result.stdout.strip() == "ok":
        return Check(True, "runs code", f"({language}, {elapsed:.0f} ms)")
    what = result.error or one_line(result.stderr, 200) or f"printed {result.stdout[:40]!r}"
    ended = result.raw_status or "unknown"
    if result.exit_code is not None:
        ended += f", exit code {result.exit_code}"
    hint = README_LOCAL if client.executor.name == "local" else "fix the ✗ above"
    return Check(False, "runs code", f"{language}: {ended}: {what}", hint)


async def _gather(backend: str | None, account: int | None) -> tuple[list[Check], bool]:
    checks = [Check(True, "un-async", f"{__version__} on Python {platform.python_version()}")]
    try:
        client = make_client(backend=backend, account=account)
    except Exception as exc:
        checks.append(Check(False, "backend", one_line(describe(exc)), "see --backend"))
        return checks, False
    async with client:
        return await _client_checks(client, checks)


async def _client_checks(client: AsyncClient, checks: list[Check]) -> tuple[list[Check], bool]:
    executor = client.executor
    checks.append(Check(True, "backend", executor.name))
    usable = True
    if executor.requires_credentials:
        try:
            credentials = await client.credentials()
        except Exception as exc:
            usable = False
            checks.append(
                Check(
                    False,
                    "credentials",
                    one_line(describe(exc), 300),
                    "set UNSANDBOX_PUBLIC_KEY and UNSANDBOX_SECRET_KEY, or use "
                    "~/.unsandbox/accounts.csv (or --backend local: no account)",
                )
            )
        else:
            checks.append(
                Check(
                    True,
                    "credentials",
                    f"from {credentials.source} (public key "
                    f"{mask_public_key(credentials.public_key)})",
                )
            )
    else:
        checks.append(Check(True, "credentials", f"not needed by the {executor.name} backend"))
    if executor.name == "unsandbox":
        health = await _health(client)
        checks.append(health)
        usable = usable and health.ok
        if usable:
            keys = await _keys(client)
            checks.append(keys)
            usable = keys.ok
    try:
        facts = await asyncio.to_thread(executor.describe)
    except Exception as exc:
        facts = {}
        checks.append(Check(False, "backend facts", one_line(describe(exc), 300)))
    if executor.name == "local":
        checks.extend(_local_checks(facts))
    if usable:
        try:
            names = await client.get_languages(refresh=True)
        except Exception as exc:
            usable = False
            checks.append(
                Check(False, "languages", one_line(describe(exc), 300), "fix the ✗ above")
            )
        else:
            if executor.name != "local":  # the local lines above list them
                checks.append(
                    Check(bool(names), "languages", f"{len(names)} available", "none is offered")
                )
            runs = await _runs_code(client, names)
            checks.append(runs)
            usable = runs.ok
    return checks, usable


def _unicode_output() -> bool:
    """True when stdout can show ✓, ✗ and the ellipsis."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗…—".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@click.command("doctor", short_help="Check that code can run here, and how.")
@backend_option()
@account_option
@json_option
def doctor(backend: str | None, account: int | None, as_json: bool) -> int:
    """Check the backend, credentials, API, isolation and languages; exit 0 when code can run."""
    checks, usable = run_async(lambda: _gather(backend, account))
    checks.append(
        Check(True, "rich", "installed: progress bars and tables")
        if rich_available()
        else Check(False, "rich", "not installed: plain output", "pip install 'un-async[cli]'")
    )
    if as_json:
        print_json({"can_run": usable, "checks": [attrs.asdict(check) for check in checks]})
    else:
        unicode = _unicode_output()
        good, bad = ("✓", "✗") if unicode else ("OK", "NO")
        for check in checks:
            mark = "!" if check.warning else good if check.ok else bad
            joint = " " if check.detail.startswith("(") else ": "
            line = f"{mark} {check.label}{joint}{check.detail}"
            if not check.ok and check.hint:
                line += f"  — {check.hint}"
            if not unicode:
                line = line.replace("…", "...").replace("—", "-").replace("✗", "NO")
            click.echo(one_line(line, 1000))
    return exit_codes.OK if usable else exit_codes.FAILURE
