"""``un-async images``: portable images (``client.images``)."""

from __future__ import annotations

import click

from un_async.cli.options import yes_option
from un_async.cli.output import print_json
from un_async.cli.prompts import confirm, otp_callback
from un_async.cli.resources.common import (
    client_options,
    mask_keys,
    show_list,
    show_record,
    with_client,
)

__all__ = ["images"]

COLUMNS = (
    ("id", "IMAGE ID"),
    ("name", "NAME"),
    ("visibility", "VISIBILITY"),
    ("source_type", "SOURCE"),
    ("locked", "LOCKED"),
    ("created_at", "CREATED"),
)
FIELDS = ("id", "name", "visibility", "locked", "source_type", "source_id", "trusted_keys")


@click.group("images")
def images() -> None:
    """Publish, list, share, lock, spawn and delete images."""


@images.command("list")
@click.option(
    "--which",
    default="all",
    show_default=True,
    type=click.Choice(["all", "owned", "shared", "public"]),
)
@client_options
def list_images(which: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """List the images the account may use."""
    found = with_client(backend, account, lambda client: client.images.list(which))
    show_list(found, as_json=as_json, columns=COLUMNS, empty="no images")
    return 0


@images.command("get")
@click.argument("image_id")
@client_options
def get_image(image_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Show an image."""
    found = with_client(backend, account, lambda client: client.images.get(image_id))
    show_record(found, as_json=as_json, keys=FIELDS)
    return 0


@images.command("publish")
@click.argument("source_type", type=click.Choice(["service", "snapshot"]))
@click.argument("source_id")
@click.option("--name", help="The image's name.")
@click.option("--description", help="What it holds.")
@client_options
def publish(
    source_type: str,
    source_id: str,
    name: str | None,
    description: str | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Publish a service or snapshot as a private image; prints its id."""
    image = with_client(
        backend,
        account,
        lambda client: client.images.publish(
            source_type, source_id, name=name, description=description
        ),
    )
    if as_json:
        show_record(image, as_json=True)
    else:
        click.echo(image.id)
    return 0


@images.command("delete")
@click.argument("image_id")
@yes_option
@click.option("--otp", metavar="CODE", help="One-time password, if the server asks for one.")
@client_options
def delete_image(
    image_id: str,
    yes: bool,
    otp: str | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Delete an image."""
    confirm(f"Delete image {image_id}?", yes=yes)
    reply = with_client(
        backend, account, lambda client: client.images.delete(image_id, otp=otp_callback(otp))
    )
    if as_json:
        show_record(reply, as_json=True)
    else:
        click.echo(f"deleted {image_id}")
    return 0


@images.command("lock")
@click.argument("image_id")
@client_options
def lock_image(image_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Refuse deletion until unlocked."""
    reply = with_client(backend, account, lambda client: client.images.lock(image_id))
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@images.command("unlock")
@click.argument("image_id")
@click.option("--otp", metavar="CODE", help="One-time password, if the server asks for one.")
@client_options
def unlock_image(
    image_id: str, otp: str | None, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Allow a locked image to be deleted again."""
    reply = with_client(
        backend, account, lambda client: client.images.unlock(image_id, otp=otp_callback(otp))
    )
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@images.command("visibility")
@click.argument("image_id")
@click.argument("visibility", type=click.Choice(["private", "unlisted", "public"]))
@client_options
def set_visibility(
    image_id: str, visibility: str, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Make an image private, unlisted or public."""
    reply = with_client(
        backend, account, lambda client: client.images.set_visibility(image_id, visibility)
    )
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@images.command("grant")
@click.argument("image_id")
@click.argument("public_key")
@client_options
def grant(
    image_id: str, public_key: str, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Let the account with PUBLIC_KEY use an image."""
    reply = with_client(backend, account, lambda client: client.images.grant(image_id, public_key))
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@images.command("revoke")
@click.argument("image_id")
@click.argument("public_key")
@client_options
def revoke(
    image_id: str, public_key: str, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Take back an account's access to an image."""
    reply = with_client(backend, account, lambda client: client.images.revoke(image_id, public_key))
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@images.command("trusted")
@click.argument("image_id")
@client_options
def trusted(image_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """List the accounts an image is shared with (keys shown by their first 8 characters)."""
    keys = with_client(backend, account, lambda client: client.images.trusted(image_id))
    masked = mask_keys(list(keys))
    if as_json:
        print_json(masked)
    else:
        for key in masked:
            click.echo(key)
    return 0


@images.command("transfer")
@click.argument("image_id")
@click.argument("public_key")
@yes_option
@client_options
def transfer(
    image_id: str,
    public_key: str,
    yes: bool,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Give an image to the account with PUBLIC_KEY (it becomes the owner)."""
    confirm(f"Transfer image {image_id} to another account?", yes=yes)
    reply = with_client(
        backend, account, lambda client: client.images.transfer(image_id, public_key)
    )
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@images.command("spawn")
@click.argument("image_id")
@click.option("--name", help="The new service's name.")
@click.option(
    "-p",
    "--port",
    "ports",
    multiple=True,
    type=click.IntRange(1, 65535),
    help="Port to expose (repeatable).",
)
@click.option("--bootstrap", metavar="URL|COMMAND", help="What to run to set it up.")
@click.option(
    "-n",
    "--network",
    default="zerotrust",
    show_default=True,
    type=click.Choice(["zerotrust", "semitrusted"]),
)
@click.option("--vcpu", default=1, show_default=True, type=click.IntRange(1, 8))
@client_options
def spawn(
    image_id: str,
    name: str | None,
    ports: tuple[int, ...],
    bootstrap: str | None,
    network: str,
    vcpu: int,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Start a service from an image; prints the service's id."""
    service = with_client(
        backend,
        account,
        lambda client: client.images.spawn(
            image_id,
            name=name,
            ports=list(ports) or None,
            bootstrap=bootstrap,
            network_mode=network,
            vcpu=vcpu,
        ),
    )
    if as_json:
        show_record(service, as_json=True)
    else:
        click.echo(service.id)
    return 0
