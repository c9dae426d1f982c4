"""``un-async snapshots list|create|restore|delete``: session and service snapshots."""

from __future__ import annotations

import click

from un_async.cli.options import account_option, backend_option, json_option, yes_option
from un_async.cli.output import print_json, print_table
from un_async.cli.prompts import confirm, otp_callback
from un_async.cli.runtime import make_client, run_async
from un_async.core.models import Record, Snapshot

__all__ = ["snapshots"]

SNAPSHOT_COLUMNS = (
    ("id", "SNAPSHOT ID"),
    ("name", "NAME"),
    ("source_type", "SOURCE"),
    ("source_id", "SOURCE ID"),
    ("size_bytes", "BYTES"),
    ("created_at", "CREATED"),
)


@click.group("snapshots")
def snapshots() -> None:
    """List, create, restore and delete snapshots."""


@snapshots.command("list")
@backend_option()
@account_option
@json_option
def list_snapshots(backend: str | None, account: int | None, as_json: bool) -> int:
    """List the account's snapshots."""

    async def fetch() -> list[Snapshot]:
        async with make_client(backend=backend, account=account) as client:
            return await client.list_snapshots()

    found = run_async(fetch)
    if as_json:
        print_json([snapshot.to_dict() for snapshot in found])
    else:
        print_table(found, SNAPSHOT_COLUMNS, empty="no snapshots")
    return 0


@snapshots.command("create")
@click.argument("session_id")
@click.option("--name", help="A name for the snapshot.")
@click.option("--hot", is_flag=True, help="Snapshot without freezing the session.")
@backend_option()
@account_option
@json_option
def create_snapshot(
    session_id: str,
    name: str | None,
    hot: bool,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Snapshot a session; prints the new snapshot's id."""

    async def create() -> str:
        async with make_client(backend=backend, account=account) as client:
            return await client.session_snapshot(session_id, name=name, hot=hot)

    snapshot_id = run_async(create)
    if as_json:
        print_json({"snapshot_id": snapshot_id})
    else:
        click.echo(snapshot_id)
    return 0


@snapshots.command("restore")
@click.argument("snapshot_id")
@yes_option
@backend_option()
@account_option
@json_option
def restore_snapshot(
    snapshot_id: str, yes: bool, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Restore a snapshot."""
    confirm(f"Restore snapshot {snapshot_id}?", yes=yes)

    async def restore() -> Record:
        async with make_client(backend=backend, account=account) as client:
            return await client.restore_snapshot(snapshot_id)

    reply = run_async(restore)
    if as_json:
        print_json(reply.to_dict())
    else:
        click.echo(f"restored {snapshot_id}")
    return 0


@snapshots.command("delete")
@click.argument("snapshot_id")
@yes_option
@click.option("--otp", metavar="CODE", help="One-time password, if the server asks for one.")
@backend_option()
@account_option
@json_option
def delete_snapshot(
    snapshot_id: str,
    yes: bool,
    otp: str | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Delete a snapshot (asks for the one-time password the server may require)."""
    confirm(f"Delete snapshot {snapshot_id}?", yes=yes)

    async def delete() -> Record:
        async with make_client(backend=backend, account=account) as client:
            return await client.delete_snapshot(snapshot_id, otp=otp_callback(otp))

    reply = run_async(delete)
    if as_json:
        print_json(reply.to_dict())
    else:
        click.echo(f"deleted {snapshot_id}")
    return 0
