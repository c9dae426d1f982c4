"""Timing models: per-request latency and per-language run time.

Spoken to over real loopback HTTP with a raw aiohttp client and an independent signer
(:mod:`support.signed_http`).
"""

from __future__ import annotations

import time

import aiohttp
import pytest

from support.signed_http import send
from un_async.testing import DurationModel, FakeUnsandbox, LatencyModel
from un_async.testing.faults import parse_latency

pytestmark = pytest.mark.usefixtures("no_server_errors")


def _quantile(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))]


def test_latency_model_matches_spec() -> None:
    model = LatencyModel.spec_default(seed=1)
    samples = [model.sample() for _ in range(20_000)]
    assert 0.17 <= _quantile(samples, 0.5) <= 0.21
    assert 0.40 <= _quantile(samples, 0.95) <= 0.52
    assert 0.9 <= _quantile(samples, 0.995) <= 2.0


def test_latency_model_degraded_and_scaled() -> None:
    degraded = LatencyModel.spec_default(seed=2, degraded=True)
    samples = [degraded.sample() for _ in range(10_000)]
    stalls = sum(1 for s in samples if s > 4.5) / len(samples)
    assert 0.19 <= stalls <= 0.25
    scaled = LatencyModel.spec_default(seed=1, scale=0.01)
    assert 0.0017 <= _quantile([scaled.sample() for _ in range(5000)], 0.5) <= 0.0021


def test_latency_parsing() -> None:
    assert parse_latency("none") is None
    fixed = parse_latency("fixed:0.25", scale=2)
    assert fixed is not None
    assert fixed.sample() == 0.5
    assert isinstance(parse_latency("degraded"), LatencyModel)
    with pytest.raises(ValueError, match="unknown latency"):
        parse_latency("wobbly")


def test_duration_model_per_language() -> None:
    model = DurationModel.spec_default(jitter=0.0)
    assert model.duration("python") == pytest.approx(3.96)
    assert model.duration("go") == pytest.approx(11.484)
    assert model.duration("deno") == pytest.approx(4.505)
    jittered = DurationModel.spec_default(seed=3, scale=0.5)
    assert 0.5 * 3.96 * 0.9 <= jittered.duration("python") <= 0.5 * 3.96 * 1.1


async def test_latency_applies_per_request(http: aiohttp.ClientSession) -> None:
    async with FakeUnsandbox(latency=LatencyModel.fixed(0.1)) as fake:
        started = time.monotonic()
        await send(http, fake, "GET", "/health", auth=False)
        assert time.monotonic() - started >= 0.09
