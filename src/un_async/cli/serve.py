"""``un-async serve``: an unsandbox-compatible API on this machine that runs code for real.

It prints ``export`` lines (URL and key pair) on stdout, then serves until SIGINT/SIGTERM
and exits 0. Only loopback addresses are accepted unless ``--allow-remote`` is given:
whoever reaches the port with the key runs code on this machine.
"""

from __future__ import annotations

import asyncio

import click

from un_async.cli.errors import warn
from un_async.cli.options import backend_option
from un_async.core.config import is_loopback_host

__all__ = ["serve"]


@click.command("serve", short_help="Serve an unsandbox-compatible API that runs code here.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=0,
    type=click.IntRange(0, 65535),
    help="Port (default: 0, any free port; the URL is printed).",
)
@backend_option(default="local")
@click.option(
    "--account",
    "account_text",
    metavar="PUBLIC:SECRET",
    help="Accept this key pair (default: a new random pair per start).",
)
@click.option(
    "--sync-wait",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds POST /execute waits for a result before answering with a job to poll.",
)
@click.option("--allow-remote", is_flag=True, help="Permit a non-loopback --host.")
@click.option("-q", "--quiet", is_flag=True, help="Do not log requests on stderr.")
def serve(
    host: str,
    port: int,
    backend: str,
    account_text: str | None,
    sync_wait: float,
    allow_remote: bool,
    quiet: bool,
) -> int:
    """Serve the unsandbox API on HOST:PORT, running code through --backend (local).

    \b
      un-async serve                       # prints export lines; paste them elsewhere
      export UNSANDBOX_API_URL=... UNSANDBOX_PUBLIC_KEY=... UNSANDBOX_SECRET_KEY=...
      python examples/fibonacci_async.py   # any unsandbox client now runs code here
    """
    if not is_loopback_host(host) and not allow_remote:
        raise click.UsageError(
            f"refusing to listen on {host!r} without --allow-remote: anyone who can reach "
            "it with the key could run code on this machine"
        )
    from un_async.server.accounts import generate_account, parse_account
    from un_async.server.runner import serve_until_stopped

    if account_text is None:
        account = generate_account()
    else:
        try:
            account = parse_account(account_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--account") from None
    if not is_loopback_host(host):
        warn(f"listening on {host}: reachable from other machines (--allow-remote)")

    def announce(url: str, languages: list[str]) -> None:
        warn(
            f"serving the unsandbox API on {url} with the {backend} backend "
            f"({len(languages)} languages); stop with Ctrl-C"
        )

    asyncio.run(
        serve_until_stopped(
            host=host,
            port=port,
            backend=backend,
            backend_options=None,
            account=account,
            sync_wait=sync_wait,
            announce=announce,
            request_log=None if quiet else (lambda line: warn(f"serve: {line}")),
        )
    )
    return 0
