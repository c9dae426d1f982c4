"""``un-async services``: persistent containers (``client.services``), with their
environment vault (``services env ...``) and logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from un_async.cli.options import timeout_option, yes_option
from un_async.cli.output import print_json
from un_async.cli.prompts import confirm, otp_callback
from un_async.cli.resources.common import client_options, show_list, show_record, with_client
from un_async.cli.results import finish
from un_async.cli.sources import input_files_from

__all__ = ["services"]

COLUMNS = (
    ("id", "SERVICE ID"),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("ports", "PORTS"),
    ("vcpu", "VCPU"),
    ("url", "URL"),
)
FIELDS = ("id", "name", "status", "url", "ports", "vcpu", "locked", "custom_domains")


@click.group("services", short_help="Deploy and manage services (env vault, logs).")
def services() -> None:
    """Deploy, inspect, resize, freeze, lock and delete services; env vault and logs."""


@services.command("list")
@client_options
def list_services(backend: str | None, account: int | None, as_json: bool) -> int:
    """List the account's services."""
    found = with_client(backend, account, lambda client: client.services.list())
    show_list(found, as_json=as_json, columns=COLUMNS, empty="no services")
    return 0


@services.command("get")
@click.argument("service_id")
@client_options
def get_service(service_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Show a service."""
    found = with_client(backend, account, lambda client: client.services.get(service_id))
    show_record(found, as_json=as_json, keys=FIELDS)
    return 0


def _print_text(text: str) -> None:
    """``text`` on stdout, ending with a newline unless empty."""
    sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _bootstrap(command: str | None, script: Path | None) -> tuple[str | None, str | None]:
    if command and script:
        raise click.UsageError("give --bootstrap or --bootstrap-file, not both")
    content = script.read_text(encoding="utf-8") if script else None
    return command, content


@services.command("create")
@click.argument("name")
@click.option(
    "-p",
    "--port",
    "ports",
    multiple=True,
    required=True,
    type=click.IntRange(1, 65535),
    help="Port to expose (repeatable).",
)
@click.option("--bootstrap", metavar="URL|COMMAND", help="What to run to set it up.")
@click.option(
    "--bootstrap-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A setup script to send.",
)
@click.option(
    "-n",
    "--network",
    default="semitrusted",
    show_default=True,
    type=click.Choice(["zerotrust", "semitrusted"]),
)
@click.option("--domain", "domains", multiple=True, help="Custom domain (repeatable).")
@click.option("--vcpu", default=1, show_default=True, type=click.IntRange(1, 8))
@click.option("--type", "service_type", help="SRV record type (minecraft, tcp, ...).")
@click.option("--unfreeze-on-demand", is_flag=True, help="Wake on the next request when frozen.")
@click.option("--golden-image", metavar="ALIAS", help="Image to start from.")
@click.option(
    "-f",
    "--file",
    "input_paths",
    multiple=True,
    metavar="PATH",
    type=click.Path(exists=True, dir_okay=False),
    help="Input file (repeatable).",
)
@client_options
def create_service(
    name: str,
    ports: tuple[int, ...],
    bootstrap: str | None,
    bootstrap_file: Path | None,
    network: str,
    domains: tuple[str, ...],
    vcpu: int,
    service_type: str | None,
    unfreeze_on_demand: bool,
    golden_image: str | None,
    input_paths: tuple[str, ...],
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Deploy a service NAME; prints its id."""
    command, content = _bootstrap(bootstrap, bootstrap_file)
    files = input_files_from(input_paths)
    created = with_client(
        backend,
        account,
        lambda client: client.services.create(
            name,
            list(ports),
            bootstrap=command,
            bootstrap_content=content,
            network_mode=network,
            custom_domains=list(domains) or None,
            vcpu=vcpu,
            service_type=service_type,
            unfreeze_on_demand=unfreeze_on_demand,
            golden_image=golden_image,
            input_files=files or None,
        ),
    )
    if as_json:
        show_record(created, as_json=True)
    else:
        click.echo(created.id)
    return 0


@services.command("update")
@click.argument("service_id")
@click.option("--vcpu", type=click.IntRange(1, 8), help="Resize to this many vCPUs.")
@click.option("--unfreeze-on-demand/--no-unfreeze-on-demand", default=None)
@click.option("--show-freeze-page/--no-show-freeze-page", default=None)
@client_options
def update_service(
    service_id: str,
    vcpu: int | None,
    unfreeze_on_demand: bool | None,
    show_freeze_page: bool | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Change a service's size or freeze behaviour."""
    reply = with_client(
        backend,
        account,
        lambda client: client.services.update(
            service_id,
            vcpu=vcpu,
            unfreeze_on_demand=unfreeze_on_demand,
            show_freeze_page=show_freeze_page,
        ),
    )
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@services.command("delete")
@click.argument("service_id")
@yes_option
@click.option("--otp", metavar="CODE", help="One-time password, if the server asks for one.")
@client_options
def delete_service(
    service_id: str,
    yes: bool,
    otp: str | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Delete a service."""
    confirm(f"Delete service {service_id}?", yes=yes)
    reply = with_client(
        backend, account, lambda client: client.services.delete(service_id, otp=otp_callback(otp))
    )
    if as_json:
        show_record(reply, as_json=True)
    else:
        click.echo(f"deleted {service_id}")
    return 0


def _action(name: str, summary: str, *, destructive: bool = False) -> None:
    @services.command(name, help=summary)
    @click.argument("service_id")
    @yes_option
    @client_options
    def command(
        service_id: str, yes: bool, backend: str | None, account: int | None, as_json: bool
    ) -> int:
        if destructive:
            confirm(f"{name.capitalize()} service {service_id}?", yes=yes)
        reply = with_client(
            backend, account, lambda client: getattr(client.services, name)(service_id)
        )
        show_record(reply, as_json=as_json, keys=FIELDS)
        return 0


_action("freeze", "Stop a service, keeping its state.", destructive=True)
_action("unfreeze", "Start a frozen service again.")
_action("lock", "Refuse deletion until unlocked.")
_action("redeploy", "Run the service's bootstrap again.", destructive=True)


@services.command("unlock")
@click.argument("service_id")
@click.option("--otp", metavar="CODE", help="One-time password, if the server asks for one.")
@client_options
def unlock_service(
    service_id: str, otp: str | None, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Allow a locked service to be deleted again."""
    reply = with_client(
        backend, account, lambda client: client.services.unlock(service_id, otp=otp_callback(otp))
    )
    show_record(reply, as_json=as_json, keys=FIELDS)
    return 0


@services.command("logs")
@click.argument("service_id")
@click.option("--all", "all_logs", is_flag=True, help="The whole log, not the last lines.")
@client_options
def logs(
    service_id: str, all_logs: bool, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Print a service's log."""
    reply = with_client(
        backend, account, lambda client: client.services.logs(service_id, all_logs=all_logs)
    )
    if as_json:
        show_record(reply, as_json=True)
    else:
        _print_text(reply.log)
    return 0


@services.command("execute")
@click.argument("service_id")
@click.argument("command")
@click.option(
    "--timeout-ms",
    default=30_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Server-side limit of the command (0: none).",
)
@timeout_option
@client_options
def execute(
    service_id: str,
    command: str,
    timeout_ms: int,
    timeout: float | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Run COMMAND in a service; print its output and exit with its exit code."""
    result = with_client(
        backend,
        account,
        lambda client: client.services.execute(
            service_id, command, timeout_ms=timeout_ms, wait=True
        ),
        timeout=timeout,
    )
    return finish(result, as_json=as_json, quiet=False, artifacts_dir=None)


@services.command("snapshot")
@click.argument("service_id")
@click.option("--name", help="A name for the snapshot.")
@click.option("--hot", is_flag=True, help="Snapshot without freezing the service.")
@client_options
def snapshot_service(
    service_id: str,
    name: str | None,
    hot: bool,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Snapshot a service; prints the snapshot's id."""
    snapshot = with_client(
        backend, account, lambda client: client.services.snapshot(service_id, name=name, hot=hot)
    )
    if as_json:
        show_record(snapshot, as_json=True)
    else:
        click.echo(snapshot.id)
    return 0


@services.group("env")
def env() -> None:
    """A service's environment vault: status, set, export, delete."""


@env.command("status")
@click.argument("service_id")
@client_options
def env_status(service_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Whether the vault exists and how many variables it holds (never the values)."""
    reply = with_client(backend, account, lambda client: client.services.env_status(service_id))
    show_record(reply, as_json=as_json, keys=("has_vault", "count", "updated_at"))
    return 0


@env.command("set")
@click.argument("service_id")
@click.argument("env_file", type=click.File("r", encoding="utf-8"), metavar="ENV_FILE|-")
@client_options
def env_set(
    service_id: str,
    env_file: TextIO,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Replace the vault with the KEY=VALUE lines of ENV_FILE (- reads stdin)."""
    text = env_file.read()
    reply = with_client(backend, account, lambda client: client.services.set_env(service_id, text))
    show_record(reply, as_json=as_json, keys=("has_vault", "count", "updated_at"))
    return 0


@env.command("export")
@click.argument("service_id")
@client_options
def env_export(service_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Print the vault's KEY=VALUE lines (they are secrets: mind where they go)."""
    reply = with_client(backend, account, lambda client: client.services.export_env(service_id))
    if as_json:
        print_json({"env": reply.env})
    else:
        _print_text(reply.env)
    return 0


@env.command("delete")
@click.argument("service_id")
@click.option("--key", "keys", multiple=True, help="Delete only this variable (repeatable).")
@yes_option
@client_options
def env_delete(
    service_id: str,
    keys: tuple[str, ...],
    yes: bool,
    backend: str | None,
    account: int | None,
    as_json: bool,
) -> int:
    """Delete the vault, or only the --key variables."""
    what = ", ".join(keys) if keys else "the whole vault"
    confirm(f"Delete {what} of service {service_id}?", yes=yes)
    reply = with_client(
        backend, account, lambda client: client.services.delete_env(service_id, list(keys) or None)
    )
    show_record(reply, as_json=as_json, keys=("has_vault", "count", "updated_at"))
    return 0
