"""``un-async sessions``: interactive containers (``client.sessions``)."""

from __future__ import annotations

import click

from un_async.cli.options import yes_option
from un_async.cli.prompts import confirm, otp_callback
from un_async.cli.resources.common import client_options, show_list, show_record, with_client
from un_async.cli.results import finish
from un_async.cli.sources import input_files_from
from un_async.core.models import ExecutionResult

__all__ = ["sessions"]

COLUMNS = (
    ("id", "SESSION ID"),
    ("status", "STATUS"),
    ("container_name", "CONTAINER"),
    ("vcpu", "VCPU"),
    ("created_at", "CREATED"),
)
FIELDS = ("id", "status", "container_name", "vcpu", "network_mode", "multiplexer")


@click.group("sessions")
def sessions() -> None:
    """Create, inspect, freeze, boost, shell into and delete sessions."""


@sessions.command("list")
@client_options
def list_sessions(backend: str | None, account: int | None, as_json: bool) -> int:
    """List the account's sessions."""
    found = with_client(backend, account, lambda client: client.sessions.list())
    show_list(found, as_json=as_json, columns=COLUMNS, empty="no sessions")
    return 0


@sessions.command("get")
@click.argument("session_id")
@client_options
def get_session(session_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Show a session."""
    found = with_client(backend, account, lambda client: client.sessions.get(session_id))
    show_record(found, as_json=as_json, keys=FIELDS)
    return 0


@sessions.command("create")
@click.option(
    "-n",
    "--network",
    default="zerotrust",
    show_default=True,
    type=click.Choice(["zerotrust", "semitrusted"]),
)
@click.option(
    "--ttl",
    default=3600,
    show_default=True,
    type=click.IntRange(min=1),
    help="Lifetime in seconds.",
)
@click.option("--shell", help="Shell to start, e.g. bash or python3.")
@click.option(
    "--multiplexer",
    type=click.Choice(["tmux", "screen"]),
    help="Needed to freeze the session later.",
)
@click.option("--vcpu", default=1, show_default=True, type=click.IntRange(1, 8))
@click.option(
    "-f",
    "--file",
    "input_paths",
    multiple=True,
    metavar="PATH",
    type=click.Path(exists=True, dir_okay=False),
    help="Input file (repeatable).",
)
@click.option("--audit", is_flag=True, help="Keep the shell history (returned on delete).")
@client_options
def create_session(
    network: str,
    ttl: int,
    shell: str | None,
    multiplexer: str | None,
    vcpu: int,
    input_paths: tuple[str, ...],
    audit: bool,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Create a session; prints its id."""
    files = input_files_from(input_paths)
    created = with_client(
        backend,
        account,
        lambda client: client.sessions.create(
            network_mode=network,
            ttl=ttl,
            shell=shell,
            multiplexer=multiplexer,
            vcpu=vcpu,
            input_files=files or None,
            audit=audit,
        ),
    )
    if as_json:
        show_record(created, as_json=True)
    else:
        click.echo(created.id)
    return 0


@sessions.command("delete")
@click.argument("session_id")
@yes_option
@click.option("--otp", metavar="CODE", help="One-time password, if the server asks for one.")
@client_options
def delete_session(
    session_id: str,
    yes: bool,
    otp: str | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Terminate a session."""
    confirm(f"Delete session {session_id}?", yes=yes)
    reply = with_client(
        backend, account, lambda client: client.sessions.delete(session_id, otp=otp_callback(otp))
    )
    if as_json:
        show_record(reply, as_json=True)
    else:
        click.echo(f"deleted {session_id}")
    return 0


def _action(name: str, summary: str) -> None:
    @sessions.command(name, help=summary)
    @click.argument("session_id")
    @client_options
    def command(session_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
        reply = with_client(
            backend, account, lambda client: getattr(client.sessions, name)(session_id)
        )
        show_record(reply, as_json=as_json, keys=FIELDS)
        return 0


_action("freeze", "Pause a session, keeping its state (needs a multiplexer).")
_action("unfreeze", "Resume a frozen session.")
_action("unboost", "Return a session to the size it was created with.")


@sessions.command("boost")
@click.argument("session_id")
@click.option("--vcpu", default=2, show_default=True, type=click.IntRange(1, 8))
@client_options
def boost_session(
    session_id: str, vcpu: int, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Run a session on more vCPUs."""
    reply = with_client(backend, account, lambda client: client.sessions.boost(session_id, vcpu))
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@sessions.command("shell")
@click.argument("session_id")
@click.argument("command")
@client_options
def shell(
    session_id: str, command: str, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Run one shell COMMAND in a session; exit with its exit code."""
    reply = with_client(backend, account, lambda client: client.sessions.shell(session_id, command))
    result = ExecutionResult(
        dict(reply),
        status="completed",
        stdout=reply.stdout,
        stderr=reply.stderr,
        exit_code=reply.exit_code,
    )
    return finish(result, as_json=as_json, quiet=True, artifacts_dir=None)


@sessions.command("snapshot")
@click.argument("session_id")
@click.option("--name", help="A name for the snapshot.")
@click.option("--hot", is_flag=True, help="Snapshot without freezing the session.")
@client_options
def snapshot_session(
    session_id: str,
    name: str | None,
    hot: bool,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Snapshot a session; prints the snapshot's id."""
    snapshot = with_client(
        backend, account, lambda client: client.sessions.snapshot(session_id, name=name, hot=hot)
    )
    if as_json:
        show_record(snapshot, as_json=True)
    else:
        click.echo(snapshot.id)
    return 0
