"""Drop-in module functions for code written against the service's reference async SDK.

Each function has the reference's name and positional parameters (``public_key`` and
``secret_key`` where the reference puts them), then keyword-only extras: ``account_index``
everywhere, ``otp`` on calls that may ask for a one-time password, and the options the
reference could not send. Each one runs on the running loop's default client (see
:mod:`un_async.api`) through the resource namespaces (:mod:`un_async.resources`), so it
gets their validation, retries, typed errors and typed replies — ``dict`` instances, as the
reference returns.

Where the reference client is defective (spec §10) these functions do the right thing and
their docstrings say what differs; in short: ``{}`` bodies are signed as sent, destructive
calls answer 428 challenges (``otp=``), ``boost_session`` sends the vCPU count,
``set_service_env`` uploads ``text/plain`` with ``PUT``, ``delete_service_env`` sends its
``keys``, ``create_service``/``redeploy_service`` can send ``input_files``, the log query
string is not signed and ``service_snapshot`` uses the per-service endpoint.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from un_async.api import get_default_client
from un_async.core.client import UNSET

if TYPE_CHECKING:
    from un_async.core.execution_options import InputFiles
    from un_async.core.models import ExecutionResult, Snapshot
    from un_async.resources.base import Otp
    from un_async.resources.models import (
        EnvExport,
        EnvStatus,
        GeneratedImages,
        KeyValidation,
        Service,
        ServiceLogs,
        Session,
        ShellResult,
        SnapshotClone,
    )

__all__ = [
    "boost_session",
    "cli_main",
    "clone_snapshot",
    "create_service",
    "create_session",
    "delete_service",
    "delete_service_env",
    "delete_session",
    "execute_in_service",
    "export_service_env",
    "freeze_service",
    "freeze_session",
    "get_service",
    "get_service_env",
    "get_service_logs",
    "get_session",
    "image",
    "list_services",
    "list_sessions",
    "lock_service",
    "lock_snapshot",
    "redeploy_service",
    "service_snapshot",
    "set_service_env",
    "set_show_freeze_page",
    "set_unfreeze_on_demand",
    "shell_session",
    "unboost_session",
    "unfreeze_service",
    "unfreeze_session",
    "unlock_service",
    "unlock_snapshot",
    "update_service",
    "validate_keys",
]

_CLI_MODULES = ("un_async.cli", "un_async.cli.app")

USAGE = """\
usage: un-async COMMAND [ARGS]...

The un-async command line is not installed in this environment. Use the Python API
(`import un_async`; see the README), or install a release that ships `un_async.cli`."""


def _split_bootstrap(bootstrap: str | None) -> tuple[str | None, str | None]:
    """The reference's rule: a URL goes as ``bootstrap``, other text as
    ``bootstrap_content`` (a script); empty means none."""
    if not bootstrap:
        return None, None
    if bootstrap.startswith(("http://", "https://")):
        return bootstrap, None
    return None, bootstrap


# -- snapshots ---------------------------------------------------------------------------


async def service_snapshot(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    name: str | None = None,
    hot: bool = False,
    *,
    account_index: int | None = None,
) -> str:
    """Snapshot a service and return the snapshot id.

    Sends ``POST /services/{id}/snapshot`` ``{"name"?, "hot"}`` (the C client's endpoint,
    as :func:`session_snapshot` does) and reads ``id`` or ``snapshot_id``; the reference
    posts ``{"service_id", ...}`` to ``/snapshots`` and reads only ``snapshot_id``.
    """
    client = get_default_client(account_index)
    snapshot = await client.snapshots.create(
        "service", service_id, name=name, hot=hot, public_key=public_key, secret_key=secret_key
    )
    return snapshot.id


async def lock_snapshot(
    snapshot_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Snapshot:
    """Lock a snapshot against deletion (``POST /snapshots/{id}/lock`` ``{}``, signed as
    sent — the reference signs ``""`` but sends ``{}``)."""
    return await get_default_client(account_index).snapshots.lock(
        snapshot_id, public_key=public_key, secret_key=secret_key
    )


async def unlock_snapshot(
    snapshot_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    otp: Otp = None,
    account_index: int | None = None,
) -> Snapshot:
    """Unlock a snapshot (``POST /snapshots/{id}/unlock``); ``otp`` answers the server's
    428 confirmation challenge, which the reference cannot."""
    return await get_default_client(account_index).snapshots.unlock(
        snapshot_id, otp=otp, public_key=public_key, secret_key=secret_key
    )


async def clone_snapshot(
    snapshot_id: str,
    clone_type: str = "session",
    name: str | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    shell: str | None = None,
    ports: list[int] | None = None,
    *,
    account_index: int | None = None,
) -> SnapshotClone:
    """A new session or service (``clone_type``) from a snapshot
    (``POST /snapshots/{id}/clone``); the reply carries ``session_id`` or ``service_id``."""
    return await get_default_client(account_index).snapshots.clone(
        snapshot_id,
        clone_type,
        name=name,
        shell=shell,
        ports=ports,
        public_key=public_key,
        secret_key=secret_key,
    )


# -- sessions ----------------------------------------------------------------------------


async def list_sessions(
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> list[Session]:
    """The account's sessions (``GET /sessions``)."""
    return await get_default_client(account_index).sessions.list(
        public_key=public_key, secret_key=secret_key
    )


async def get_session(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Session:
    """One session (``GET /sessions/{id}``)."""
    return await get_default_client(account_index).sessions.get(
        session_id, public_key=public_key, secret_key=secret_key
    )


async def create_session(
    language: str | None = None,
    network_mode: str = "zerotrust",
    ttl: int = 3600,
    public_key: str | None = None,
    secret_key: str | None = None,
    shell: str | None = None,
    multiplexer: str | None = None,
    vcpu: int = 1,
    *,
    input_files: InputFiles | None = None,
    audit: bool = False,
    account_index: int | None = None,
) -> Session:
    """Create an interactive session (``POST /sessions``).

    Sends what the reference sends (``language`` included when given); the extras
    ``input_files`` and ``audit`` (``?audit=1``: keep the shell history) are not in the
    reference.
    """
    return await get_default_client(account_index).sessions.create(
        network_mode=network_mode,
        ttl=ttl,
        shell=shell,
        multiplexer=multiplexer,
        vcpu=vcpu,
        input_files=input_files,
        audit=audit,
        language=language,
        public_key=public_key,
        secret_key=secret_key,
    )


async def delete_session(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    otp: Otp = None,
    account_index: int | None = None,
) -> Session:
    """Terminate a session (``DELETE /sessions/{id}``); ``otp`` answers a 428 challenge."""
    return await get_default_client(account_index).sessions.delete(
        session_id, otp=otp, public_key=public_key, secret_key=secret_key
    )


async def freeze_session(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Session:
    """Freeze a session (``POST /sessions/{id}/freeze`` ``{}``, signed as sent)."""
    return await get_default_client(account_index).sessions.freeze(
        session_id, public_key=public_key, secret_key=secret_key
    )


async def unfreeze_session(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Session:
    """Unfreeze a session (``POST /sessions/{id}/unfreeze`` ``{}``, signed as sent)."""
    return await get_default_client(account_index).sessions.unfreeze(
        session_id, public_key=public_key, secret_key=secret_key
    )


async def boost_session(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    vcpu: int = 2,
    account_index: int | None = None,
) -> Session:
    """Boost a session to ``vcpu`` vCPUs (``POST /sessions/{id}/boost`` ``{"vcpu": N}``).

    The reference sends ``{}`` and cannot choose the size; this sends ``vcpu`` (default
    2, the C client's default).
    """
    return await get_default_client(account_index).sessions.boost(
        session_id, vcpu, public_key=public_key, secret_key=secret_key
    )


async def unboost_session(
    session_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Session:
    """Return a session to its created size (``POST /sessions/{id}/unboost`` ``{}``)."""
    return await get_default_client(account_index).sessions.unboost(
        session_id, public_key=public_key, secret_key=secret_key
    )


async def shell_session(
    session_id: str,
    command: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> ShellResult:
    """Run one shell command in a session (``POST /sessions/{id}/shell``)."""
    return await get_default_client(account_index).sessions.shell(
        session_id, command, public_key=public_key, secret_key=secret_key
    )


# -- services ----------------------------------------------------------------------------


async def list_services(
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> list[Service]:
    """The account's services (``GET /services``)."""
    return await get_default_client(account_index).services.list(
        public_key=public_key, secret_key=secret_key
    )


async def create_service(
    name: str,
    ports: list[int],
    bootstrap: str | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    network_mode: str = "semitrusted",
    custom_domains: list[str] | None = None,
    vcpu: int = 1,
    service_type: str | None = None,
    unfreeze_on_demand: bool = False,
    *,
    bootstrap_content: str | None = None,
    golden_image: str | None = None,
    input_files: InputFiles | None = None,
    account_index: int | None = None,
) -> Service:
    """Deploy a service (``POST /services``).

    ``bootstrap`` follows the reference's rule: a URL is sent as ``bootstrap``, anything
    else as ``bootstrap_content``. The reference cannot send ``golden_image`` or
    ``input_files``; here they are keyword extras (with ``bootstrap_content`` for a script
    given explicitly).
    """
    url, script = _split_bootstrap(bootstrap)
    return await get_default_client(account_index).services.create(
        name,
        ports,
        bootstrap=url,
        bootstrap_content=script if bootstrap_content is None else bootstrap_content,
        network_mode=network_mode,
        custom_domains=custom_domains,
        vcpu=vcpu,
        service_type=service_type,
        unfreeze_on_demand=unfreeze_on_demand,
        golden_image=golden_image,
        input_files=input_files,
        public_key=public_key,
        secret_key=secret_key,
    )


async def get_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Service:
    """One service (``GET /services/{id}``)."""
    return await get_default_client(account_index).services.get(
        service_id, public_key=public_key, secret_key=secret_key
    )


async def update_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    vcpu: int | None = None,
    *,
    unfreeze_on_demand: bool | None = None,
    show_freeze_page: bool | None = None,
    account_index: int | None = None,
) -> Service:
    """Change a service's settings (``PATCH /services/{id}``).

    The reference forwards any keyword as a field; this accepts the documented ones
    (``vcpu``, ``unfreeze_on_demand``, ``show_freeze_page``) and checks them first.
    """
    return await get_default_client(account_index).services.update(
        service_id,
        vcpu=vcpu,
        unfreeze_on_demand=unfreeze_on_demand,
        show_freeze_page=show_freeze_page,
        public_key=public_key,
        secret_key=secret_key,
    )


async def delete_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    otp: Otp = None,
    account_index: int | None = None,
) -> Service:
    """Delete a service (``DELETE /services/{id}``); ``otp`` answers the server's 428
    confirmation challenge, which the reference cannot."""
    return await get_default_client(account_index).services.delete(
        service_id, otp=otp, public_key=public_key, secret_key=secret_key
    )


async def freeze_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Service:
    """Freeze a service (``POST /services/{id}/freeze`` ``{}``, signed as sent)."""
    return await get_default_client(account_index).services.freeze(
        service_id, public_key=public_key, secret_key=secret_key
    )


async def unfreeze_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Service:
    """Unfreeze a service (``POST /services/{id}/unfreeze`` ``{}``, signed as sent)."""
    return await get_default_client(account_index).services.unfreeze(
        service_id, public_key=public_key, secret_key=secret_key
    )


async def lock_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Service:
    """Lock a service against deletion (``POST /services/{id}/lock`` ``{}``)."""
    return await get_default_client(account_index).services.lock(
        service_id, public_key=public_key, secret_key=secret_key
    )


async def unlock_service(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    otp: Otp = None,
    account_index: int | None = None,
) -> Service:
    """Unlock a service (``POST /services/{id}/unlock``); ``otp`` answers the server's
    428 confirmation challenge, which the reference cannot."""
    return await get_default_client(account_index).services.unlock(
        service_id, otp=otp, public_key=public_key, secret_key=secret_key
    )


async def set_unfreeze_on_demand(
    service_id: str,
    enabled: bool,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Service:
    """Whether a request to the frozen service wakes it (``PATCH /services/{id}``)."""
    return await get_default_client(account_index).services.set_unfreeze_on_demand(
        service_id, enabled, public_key=public_key, secret_key=secret_key
    )


async def set_show_freeze_page(
    service_id: str,
    enabled: bool,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> Service:
    """Whether visitors of the frozen service see the unfreeze page
    (``PATCH /services/{id}``)."""
    return await get_default_client(account_index).services.set_show_freeze_page(
        service_id, enabled, public_key=public_key, secret_key=secret_key
    )


async def get_service_logs(
    service_id: str,
    all_logs: bool = False,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> ServiceLogs:
    """A service's log (``GET /services/{id}/logs[?all=true]``) in ``reply["log"]``.

    The ``?all=true`` query is not signed (the path-only rule, spec §2.2); the reference
    signs it.
    """
    return await get_default_client(account_index).services.logs(
        service_id, all_logs=all_logs, public_key=public_key, secret_key=secret_key
    )


async def get_service_env(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> EnvStatus:
    """The environment vault's status (``GET /services/{id}/env``), never its values."""
    return await get_default_client(account_index).services.env_status(
        service_id, public_key=public_key, secret_key=secret_key
    )


async def set_service_env(
    service_id: str,
    env_dict: Mapping[str, str] | str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> EnvStatus:
    """Replace a service's environment vault.

    Sends ``PUT /services/{id}/env`` with ``Content-Type: text/plain`` and ``KEY=VALUE``
    lines, signed as sent, as the endpoint expects (the C client's form; the reference
    posts JSON ``{"env": text}``). Values that are not plain are double-quoted; ``.env``
    text is accepted too; more than 64 KB raises :class:`ValidationError` before sending.
    """
    return await get_default_client(account_index).services.set_env(
        service_id, env_dict, public_key=public_key, secret_key=secret_key
    )


async def delete_service_env(
    service_id: str,
    keys: list[str] | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> EnvStatus:
    """Delete a service's environment vault, or only ``keys`` from it
    (``DELETE /services/{id}/env``, body ``{"keys": [...]}``); the reference ignores
    ``keys`` and always deletes the whole vault."""
    return await get_default_client(account_index).services.delete_env(
        service_id, keys, public_key=public_key, secret_key=secret_key
    )


async def export_service_env(
    service_id: str,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> EnvExport:
    """The vault's ``KEY=VALUE`` text in ``reply["env"]`` (``POST /services/{id}/env/export``
    with an empty body, signed as empty — the reference sends ``{}`` but signs ``""``)."""
    return await get_default_client(account_index).services.export_env(
        service_id, public_key=public_key, secret_key=secret_key
    )


async def redeploy_service(
    service_id: str,
    bootstrap: str | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    bootstrap_content: str | None = None,
    input_files: InputFiles | None = None,
    account_index: int | None = None,
) -> Service:
    """Run a service's bootstrap again (``POST /services/{id}/redeploy``); a new
    ``bootstrap`` follows :func:`create_service`'s rule. ``input_files`` (not in the
    reference) replace the uploaded files."""
    url, script = _split_bootstrap(bootstrap)
    return await get_default_client(account_index).services.redeploy(
        service_id,
        bootstrap=url,
        bootstrap_content=script if bootstrap_content is None else bootstrap_content,
        input_files=input_files,
        public_key=public_key,
        secret_key=secret_key,
    )


async def execute_in_service(
    service_id: str,
    command: str,
    timeout: int = 30000,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    input_files: InputFiles | None = None,
    wait: bool = False,
    account_index: int | None = None,
) -> ExecutionResult:
    """Run ``command`` in a service (``POST /services/{id}/execute``); ``timeout`` is the
    command's limit in milliseconds, as in the reference.

    Returns the job (``reply["job_id"]``; wait with :func:`wait_for_job`), or its final
    result with ``wait=True`` (within the client's wait deadline).
    """
    return await get_default_client(account_index).services.execute(
        service_id,
        command,
        timeout_ms=timeout,
        input_files=input_files,
        wait=wait,
        timeout=UNSET,
        public_key=public_key,
        secret_key=secret_key,
    )


# -- keys, images, command line -----------------------------------------------------------


async def validate_keys(
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    account_index: int | None = None,
) -> KeyValidation:
    """Check the key pair (``POST /keys/validate``, empty body): ``valid``, ``tier``,
    expiry, or ``reason`` when not valid."""
    return await get_default_client(account_index).keys.validate(
        public_key=public_key, secret_key=secret_key
    )


async def image(
    prompt: str,
    *,
    model: str | None = None,
    size: str = "1024x1024",
    quality: str = "standard",
    n: int = 1,
    public_key: str | None = None,
    secret_key: str | None = None,
    account_index: int | None = None,
) -> GeneratedImages:
    """Generate images from ``prompt`` (``POST /image``): ``reply["images"]`` holds base64
    data or URLs."""
    return await get_default_client(account_index).generate_image(
        prompt,
        model=model,
        size=size,
        quality=quality,
        n=n,
        public_key=public_key,
        secret_key=secret_key,
    )


def _command_line() -> Callable[[], object] | None:
    """The command line's ``main``: ``un_async.cli.main``, else ``un_async.cli.app.main``;
    ``None`` when the command-line package is not installed."""
    for name in _CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in _CLI_MODULES:
                raise
            continue
        main = getattr(module, "main", None)
        if callable(main):
            return cast("Callable[[], object]", main)
    return None


def cli_main() -> None:
    """The command line's entry point (the reference SDK's script): runs the ``un-async``
    command line with ``sys.argv`` and exits with its status; when the command-line
    package is not installed, prints usage to stderr and exits with status 2."""
    main = _command_line()
    if main is None:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    status = main()
    if isinstance(status, int) and not isinstance(status, bool):
        raise SystemExit(status)
