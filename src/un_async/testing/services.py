"""Service endpoints of the fake server (spec §3.5), except the environment vault
(:mod:`.service_env`) and snapshots (:mod:`.snapshots`).

* Names are global (they become ``https://{name}.on.unsandbox.com``): a taken name answers
  409 ``name_taken``; a name must be a lowercase DNS label.
* ``running`` ↔ ``frozen``; ``execute`` on a frozen service answers 409
  ``service_not_running``, else 202 ``{"job_id", "status": "pending"}``: a job polled
  through ``GET /jobs/{id}``. The command runs as ``language="bash"`` (scriptable with
  ``FakeUnsandbox.script("bash", command, ...)``); ``timeout`` is in ms, 0 = unlimited.
* A locked service refuses ``DELETE`` with 409 ``locked``; ``DELETE`` and ``unlock`` need
  sudo (spec §2.5).
* ``PATCH`` takes any of ``vcpu``, ``unfreeze_on_demand``, ``show_freeze_page``;
  ``POST .../resize`` ``{"vcpu"}`` is the variant of the Go/C#/Rust clients. Unfreeze,
  resize and creation answer 429 ``concurrency_limit_reached`` past ``vcpu_limit``.
* Logs: ``GET .../logs`` answers ``{"log": text}`` with the last ``service_log_tail``
  lines (9000, "last ~9000 lines"), ``?all=true`` every line and the first clients'
  ``?lines=N`` the last N. The fake writes a line per lifecycle event; tests may append
  to ``FakeService.log`` directly.
* Creation answers 200 (the C client accepts 200 or 201; which one the service sends is
  UNKNOWN) with the service object (``id`` and ``service_id``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .access_control import ACCOUNT, owned
from .fake_state import FakeState
from .http_replies import bad_request, conflict, json_response
from .job_launcher import launch_job
from .payload_checks import (
    decode_files,
    flag,
    int_in_range,
    optional_string,
    parse_network_mode,
    parse_object,
    parse_ports,
    string_list,
)
from .resource_records import FakeService

__all__ = ["SERVICE_TYPES", "ServiceRoutes", "check_service_name", "new_service"]

#: SRV record types a service may declare (spec §3.5, ``C:6712``).
SERVICE_TYPES = frozenset({"minecraft", "mumble", "teamspeak", "source", "tcp", "udp"})
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DEFAULT_EXEC_TIMEOUT_MS = 30000
_UNLIMITED_TTL = float("inf")


def check_service_name(state: FakeState, name: str | None) -> str:
    """``name`` checked to be a free DNS label: 400 malformed, 409 ``name_taken``."""
    if not name:
        raise bad_request("name is required")
    if not _NAME.match(name):
        raise bad_request("name must be a lowercase DNS label (a-z, 0-9, '-')")
    if state.service_named(name) is not None:
        raise conflict("name_taken", f"Service name '{name}' is already taken")
    return name


def new_service(
    state: FakeState, owner: str, name: str | None, payload: Mapping[str, Any], **fields: Any
) -> FakeService:
    """Create a running service from a creation/spawn/clone payload (checked here) and
    ``fields``; charges its vCPUs to the ``vcpu_limit`` budget. ``name=None`` picks a
    free one; a given name must have passed :func:`check_service_name`."""
    vcpu = int_in_range(payload, "vcpu", 1, 8) or 1
    bootstrap = optional_string(payload, "bootstrap")
    bootstrap_content = optional_string(payload, "bootstrap_content")
    service_type = optional_string(payload, "service_type")
    if service_type is not None and service_type not in SERVICE_TYPES:
        raise bad_request(f"service_type must be one of {', '.join(sorted(SERVICE_TYPES))}")
    domains = string_list(payload, "custom_domains") or []
    _check_domains(domains)
    service_fields: dict[str, Any] = {
        "ports": parse_ports(payload),
        "bootstrap": bootstrap,
        "bootstrap_content": bootstrap_content,
        "network_mode": parse_network_mode(payload, default="semitrusted"),
        "custom_domains": domains,
        "vcpu": vcpu,
        "service_type": service_type,
        "unfreeze_on_demand": flag(payload, "unfreeze_on_demand"),
        "golden_image": optional_string(payload, "golden_image"),
        "input_files": sorted(decode_files(payload.get("input_files"))),
        **fields,
    }
    state.check_vcpu_budget(owner, vcpu)
    service = state.services[state.add_service(owner, name=name, **service_fields)]
    service.log.append(f"[deploy] service {service.name} created")
    if service.has_bootstrap:
        service.log.append("[deploy] running bootstrap")
    return service


def _check_domains(domains: list[str]) -> None:
    for domain in domains:
        if not _DOMAIN.match(domain):
            raise bad_request(f"invalid domain name: {domain!r}")


class ServiceRoutes:
    """``/services`` handlers over the shared state."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def register(self, router: web.UrlDispatcher) -> None:
        """Add this group's routes to ``router``."""
        router.add_get("/services", self.list_services)
        router.add_post("/services", self.create)
        router.add_get("/services/{id}", self.get)
        router.add_patch("/services/{id}", self.update)
        router.add_delete("/services/{id}", self.delete)
        router.add_post("/services/{id}/resize", self.resize)
        router.add_post("/services/{id}/freeze", self.freeze)
        router.add_post("/services/{id}/unfreeze", self.unfreeze)
        router.add_post("/services/{id}/lock", self.lock)
        router.add_post("/services/{id}/unlock", self.unlock)
        router.add_put("/services/{id}/domains", self.domains)
        router.add_get("/services/{id}/logs", self.logs)
        router.add_post("/services/{id}/redeploy", self.redeploy)
        router.add_post("/services/{id}/execute", self.execute)

    def _service(self, request: web.Request) -> FakeService:
        return owned(self.state.services, request, "service")

    @staticmethod
    def _reply(service: FakeService, message: str) -> web.Response:
        return json_response({**service.view(), "message": message})

    async def list_services(self, request: web.Request) -> web.StreamResponse:
        """``GET /services`` → ``{"services": [...], "count": N}``."""
        owner = request[ACCOUNT].public_key
        found = [s.view() for s in self.state.services.values() if s.account == owner]
        return json_response({"services": found, "count": len(found)})

    async def create(self, request: web.Request) -> web.StreamResponse:
        """``POST /services``: 409 when the name is taken."""
        payload = parse_object(await request.read(), allow_empty=False)
        name = check_service_name(self.state, optional_string(payload, "name"))
        service = new_service(self.state, request[ACCOUNT].public_key, name, payload)
        return self._reply(service, "Service created")

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET /services/{id}``: the service object."""
        return json_response(self._service(request).view())

    async def update(self, request: web.Request) -> web.StreamResponse:
        """``PATCH /services/{id}`` with ``vcpu``, ``unfreeze_on_demand`` and/or
        ``show_freeze_page``."""
        service = self._service(request)
        payload = parse_object(await request.read(), allow_empty=False)
        known = {"vcpu", "unfreeze_on_demand", "show_freeze_page"} & payload.keys()
        if not known:
            raise bad_request("give vcpu, unfreeze_on_demand or show_freeze_page")
        unfreeze_on_demand = flag(payload, "unfreeze_on_demand", default=service.unfreeze_on_demand)
        show_freeze_page = flag(payload, "show_freeze_page", default=service.show_freeze_page)
        vcpu = int_in_range(payload, "vcpu", 1, 8)
        if vcpu is not None:
            self._resize(service, vcpu)
        service.unfreeze_on_demand = unfreeze_on_demand
        service.show_freeze_page = show_freeze_page
        return self._reply(service, "Service updated")

    async def resize(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/resize`` ``{"vcpu": N}``."""
        service = self._service(request)
        payload = parse_object(await request.read(), allow_empty=False)
        vcpu = int_in_range(payload, "vcpu", 1, 8)
        if vcpu is None:
            raise bad_request("vcpu is required")
        self._resize(service, vcpu)
        return self._reply(service, f"Service resized to {vcpu} vCPU")

    def _resize(self, service: FakeService, vcpu: int) -> None:
        if service.status == "running":
            self.state.check_vcpu_budget(service.account, vcpu - service.vcpu)
        service.vcpu = vcpu
        service.log.append(f"[resize] {vcpu} vCPU")

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /services/{id}`` (sudo): 409 while locked."""
        service = self._service(request)
        if service.locked:
            raise conflict("locked", "Service is locked; unlock it first")
        self.state.require_sudo(request)
        del self.state.services[service.id]
        return json_response(
            {
                "id": service.id,
                "service_id": service.id,
                "status": "deleted",
                "message": "Service deleted",
            }
        )

    async def freeze(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/freeze``."""
        service = self._service(request)
        parse_object(await request.read(), allow_empty=True)
        if service.status != "frozen":
            service.status = "frozen"
            service.log.append("[freeze] service frozen")
        return self._reply(service, "Service frozen")

    async def unfreeze(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/unfreeze``: 429 past ``vcpu_limit``."""
        service = self._service(request)
        parse_object(await request.read(), allow_empty=True)
        if service.status != "running":
            self.state.check_vcpu_budget(service.account, service.vcpu)
            service.status = "running"
            service.log.append("[unfreeze] service running")
        return self._reply(service, "Service unfrozen")

    async def lock(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/lock``."""
        service = self._service(request)
        parse_object(await request.read(), allow_empty=True)
        service.locked = True
        return self._reply(service, "Service locked")

    async def unlock(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/unlock`` (sudo)."""
        service = self._service(request)
        parse_object(await request.read(), allow_empty=True)
        self.state.require_sudo(request)
        service.locked = False
        return self._reply(service, "Service unlocked")

    async def domains(self, request: web.Request) -> web.StreamResponse:
        """``PUT /services/{id}/domains`` with exactly one of ``custom_domains``
        (replace), ``add`` or ``remove``."""
        service = self._service(request)
        payload = parse_object(await request.read(), allow_empty=False)
        keys = [key for key in ("custom_domains", "add", "remove") if key in payload]
        if len(keys) != 1:
            raise bad_request("give exactly one of custom_domains, add or remove")
        key = keys[0]
        domains = string_list(payload, key) or []
        _check_domains(domains)
        if key == "custom_domains":
            service.custom_domains = list(dict.fromkeys(domains))
        elif key == "add":
            service.custom_domains = list(dict.fromkeys(service.custom_domains + domains))
        else:
            service.custom_domains = [d for d in service.custom_domains if d not in domains]
        return json_response({"id": service.id, "custom_domains": list(service.custom_domains)})

    async def logs(self, request: web.Request) -> web.StreamResponse:
        """``GET /services/{id}/logs[?all=true|?lines=N]`` → ``{"log": text}``."""
        service = self._service(request)
        query = request.query
        if query.get("all", "").lower() in ("1", "true", "yes"):
            lines = service.log
        else:
            count = self.state.service_log_tail
            if "lines" in query:
                text = query["lines"]
                if not (text.isascii() and text.isdigit()) or int(text) < 1:
                    raise bad_request("lines must be a positive integer")
                count = int(text)
            lines = service.log[-count:]
        log = "".join(line + "\n" for line in lines)
        return json_response({"id": service.id, "log": log})

    async def redeploy(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/redeploy``: 400 ``no_bootstrap`` when none is stored or
        given; a frozen service comes back running."""
        service = self._service(request)
        payload = parse_object(await request.read(), allow_empty=True)
        bootstrap = optional_string(payload, "bootstrap")
        bootstrap_content = optional_string(payload, "bootstrap_content")
        files = decode_files(payload.get("input_files"))
        if bootstrap is None and bootstrap_content is None and not service.has_bootstrap:
            raise bad_request("Service has no bootstrap to redeploy", "no_bootstrap")
        if service.status != "running":
            self.state.check_vcpu_budget(service.account, service.vcpu)
        if bootstrap is not None or bootstrap_content is not None:
            service.bootstrap, service.bootstrap_content = bootstrap, bootstrap_content
        if files:
            service.input_files = sorted(files)
        service.status = "running"
        service.redeploys += 1
        service.log.append(f"[redeploy] redeploy #{service.redeploys}: running bootstrap")
        return self._reply(service, "Service redeployed")

    async def execute(self, request: web.Request) -> web.StreamResponse:
        """``POST /services/{id}/execute`` → 202 ``{"job_id", "status": "pending"}``;
        409 ``service_not_running`` when frozen."""
        service = self._service(request)
        payload = parse_object(await request.read(), allow_empty=False)
        command = optional_string(payload, "command")
        if not command:
            raise bad_request("command is required")
        timeout_ms = payload.get("timeout", _DEFAULT_EXEC_TIMEOUT_MS)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise bad_request("timeout must be a non-negative integer (milliseconds)")
        decode_files(payload.get("input_files"))
        if service.status != "running":
            raise conflict("service_not_running", "Service is not running")
        job = launch_job(
            self.state,
            request,
            owner=service.account,
            language="bash",
            code=command,
            payload=payload,
            network_mode=service.network_mode,
            ttl=timeout_ms / 1000 if timeout_ms else _UNLIMITED_TTL,
        )
        service.last_activity = int(self.state.server_time())
        return json_response(
            {"job_id": job.job_id, "status": "pending", "service_id": service.id}, 202
        )
