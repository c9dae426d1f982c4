"""``client.services``: persistent containers served at ``https://{name}.on.unsandbox.com``
(spec §3.5).

Names are global: a taken name answers 409
(:class:`~un_async.core.service_errors.ConflictError`). Unfreezing and resizing draw on
the account's concurrency budget (429,
:class:`~un_async.core.service_errors.RateLimitError`); deleting and unlocking may ask for a
one-time password (428, answered with ``otp=``); a locked service refuses deletion. A
command run in a service is a job: :meth:`Services.execute` returns it, and waits for it
with ``wait=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from un_async.core.client import UNSET
from un_async.core.errors import ValidationError
from un_async.core.execution_options import InputFiles
from un_async.core.models import NETWORK_MODES, ExecutionResult
from un_async.resources.base import (
    Namespace,
    Otp,
    PortList,
    StringList,
    check_choice,
    check_flag,
    check_ports,
    check_strings,
    check_vcpu,
    items_of,
    malformed,
    object_of,
    segment,
)
from un_async.resources.models import EnvExport, EnvStatus, Service, ServiceLogs
from un_async.resources.uploads import env_text, input_files_payload

if TYPE_CHECKING:
    from un_async.core.models import Snapshot

__all__ = ["DEFAULT_EXECUTE_TIMEOUT_MS", "Services"]

DEFAULT_EXECUTE_TIMEOUT_MS = 30_000
"""A service command's default time limit in milliseconds (``0`` = unlimited)."""

ServiceList = list[Service]
_DOMAIN_OPERATIONS = {
    "custom_domains": "set_domains",
    "add": "add_domains",
    "remove": "remove_domains",
}


def _path(service_id: str, action: str = "") -> str:
    base = f"/services/{segment('service_id', service_id)}"
    return f"{base}/{action}" if action else base


def bootstrap_fields(bootstrap: str | None, bootstrap_content: str | None) -> dict[str, str]:
    """The bootstrap keys of a request: ``bootstrap`` (a URL or a command) or
    ``bootstrap_content`` (a script's text), at most one of them."""
    if bootstrap is not None and bootstrap_content is not None:
        raise ValidationError("give bootstrap or bootstrap_content, not both")
    fields = {}
    for key, value in (("bootstrap", bootstrap), ("bootstrap_content", bootstrap_content)):
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"{key} must be a non-empty string")
            fields[key] = value
    return fields


class Services(Namespace):
    """The service endpoints; ``client.services``."""

    __slots__ = ()

    async def list(
        self, *, public_key: str | None = None, secret_key: str | None = None
    ) -> ServiceList:
        """``GET /services``: the account's services."""
        data = await self._call(
            "services.list", "GET", "/services", public_key=public_key, secret_key=secret_key
        )
        return [Service.from_reply(item) for item in items_of(data, "services")]

    async def get(
        self, service_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Service:
        """``GET /services/{id}``."""
        data = await self._call(
            "services.get", "GET", _path(service_id), public_key=public_key, secret_key=secret_key
        )
        return Service.from_reply(object_of(data, "the service"), id=service_id)

    async def create(
        self,
        name: str,
        ports: PortList,
        *,
        bootstrap: str | None = None,
        bootstrap_content: str | None = None,
        network_mode: str = "semitrusted",
        custom_domains: StringList | None = None,
        vcpu: int = 1,
        service_type: str | None = None,
        unfreeze_on_demand: bool = False,
        golden_image: str | None = None,
        input_files: InputFiles | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``POST /services``: deploy a service named ``name`` exposing ``ports``.

        ``bootstrap`` is a URL or a command to run, ``bootstrap_content`` a script's text
        (give one); ``network_mode`` defaults to ``semitrusted`` (internet access);
        ``custom_domains`` extra host names; ``vcpu`` 1-8 (sent only above 1);
        ``service_type`` an SRV record type (``minecraft``, ``tcp``, ...);
        ``unfreeze_on_demand`` wakes a frozen service on its next request;
        ``golden_image`` an image alias to start from; ``input_files`` as for executions.
        409 when the name is taken.
        """
        if not isinstance(name, str) or not name:
            raise ValidationError("name must be a non-empty string")
        body: dict[str, Any] = {
            "name": name,
            "ports": check_ports(ports),
            "network_mode": check_choice("network_mode", network_mode, NETWORK_MODES),
        }
        body.update(bootstrap_fields(bootstrap, bootstrap_content))
        if custom_domains:
            body["custom_domains"] = check_strings("custom_domains", custom_domains)
        if check_vcpu(vcpu) > 1:
            body["vcpu"] = vcpu
        if service_type:
            body["service_type"] = service_type
        if unfreeze_on_demand:
            body["unfreeze_on_demand"] = True
        if golden_image:
            body["golden_image"] = golden_image
        if input_files:
            body["input_files"] = input_files_payload(input_files)
        data = await self._call(
            "services.create",
            "POST",
            "/services",
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Service.from_reply(object_of(data, "the service"))

    async def update(
        self,
        service_id: str,
        *,
        vcpu: int | None = None,
        unfreeze_on_demand: bool | None = None,
        show_freeze_page: bool | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PATCH /services/{id}`` with the settings given: ``vcpu`` (1-8; 429 past the
        account's concurrency), ``unfreeze_on_demand``, ``show_freeze_page``."""
        body: dict[str, Any] = {}
        if vcpu is not None:
            body["vcpu"] = check_vcpu(vcpu)
        for key, value in (
            ("unfreeze_on_demand", unfreeze_on_demand),
            ("show_freeze_page", show_freeze_page),
        ):
            if value is not None:
                body[key] = check_flag(key, value)
        if not body:
            raise ValidationError("give vcpu, unfreeze_on_demand or show_freeze_page")
        return await self._patch("services.update", service_id, body, public_key, secret_key)

    async def resize(
        self,
        service_id: str,
        vcpu: int,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PATCH /services/{id}`` ``{"vcpu": N}``: run it on ``vcpu`` vCPUs (1-8)."""
        body = {"vcpu": check_vcpu(vcpu)}
        return await self._patch("services.resize", service_id, body, public_key, secret_key)

    async def set_unfreeze_on_demand(
        self,
        service_id: str,
        enabled: bool,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PATCH /services/{id}`` ``{"unfreeze_on_demand"}``: whether a request to a
        frozen service wakes it."""
        body = {"unfreeze_on_demand": check_flag("enabled", enabled)}
        operation = "services.set_unfreeze_on_demand"
        return await self._patch(operation, service_id, body, public_key, secret_key)

    async def set_show_freeze_page(
        self,
        service_id: str,
        enabled: bool,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PATCH /services/{id}`` ``{"show_freeze_page"}``: whether visitors of a frozen
        service see the unfreeze page (else a JSON error)."""
        body = {"show_freeze_page": check_flag("enabled", enabled)}
        operation = "services.set_show_freeze_page"
        return await self._patch(operation, service_id, body, public_key, secret_key)

    async def delete(
        self,
        service_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``DELETE /services/{id}`` (``otp`` answers a 428 challenge; 409 while locked)."""
        data = await self._call(
            "services.delete",
            "DELETE",
            _path(service_id),
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Service.from_reply(object_of(data, "the deletion reply"), id=service_id)

    async def freeze(
        self, service_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Service:
        """``POST /services/{id}/freeze`` ``{}``: stop it, keeping its state."""
        return await self._action("freeze", service_id, {}, None, public_key, secret_key)

    async def unfreeze(
        self, service_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Service:
        """``POST /services/{id}/unfreeze`` ``{}`` (429 past the account's concurrency)."""
        return await self._action("unfreeze", service_id, {}, None, public_key, secret_key)

    async def lock(
        self, service_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> Service:
        """``POST /services/{id}/lock`` ``{}``: refuse deletion until unlocked."""
        return await self._action("lock", service_id, {}, None, public_key, secret_key)

    async def unlock(
        self,
        service_id: str,
        *,
        otp: Otp = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``POST /services/{id}/unlock`` ``{}`` (``otp`` answers a 428 challenge)."""
        return await self._action("unlock", service_id, {}, otp, public_key, secret_key)

    async def set_domains(
        self,
        service_id: str,
        domains: StringList,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PUT /services/{id}/domains`` ``{"custom_domains": [...]}``: replace the
        custom domains (an empty list removes them all)."""
        return await self._domains(service_id, "custom_domains", domains, public_key, secret_key)

    async def add_domains(
        self,
        service_id: str,
        domains: StringList,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PUT /services/{id}/domains`` ``{"add": [...]}``."""
        return await self._domains(service_id, "add", domains, public_key, secret_key)

    async def remove_domains(
        self,
        service_id: str,
        domains: StringList,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``PUT /services/{id}/domains`` ``{"remove": [...]}``."""
        return await self._domains(service_id, "remove", domains, public_key, secret_key)

    async def logs(
        self,
        service_id: str,
        *,
        all_logs: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ServiceLogs:
        """``GET /services/{id}/logs``: the last ~9000 lines, or with ``all_logs=True``
        (``?all=true``) the whole log. The query string is not signed (spec §2.2)."""
        data = await self._call(
            "services.logs",
            "GET",
            _path(service_id, "logs"),
            query={"all": "true"} if all_logs else None,
            public_key=public_key,
            secret_key=secret_key,
        )
        return ServiceLogs.from_reply(object_of(data, "the logs"), id=service_id)

    async def env_status(
        self, service_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> EnvStatus:
        """``GET /services/{id}/env``: whether a vault exists, how many variables, when it
        changed (never the values; see :meth:`export_env`)."""
        data = await self._call(
            "services.env_status",
            "GET",
            _path(service_id, "env"),
            public_key=public_key,
            secret_key=secret_key,
        )
        return EnvStatus.from_reply(object_of(data, "the vault status"))

    async def set_env(
        self,
        service_id: str,
        env: Mapping[str, str] | str,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> EnvStatus:
        """``PUT /services/{id}/env`` with ``Content-Type: text/plain``: replace the
        vault with ``env`` (a mapping, or ``.env`` text sent as it is). The body is signed
        exactly as sent; more than 64 KB raises :class:`ValidationError` before sending."""
        text = env_text(env)
        data = await self._call(
            "services.set_env",
            "PUT",
            _path(service_id, "env"),
            text=text,
            public_key=public_key,
            secret_key=secret_key,
        )
        return EnvStatus.from_reply(object_of(data, "the vault update"))

    async def delete_env(
        self,
        service_id: str,
        keys: StringList | None = None,
        *,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> EnvStatus:
        """``DELETE /services/{id}/env``: remove the vault, or with ``keys`` only those
        variables (body ``{"keys": [...]}``, the JS client's form)."""
        body = None if keys is None else {"keys": check_strings("keys", keys)}
        data = await self._call(
            "services.delete_env",
            "DELETE",
            _path(service_id, "env"),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return EnvStatus.from_reply(object_of(data, "the vault deletion"))

    async def export_env(
        self, service_id: str, *, public_key: str | None = None, secret_key: str | None = None
    ) -> EnvExport:
        """``POST /services/{id}/env/export`` (empty body): the vault's ``KEY=VALUE``
        text in ``env`` (403 where the account may not export)."""
        data = await self._call(
            "services.export_env",
            "POST",
            _path(service_id, "env/export"),
            public_key=public_key,
            secret_key=secret_key,
        )
        return EnvExport.from_reply(object_of(data, "the vault export"))

    async def redeploy(
        self,
        service_id: str,
        *,
        bootstrap: str | None = None,
        bootstrap_content: str | None = None,
        input_files: InputFiles | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Service:
        """``POST /services/{id}/redeploy``: run the bootstrap again — the stored one, or
        the ``bootstrap``/``bootstrap_content`` given (400 when there is none)."""
        body: dict[str, Any] = bootstrap_fields(bootstrap, bootstrap_content)
        if input_files:
            body["input_files"] = input_files_payload(input_files)
        return await self._action("redeploy", service_id, body, None, public_key, secret_key)

    async def execute(
        self,
        service_id: str,
        command: str,
        *,
        timeout_ms: int = DEFAULT_EXECUTE_TIMEOUT_MS,
        input_files: InputFiles | None = None,
        wait: bool = False,
        timeout: float | None = UNSET,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> ExecutionResult:
        """``POST /services/{id}/execute`` ``{"command", "timeout"}``: run ``command`` in
        the service as a job (409 while the service is not running).

        ``timeout_ms`` limits the command on the server (0 = unlimited); ``input_files``
        land in ``/tmp/input/``. Returns the pending job — wait on it with
        :meth:`AsyncClient.wait_for_job` — or, with ``wait=True``, its final result
        (``timeout``: the client-side deadline in seconds; default the client's).
        """
        if not isinstance(command, str) or not command.strip():
            raise ValidationError("command must be a non-empty string")
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise ValidationError(f"timeout_ms must be an integer >= 0, got {timeout_ms!r}")
        body: dict[str, Any] = {"command": command, "timeout": timeout_ms}
        if input_files:
            body["input_files"] = input_files_payload(input_files)
        data = await self._call(
            "services.execute",
            "POST",
            _path(service_id, "execute"),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        job = ExecutionResult(object_of(data, "the execute reply"))
        if not wait or job.is_final:
            return job
        if job.job_id is None:
            raise malformed("the execute reply has no job_id")
        return await self._client.wait_for_job(
            job.job_id,
            timeout=timeout,
            public_key=public_key,
            secret_key=secret_key,
        )

    async def snapshot(
        self,
        service_id: str,
        *,
        name: str | None = None,
        hot: bool = False,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> Snapshot:
        """``POST /services/{id}/snapshot`` ``{"name"?, "hot"}``: snapshot the service
        (``hot=True``: without freezing it); see :meth:`Snapshots.create`."""
        return await self._client.snapshots.create(
            "service", service_id, name=name, hot=hot, public_key=public_key, secret_key=secret_key
        )

    # -- shared -----------------------------------------------------------------------------

    async def _patch(
        self,
        operation: str,
        service_id: str,
        body: Mapping[str, Any],
        public_key: str | None,
        secret_key: str | None,
    ) -> Service:
        data = await self._call(
            operation,
            "PATCH",
            _path(service_id),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Service.from_reply(object_of(data, "the service"), id=service_id)

    async def _action(
        self,
        action: str,
        service_id: str,
        body: Mapping[str, Any],
        otp: Otp,
        public_key: str | None,
        secret_key: str | None,
    ) -> Service:
        data = await self._call(
            f"services.{action}",
            "POST",
            _path(service_id, action),
            body=body,
            otp=otp,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Service.from_reply(object_of(data, "the service"), id=service_id)

    async def _domains(
        self,
        service_id: str,
        key: str,
        domains: StringList,
        public_key: str | None,
        secret_key: str | None,
    ) -> Service:
        body = {key: check_strings("domains", domains)}
        data = await self._call(
            f"services.{_DOMAIN_OPERATIONS[key]}",
            "PUT",
            _path(service_id, "domains"),
            body=body,
            public_key=public_key,
            secret_key=secret_key,
        )
        return Service.from_reply(object_of(data, "the domains reply"), id=service_id)
