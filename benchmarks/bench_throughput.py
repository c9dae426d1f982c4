"""Request throughput and client CPU per request: ``GET /jobs/{id}`` and ``POST /execute``.

For ``GET /jobs/{id}`` three clients do the same request against the same server process:

* ``floor``: a raw aiohttp loop — one session, URL and signed headers computed once,
  status check, body read and ``json.loads``;
* ``sdk``: ``AsyncClient.get_job`` (sign, send, check, parse into a model);
* ``baseline``: the reference client's approach, written here — a new
  ``aiohttp.ClientSession`` (so a new TCP and TLS connection) per request, signing per
  request, ``raise_for_status()`` and ``resp.json()``.

For ``execute_code`` with a synchronous final reply (server in ``--mode sync``) two:

* ``floor``: a raw signed POST per request — ``json.dumps`` of the body, HMAC, aiohttp
  POST on one session, status check, ``json.loads``;
* ``sdk``: ``AsyncClient.execute_code`` (validation, serialisation, signing, governor,
  typed result).

Each measurement runs ``concurrency`` workers for a fixed time after a short warm-up;
throughput is completed requests per wall second, CPU is this process's
``time.process_time()`` per request (the server runs in another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import json
import ssl
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from bench_server import ServerProcess
from yarl import URL

from un_async import AsyncClient, ClientConfig
from un_async.testing import TEST_PUBLIC_KEY, TEST_SECRET_KEY

__all__ = ["CLIENTS", "EXECUTE_CLIENTS", "measure", "run_execute", "run_throughput"]

Call = Callable[[], Awaitable[None]]
ClientFactory = Callable[
    [str, str, ssl.SSLContext | None], contextlib.AbstractAsyncContextManager[Call]
]


def _signed_headers(path: str, method: str = "GET", body: bytes = b"") -> dict[str, str]:
    timestamp = str(int(time.time()))
    message = f"{timestamp}:{method}:{path}:".encode() + body
    signature = hmac.new(TEST_SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return {
        "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
        "X-Timestamp": timestamp,
        "X-Signature": signature,
    }


@contextlib.asynccontextmanager
async def floor_client(
    url: str, job_id: str, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[Call]:
    """The raw aiohttp floor: everything that can be precomputed is."""
    path = f"/jobs/{job_id}"
    target = URL(url + path, encoded=True)
    headers = _signed_headers(path)  # valid for the server's +-300 s window
    connector = aiohttp.TCPConnector(limit=256, ssl=ssl_context or True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> None:
            async with session.get(target, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                json.loads(await response.read())

        yield call


@contextlib.asynccontextmanager
async def sdk_client(
    url: str, job_id: str, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[Call]:
    """``AsyncClient.get_job`` with default settings."""
    options = {"ssl_context": ssl_context} if ssl_context else {}
    config = ClientConfig(base_url=url, languages_cache_path=False, options=options)
    async with AsyncClient(
        config=config, public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY
    ) as client:

        async def call() -> None:
            await client.get_job(job_id)

        yield call


@contextlib.asynccontextmanager
async def baseline_client(
    url: str, job_id: str, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[Call]:
    """The reference approach: a session, a connection and a signature per request."""
    path = f"/jobs/{job_id}"
    ssl_option: ssl.SSLContext | bool = ssl_context or True

    async def call() -> None:
        timestamp = str(int(time.time()))
        message = f"{timestamp}:GET:{path}:".encode()
        signature = hmac.new(TEST_SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
        headers = {
            "Authorization": f"Bearer {TEST_PUBLIC_KEY}",
            "X-Timestamp": timestamp,
            "X-Signature": signature,
            "Content-Type": "application/json",
        }
        async with aiohttp.ClientSession() as session:  # noqa: SIM117  (the point)
            async with session.get(
                url + path,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=120),
                ssl=ssl_option,
            ) as response:
                response.raise_for_status()
                await response.json()

    yield call


CLIENTS: dict[str, ClientFactory] = {
    "floor": floor_client,
    "sdk": sdk_client,
    "baseline": baseline_client,
}


EXECUTE_CODE = "print('benchmark')"


@contextlib.asynccontextmanager
async def floor_execute_client(
    url: str, job_id: str, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[Call]:
    """A raw signed ``POST /execute``: body serialised and signed per request."""
    target = URL(url + "/execute", encoded=True)
    connector = aiohttp.TCPConnector(limit=256, ssl=ssl_context or True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> None:
            payload = {"language": "python", "code": EXECUTE_CODE}
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = _signed_headers("/execute", "POST", body)
            headers["Content-Type"] = "application/json"
            async with session.post(target, data=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                if json.loads(await response.read()).get("status") != "completed":
                    raise RuntimeError("the reply is not final")

        yield call


@contextlib.asynccontextmanager
async def sdk_execute_client(
    url: str, job_id: str, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[Call]:
    """``AsyncClient.execute_code`` with default settings."""
    options = {"ssl_context": ssl_context} if ssl_context else {}
    config = ClientConfig(base_url=url, languages_cache_path=False, options=options)
    async with AsyncClient(
        config=config, public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY
    ) as client:

        async def call() -> None:
            result = await client.execute_code("python", EXECUTE_CODE)
            if not result.is_final:
                raise RuntimeError("the reply is not final")

        yield call


EXECUTE_CLIENTS: dict[str, ClientFactory] = {
    "floor": floor_execute_client,
    "sdk": sdk_execute_client,
}


async def _drive(call: Call, concurrency: int, seconds: float) -> tuple[int, int]:
    stop = time.perf_counter() + seconds
    done = errors = 0

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < stop:
            try:
                await call()
            except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError):
                errors += 1
            else:
                done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, errors


async def measure(
    call: Call,
    concurrency: int,
    seconds: float,
    warmup: float,
    server: ServerProcess | None = None,
) -> dict[str, Any]:
    """Requests per second and client CPU µs per request; with ``server`` also the
    server's CPU µs per request and new connections per 1,000 requests."""
    await _drive(call, concurrency, warmup)
    gc.collect()
    before = server.stats() if server else None
    server_cpu = server.cpu_seconds() if server else None
    cpu, wall = time.process_time(), time.perf_counter()
    done, errors = await _drive(call, concurrency, seconds)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sample: dict[str, Any] = {
        "rps": done / wall,
        "cpu_us": cpu / max(done, 1) * 1e6,
        "requests": done,
        "errors": errors,
    }
    if server is not None and before is not None:
        after, now_cpu = server.stats(), server.cpu_seconds()
        served = max(after["requests"] - before["requests"], 1)
        sample["connections_per_1k"] = (after["connections"] - before["connections"]) / served * 1e3
        if server_cpu is not None and now_cpu is not None:
            sample["server_cpu_us"] = (now_cpu - server_cpu) / served * 1e6
    return sample


async def _create_job(url: str, ssl_context: ssl.SSLContext | None) -> str:
    options = {"ssl_context": ssl_context} if ssl_context else {}
    config = ClientConfig(base_url=url, languages_cache_path=False, options=options)
    async with AsyncClient(
        config=config, public_key=TEST_PUBLIC_KEY, secret_key=TEST_SECRET_KEY
    ) as client:
        result = await client.execute_code("python", "print('benchmark')")
    assert result.job_id is not None
    return result.job_id


async def _rounds(
    factories: dict[str, ClientFactory],
    server: ServerProcess,
    ssl_context: ssl.SSLContext | None,
    job_id: str,
    *,
    concurrencies: tuple[int, ...],
    seconds: float,
    warmup: float,
    rounds: int,
) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Every client at every concurrency, ``rounds`` times, in a rotating order."""
    clients = tuple(factories)
    samples: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {c: [] for c in concurrencies} for name in clients
    }
    for round_index in range(rounds):
        order = clients[round_index % len(clients) :] + clients[: round_index % len(clients)]
        for concurrency in concurrencies:
            for name in order:
                async with factories[name](server.url, job_id, ssl_context) as call:
                    sample = await measure(call, concurrency, seconds, warmup, server)
                samples[name][concurrency].append(sample)
    return samples


async def run_throughput(
    server: ServerProcess,
    ssl_context: ssl.SSLContext | None,
    *,
    concurrencies: tuple[int, ...],
    seconds: float,
    warmup: float,
    rounds: int,
    clients: tuple[str, ...] = tuple(CLIENTS),
) -> dict[str, Any]:
    """Per client and concurrency the medians over ``rounds``; per concurrency the
    medians of the ratios paired within each round (the clients run back to back, in
    a rotating order, so machine noise hits them alike)."""
    job_id = await _create_job(server.url, ssl_context)
    samples = await _rounds(
        {name: CLIENTS[name] for name in clients},
        server,
        ssl_context,
        job_id,
        concurrencies=concurrencies,
        seconds=seconds,
        warmup=warmup,
        rounds=rounds,
    )
    results: dict[str, Any] = {
        name: {str(c): _median(runs) for c, runs in by_c.items()} for name, by_c in samples.items()
    }
    if {"sdk", "floor", "baseline"} <= set(clients):
        results["ratios"] = {
            str(c): {
                "sdk_floor_rps": _paired(samples, c, "sdk", "floor", "rps"),
                "sdk_baseline_rps": _paired(samples, c, "sdk", "baseline", "rps"),
                "sdk_floor_cpu": _paired(samples, c, "sdk", "floor", "cpu_us"),
            }
            for c in concurrencies
        }
    return results


async def run_execute(
    server: ServerProcess,
    ssl_context: ssl.SSLContext | None,
    *,
    concurrencies: tuple[int, ...],
    seconds: float,
    warmup: float,
    rounds: int,
) -> dict[str, Any]:
    """``execute_code`` against a raw signed POST (the server must answer synchronously):
    medians per client and concurrency, and the paired SDK ÷ floor ratios."""
    samples = await _rounds(
        EXECUTE_CLIENTS,
        server,
        ssl_context,
        "",
        concurrencies=concurrencies,
        seconds=seconds,
        warmup=warmup,
        rounds=rounds,
    )
    results: dict[str, Any] = {
        name: {str(c): _median(runs) for c, runs in by_c.items()} for name, by_c in samples.items()
    }
    results["ratios"] = {
        str(c): {
            "sdk_floor_rps": _paired(samples, c, "sdk", "floor", "rps"),
            "sdk_floor_cpu": _paired(samples, c, "sdk", "floor", "cpu_us"),
        }
        for c in concurrencies
    }
    return results


def _paired(
    samples: dict[str, dict[int, list[dict[str, Any]]]], c: int, a: str, b: str, key: str
) -> float:
    pairs = zip(samples[a][c], samples[b][c], strict=True)
    return statistics.median(x[key] / y[key] for x, y in pairs if y[key])


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        key: statistics.median(r[key] for r in runs)
        for key in ("rps", "cpu_us", "server_cpu_us", "connections_per_1k")
        if all(key in r for r in runs)
    }
    merged["requests"] = sum(r["requests"] for r in runs)
    merged["errors"] = sum(r["errors"] for r in runs)
    merged["rounds"] = len(runs)
    return merged
