"""The fake server's request pipeline: counting, recording, latency, fault injection,
authentication and rate limiting in front of the endpoint handlers.

A :class:`~.faults.Fault` decides before authentication (it models the proxy and
infrastructure). ``/_fake/*`` control requests bypass all of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .access_control import ACCOUNT, check_active, check_rate_limit, check_signature
from .fake_state import FakeState
from .faults import Fault, FaultKind, select_faults
from .http_replies import HTTPError, abort, exception_response, json_response
from .records import FakeAccount, RecordedRequest

__all__ = ["Handler", "RequestPipeline"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PUBLIC_PATHS = frozenset({"/health", "/languages"})
#: Answered for keys that are expired or suspended (spec §2.6).
_ANY_STATUS_PATHS = frozenset({"/keys/validate"})


class RequestPipeline:
    """The aiohttp middleware (:meth:`middleware`) and what it applies to every API
    request, working on the shared :class:`FakeState`."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Serve one request through latency, faults and authentication."""
        if request.path.startswith("/_fake/"):  # control plane: not counted, never faulted
            return await handler(request)
        state = self.state
        state.request_count += 1
        arrived = time.monotonic()
        peer = self._track_connection(request)
        try:
            response = await self._serve(request, handler, arrived, peer)
        except ConnectionError:  # the client went away; make sure nothing more is sent
            abort(request)
            response = None
        except HTTPError as err:
            response = json_response(err.body, err.status, err.headers)
        except web.HTTPException as exc:
            response = exception_response(exc)
        if response is None:
            return web.Response()  # preparing it fails on the dead transport: silent
        if not response.prepared:
            response.headers["Date"] = state.date_header()
        state.response_statuses[response.status] += 1
        return response

    async def _serve(
        self,
        request: web.Request,
        handler: Handler,
        arrived: float,
        peer: tuple[str, int] | None,
    ) -> web.StreamResponse | None:
        state = self.state
        if state.latency is not None:
            await asyncio.sleep(state.latency.sample())
        delay, fault = (
            select_faults(state.faults, request.method, request.path, state.fault_rng)
            if state.faults
            else (0.0, None)
        )
        if fault is not None and fault.kind is FaultKind.RESET_BEFORE_READ:
            self._record(request, b"", peer, arrived, fault)
            abort(request)
            return None
        body = await request.read()
        self._record(request, body, peer, arrived, fault)
        if delay:
            await asyncio.sleep(delay)
        if fault is None:
            return await self._dispatch(request, handler, body)
        kind = fault.kind
        if kind is FaultKind.RESET_AFTER_READ:
            await self._dispatch(request, handler, body)
            abort(request)
            return None
        if kind is FaultKind.TRUNCATED_BODY:
            self._send_truncated(request, await self._dispatch(request, handler, body))
            return None
        if kind is FaultKind.RESTART and fault.fired == 1:
            state.restart()
        if kind is FaultKind.EMPTY_204:
            return web.Response(status=204)
        if kind is FaultKind.STREAMED:
            return await self._send_streamed(request, fault)
        return web.Response(
            status=fault.status_code,
            body=fault.body,
            headers={"Content-Type": fault.content_type, **fault.headers},
        )

    async def _dispatch(
        self, request: web.Request, handler: Handler, body: bytes
    ) -> web.StreamResponse:
        path = request.path
        try:
            if path not in _PUBLIC_PATHS or (
                path == "/languages" and "Authorization" in request.headers
            ):
                account = self._authenticate(request, body)
                if path not in _ANY_STATUS_PATHS:
                    check_active(account)
                request[ACCOUNT] = account
                check_rate_limit(
                    self.state.rate_buckets,
                    account.public_key,
                    self.state.rate_limit,
                    retry_after=self.state.rate_limit_retry_after,
                )
            return await handler(request)
        except HTTPError as err:
            return json_response(err.body, err.status, err.headers)
        except web.HTTPException as exc:
            return exception_response(exc)

    def _track_connection(self, request: web.Request) -> tuple[str, int] | None:
        transport = request.transport
        if transport is None:
            return None
        peers = self.state.peers
        try:
            return peers[transport]
        except KeyError:
            info = transport.get_extra_info("peername")
            peer = (str(info[0]), int(info[1])) if info else None
            peers[transport] = peer
            self.state.connection_count += 1
            return peer

    def _record(
        self,
        request: web.Request,
        body: bytes,
        peer: tuple[str, int] | None,
        arrived: float,
        fault: Fault | None,
    ) -> None:
        if not self.state.record_requests:
            return
        self.state.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                query=dict(request.query) if request.query_string else {},
                headers=request.headers,
                body=body,
                peer=peer,
                time=arrived,
                fault=fault.kind.value if fault is not None else None,
            )
        )

    def _send_truncated(self, request: web.Request, response: web.StreamResponse) -> None:
        transport = request.transport
        if transport is None:
            return
        body = response.body if isinstance(response, web.Response) else None
        data = body if isinstance(body, bytes) else b""
        head = (
            f"HTTP/1.1 {response.status} {response.reason}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(data) if data else 16}\r\n"
            f"Date: {self.state.date_header()}\r\n"
            "Connection: close\r\n\r\n"
        )
        transport.write(head.encode("latin-1") + data[: len(data) // 2])
        transport.close()

    def _authenticate(self, request: web.Request, body: bytes) -> FakeAccount:
        state = self.state
        return check_signature(
            request,
            body,
            state.accounts,
            server_time=state.server_time(),
            verify=state.verify_signatures,
            strict_query_signing=state.strict_query_signing,
            lenient_empty_body=state.lenient_empty_body,
        )

    async def _send_streamed(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        response = web.StreamResponse(
            status=fault.status_code,
            headers={"Content-Type": fault.content_type, "Date": self.state.date_header()},
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        body, step = fault.body, fault.count
        for start in range(0, len(body), step):
            await response.write(body[start : start + step])
        await response.write_eof()
        return response
