"""Client CPU per request, layer by layer, for ``GET /jobs/{id}`` and ``POST /execute``.

    python benchmarks/bench_layers.py [--requests 3000] [--rounds 7] [--concurrency 16]

Every layer makes the same request to the same fake server (a separate process), so the
difference between two neighbouring rows is what the upper layer adds:

* ``floor``: raw aiohttp, URL and signed headers precomputed, ``json.loads`` of the body;
* ``transport``: :meth:`AiohttpTransport.send` of a prepared :class:`HttpRequest`;
* ``requester``: :meth:`SignedRequester.call` (signing, status check, JSON decoding);
* ``backend``: :meth:`UnsandboxBackend.get_job` (id check, the typed result);
* ``client``: :meth:`AsyncClient.get_job` (credentials, the executor call).

For ``POST /execute`` with a final reply: ``floor`` signs and serialises per request
(``json.dumps``, HMAC, ``json.loads``), ``backend`` is ``UnsandboxBackend.submit`` and
``client`` is ``AsyncClient.execute_code``. Layers run in alternating order within each
round; the table shows the median and the minimum over rounds of µs of this process's
CPU per request (noise only ever adds, so the minimum is the steadier figure on a busy
machine).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from bench_server import ServerProcess
from yarl import URL

from un_async import AsyncClient, ClientConfig, Credentials
from un_async.backends.unsandbox import HttpRequest, UnsandboxBackend
from un_async.core.models import ExecutionRequest
from un_async.core.plugin_host import default_host
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY

__all__ = ["run_layers"]

Call = Callable[[], Awaitable[Any]]
CODE = "print('benchmark')"


def _headers(method: str, path: str, body: bytes = b"") -> dict[str, str]:
    timestamp = str(int(time.time()))
    message = f"{timestamp}:{method}:{path}:".encode() + body
    return {
        "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
        "X-Timestamp": timestamp,
        "X-Signature": hmac.new(TEST_SECRET_KEY.encode(), message, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


async def _cpu_per_call(call: Call, requests: int, concurrency: int) -> float:
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / requests * 1e6


async def _layers(
    url: str,
) -> tuple[dict[str, Call], dict[str, Call], Callable[[], Awaitable[None]]]:
    credentials = Credentials(TEST_PUBLIC_KEY, TEST_SECRET_KEY)
    config = ClientConfig(base_url=url, languages_cache_path=False)
    client = AsyncClient(config=config, public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY)
    backend = UnsandboxBackend(config, default_host())
    job_id = (await client.execute_code("python", CODE)).job_id
    assert job_id is not None
    path = f"/jobs/{job_id}"
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    target, headers = URL(url + path, encoded=True), _headers("GET", path)
    execute_url = URL(url + "/execute", encoded=True)
    prepared = HttpRequest(method="GET", path=path, headers=headers)
    request = ExecutionRequest(language="python", code=CODE)

    async def floor() -> None:
        async with session.get(target, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            json.loads(await response.read())

    async def floor_execute() -> None:
        body = json.dumps({"language": "python", "code": CODE}, separators=(",", ":")).encode()
        async with session.post(
            execute_url, data=body, headers=_headers("POST", "/execute", body)
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            json.loads(await response.read())

    async def transport() -> None:
        response = await backend.transport.send(prepared)
        json.loads(response.body)

    async def requester() -> None:
        await backend.requester.call(credentials, "GET", path, idempotent=True)

    async def backend_get() -> None:
        await backend.get_job(credentials, job_id)

    async def client_get() -> None:
        await client.get_job(job_id)

    async def backend_execute() -> None:
        await backend.submit(credentials, request, wait=True)

    async def client_execute() -> None:
        await client.execute_code("python", CODE)

    get_job = {
        "floor": floor,
        "transport": transport,
        "requester": requester,
        "backend": backend_get,
        "client": client_get,
    }
    execute = {"floor": floor_execute, "backend": backend_execute, "client": client_execute}

    async def close() -> None:
        await session.close()
        await backend.aclose()
        await client.aclose()

    return get_job, execute, close


async def run_layers(
    url: str, *, requests: int, rounds: int, concurrency: int
) -> dict[str, dict[str, dict[str, float]]]:
    """``{"get_job"|"execute": {layer: {"median": µs, "min": µs}}}``."""
    get_job, execute, close = await _layers(url)
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for case, layers in (("get_job", get_job), ("execute", execute)):
            names = list(layers)
            samples: dict[str, list[float]] = {name: [] for name in names}
            for name in names:  # warm-up: connections, caches, code paths
                await _cpu_per_call(layers[name], max(requests // 10, 50), concurrency)
            for index in range(rounds):
                shift = index % len(names)
                for name in names[shift:] + names[:shift]:
                    cpu = await _cpu_per_call(layers[name], requests, concurrency)
                    samples[name].append(cpu)
            results[case] = {
                name: {"median": statistics.median(values), "min": min(values)}
                for name, values in samples.items()
            }
    finally:
        await close()
    return results


def render(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A Markdown table per case: CPU per request and what each layer adds."""
    lines: list[str] = []
    for case, layers in results.items():
        lines += [
            f"#### {case}: client CPU µs per request",
            "",
            "| layer | median | min | adds (median) | ÷ floor (median) |",
            "|---|---|---|---|---|",
        ]
        floor = layers["floor"]["median"]
        previous = None
        for name, value in layers.items():
            adds = "" if previous is None else f"{value['median'] - previous:+.1f}"
            lines.append(
                f"| {name} | {value['median']:.1f} | {value['min']:.1f} | {adds} "
                f"| {value['median'] / floor:.2f} |"
            )
            previous = value["median"]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    with ServerProcess() as server:
        results = asyncio.run(
            run_layers(
                server.url,
                requests=args.requests,
                rounds=args.rounds,
                concurrency=args.concurrency,
            )
        )
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
