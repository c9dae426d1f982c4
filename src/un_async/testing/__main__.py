"""Run the fake unsandbox server in its own process.

``python -m un_async.testing [--port 8765] [--mode job] [--latency spec]`` prints the base
URL as its first stdout line once listening, then ``export`` lines for the URL and the
key pair it accepts (paste them into another shell to point any client at it), then
serves until SIGINT/SIGTERM. Requests are not recorded (memory stays flat);
``GET /_fake/stats`` reports counters.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shlex
import signal
import ssl
import sys
from collections.abc import Sequence

from .faults import DurationModel, Fault, parse_latency
from .server import TEST_PUBLIC_KEY, TEST_SECRET_KEY, FakeUnsandbox

__all__ = ["build_parser", "main"]


def _rate_limit(text: str) -> tuple[int, float]:
    count, _, seconds = text.partition("/")
    try:
        return int(count), float(seconds or "1")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N/SECONDS, got {text!r}") from None


def _account(text: str) -> tuple[str, str]:
    public_key, sep, secret_key = text.partition(":")
    if not sep or not public_key or not secret_key:
        raise argparse.ArgumentTypeError(f"expected PUBLIC:SECRET, got {text!r}")
    return public_key, secret_key


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="python -m un_async.testing",
        description=__doc__,
        epilog=(
            "Without --account the server accepts the built-in test key pair:\n"
            f"  export UNSANDBOX_PUBLIC_KEY={TEST_PUBLIC_KEY}\n"
            f"  export UNSANDBOX_SECRET_KEY={TEST_SECRET_KEY}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback only)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --host")
    p.add_argument("--print-url", action="store_true", help="accepted; the URL is always printed")
    p.add_argument("--mode", choices=("auto", "sync", "job"), default="auto")
    p.add_argument("--sync-threshold", type=float, default=0.5)
    p.add_argument("--default-duration", type=float, default=0.0, help="job run time, seconds")
    p.add_argument("--queue-delay", type=float, default=0.0, help="pending phase, seconds")
    p.add_argument(
        "--durations", choices=("constant", "spec"), default="constant",
        help="'spec': per-language run times from spec §9.1 (times --scale)",
    )  # fmt: skip
    p.add_argument(
        "--latency", default="none", help="none | spec | degraded | fixed:SECONDS (times --scale)"
    )
    p.add_argument("--scale", type=float, default=1.0, help="multiplier for --latency/--durations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 503")
    p.add_argument("--cancel-status", type=int, choices=(200, 204), default=200)
    p.add_argument("--async-status", type=int, choices=(200, 202), default=200)
    p.add_argument("--strict-query-signing", action="store_true")
    p.add_argument("--no-verify-signatures", action="store_true")
    p.add_argument("--clock-offset", type=float, default=0.0)
    p.add_argument("--sudo-otp", default=None)
    p.add_argument("--concurrency-limit", type=int, default=None, help="active jobs per account")
    p.add_argument(
        "--vcpu-limit", type=int, default=None,
        help="running vCPUs per account: 429 on session/service create, unfreeze, boost, resize",
    )  # fmt: skip
    p.add_argument("--rate-limit", type=_rate_limit, default=None, metavar="N/SECONDS")
    p.add_argument("--no-retry-after", action="store_true", help="429s without Retry-After")
    p.add_argument(
        "--account", type=_account, action="append", default=None, metavar="PUBLIC:SECRET",
        help="accepted key pair (repeatable; default: the built-in test account)",
    )  # fmt: skip
    p.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve HTTPS")
    p.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _accounts(args: argparse.Namespace) -> dict[str, str]:
    """The accepted key pairs: ``--account`` ones, else the built-in test account."""
    return dict(args.account) if args.account else {TEST_PUBLIC_KEY: TEST_SECRET_KEY}


def _make_server(args: argparse.Namespace) -> FakeUnsandbox:
    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
    fake = FakeUnsandbox(
        accounts=_accounts(args),
        host=args.host,
        port=args.port,
        ssl_context=ssl_context,
        mode=args.mode,
        sync_threshold=args.sync_threshold,
        default_duration=args.default_duration,
        duration_model=(
            DurationModel.spec_default(seed=args.seed, scale=args.scale)
            if args.durations == "spec"
            else None
        ),
        queue_delay=args.queue_delay,
        cancel_status=args.cancel_status,
        async_status=args.async_status,
        strict_query_signing=args.strict_query_signing,
        verify_signatures=not args.no_verify_signatures,
        clock_offset=args.clock_offset,
        sudo_otp=args.sudo_otp,
        concurrency_limit=args.concurrency_limit,
        vcpu_limit=args.vcpu_limit,
        rate_limit=args.rate_limit,
        rate_limit_retry_after=not args.no_retry_after,
        latency=parse_latency(args.latency, scale=args.scale, seed=args.seed),
        seed=args.seed,
        record_requests=False,
    )
    if args.error_rate > 0:
        fake.inject(Fault.status(503, rate=args.error_rate))
    return fake


async def _serve(fake: FakeUnsandbox, accounts: dict[str, str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with fake:
        public_key, secret_key = next(iter(accounts.items()))
        sys.stdout.write(
            f"{fake.url}\n"
            f"export UNSANDBOX_API_URL={shlex.quote(fake.url)}\n"
            f"export UNSANDBOX_PUBLIC_KEY={shlex.quote(public_key)}\n"
            f"export UNSANDBOX_SECRET_KEY={shlex.quote(secret_key)}\n"
        )
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.allow_remote and not _is_loopback(args.host):
        parser.error(f"refusing non-loopback host {args.host!r} without --allow-remote")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    try:
        fake = _make_server(args)
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(_serve(fake, _accounts(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
