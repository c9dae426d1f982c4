"""The benchmark harness runs end to end at a tiny size (numbers are only checked to be
there and positive)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import run  # the benchmarks' entry module

    yield run
    for name in ("run", "bench_jobs", "bench_misc", "bench_report", "bench_server"):
        sys.modules.pop(name, None)
    sys.modules.pop("bench_throughput", None)


@pytest.mark.slow(reason="every benchmark part: fake servers in subprocesses, fresh interpreters")
def test_tiny_run_produces_every_section(bench: ModuleType) -> None:
    settings = bench.Settings(
        quick=True,
        concurrencies=(2,),
        execute_concurrencies=(2,),
        seconds=0.05,
        warmup=0.01,
        rounds=1,
        jobs=4,
        jobs_scale=0.02,
        memory_waits=8,
        memory_window=0.05,
        memory_per_job=False,
        replay_programs=2,
        replay_executions=6,
        replay_concurrency=2,
        import_repetitions=1,
        single_waits=1,
        single_rounds=1,
        local_runs=1,
        local_batch=2,
    )
    results = bench.run(settings)
    parts = {"meta", "throughput", "jobs", "memory", "replay", "imports", "single", "execute"}
    assert set(results) >= parts
    assert results["throughput"]["http"]["sdk"]["2"]["requests"] > 0
    assert results["throughput"]["https"]["baseline"]["2"]["errors"] == 0
    assert results["jobs"]["shared"]["completed"] == 4
    assert results["memory"]["shared"]["waits"] == 8
    assert results["single"]["shared"]["waits"] == 1
    assert results["execute"]["sdk"]["2"]["requests"] > 0
    assert results["execute"]["floor"]["2"]["errors"] == 0
    assert results["execute"]["sdk"]["2"]["errors"] == 0
    assert len(results["targets"]) == 10
    for row in results["local"]["levels"].values():
        assert row["floor_ms"] > 0
        assert row["local_per_s"] > 0
    replay = results["replay"]
    assert replay["available"] is True, replay
    assert replay["executions"] == 6
    assert replay["executions_per_s"] > 0
    report = bench.render(results)
    assert "### Targets" in report
    assert "c=64" in report  # target rows name their concurrency even when not measured
    assert json.loads(json.dumps(results))["meta"]["quick"] is True


def test_unknown_part_is_rejected(bench: ModuleType) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--only", "throughput,nonsense"])
