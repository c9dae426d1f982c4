"""Targets (PASS/MISS) and the Markdown report of one benchmark run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["evaluate_targets", "render"]

TARGET_CONCURRENCY = "64"


def _ratio(results: dict[str, Any], protocol: str, key: str) -> float | None:
    runs = results.get("throughput", {}).get(protocol)
    if not runs or "ratios" not in runs:
        return None
    ratios = runs["ratios"].get(TARGET_CONCURRENCY)
    return None if ratios is None else float(ratios[key])


def _worst(
    results: dict[str, Any], part: str, key: str, worst: Callable[..., Any]
) -> tuple[float | None, str]:
    """The worst ratio ``key`` (``worst`` is ``min`` or ``max``) over every protocol and
    concurrency measured by ``part``, and where it was measured."""
    if part == "throughput":
        throughput = results.get("throughput", {})
        runs = [(label, throughput.get(protocol)) for protocol, label in _PROTOCOLS]
    else:
        runs = [("HTTP", results.get(part))]
    found = [
        (float(ratios[key]), f"{label} c={c}")
        for label, run in runs
        if run and "ratios" in run
        for c, ratios in run["ratios"].items()
    ]
    if not found:
        return None, ""
    value, where = worst(found)
    return value, where


_PROTOCOLS = (("http", "HTTP"), ("https", "TLS"))


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it passed (``None``: not measured)."""
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: float | None, ok: Callable[[float], bool], fmt: str) -> None:
        targets.append(
            {
                "target": name,
                "measured": None if measured is None else fmt.format(measured),
                "value": measured,
                "pass": None if measured is None else ok(measured),
            }
        )

    c = TARGET_CONCURRENCY
    value, where = _worst(results, "throughput", "sdk_floor_rps", min)
    add(
        "SDK throughput >= 0.9x raw aiohttp floor (HTTP and TLS, every concurrency)",
        value,
        lambda v: v >= 0.9,
        f"{{:.2f}}x (lowest: {where})",
    )
    add(
        f"SDK throughput >= 2.5x per-request-session baseline (HTTP, c={c})",
        _ratio(results, "http", "sdk_baseline_rps"),
        lambda v: v >= 2.5,
        "{:.2f}x",
    )
    add(
        f"SDK throughput >= 2.5x per-request-session baseline (TLS, c={c})",
        _ratio(results, "https", "sdk_baseline_rps"),
        lambda v: v >= 2.5,
        "{:.2f}x",
    )
    value, where = _worst(results, "throughput", "sdk_floor_cpu", max)
    add(
        "client CPU per request <= 1.15x floor (HTTP and TLS, every concurrency)",
        value,
        lambda v: v <= 1.15,
        f"{{:.2f}}x (highest: {where})",
    )
    value, where = _worst(results, "execute", "sdk_floor_cpu", max)
    add(
        "execute_code (final reply) client CPU <= 1.2x a raw signed POST (every concurrency)",
        value,
        lambda v: v <= 1.2,
        f"{{:.2f}}x (highest: {where})",
    )
    jobs = results.get("jobs", {})
    shared, per_job = jobs.get("shared"), jobs.get("per_job")
    add(
        "<= 2.5 requests per completed job (shared polling)",
        shared["requests_per_job"] if shared else None,
        lambda v: v <= 2.5,
        "{:.2f}",
    )
    add(
        "median completion-to-result delay <= per-job polling's",
        shared["delay_median_ms"] / per_job["delay_median_ms"] if shared and per_job else None,
        lambda v: v <= 1.0,
        "{:.2f}x",
    )
    memory = results.get("memory", {}).get("shared")
    add(
        f"<= 10 KB per waiting job ({memory['waits'] if memory else '?'} waits, default waiter)",
        memory["peak_bytes_per_wait"] / 1024 if memory else None,
        lambda v: v <= 10,
        "{:.2f} KB",
    )
    single = results.get("single")
    add(
        "one wait alone: shared polling client CPU <= 1.05x per-job polling's (noise)",
        single["shared_per_job_cpu"] if single else None,
        lambda v: v <= 1.05,
        "{:.2f}x",
    )
    imports = results.get("imports")
    add(
        "import un_async adds <= 30 ms over import aiohttp",
        imports["delta_ms"] if imports else None,
        lambda v: v <= 30,
        "{:+.1f} ms",
    )
    return targets


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _trio(runs: dict[str, Any], c: str, key: str, fmt: str) -> str:
    values = [runs[name][c].get(key) for name in ("floor", "sdk", "baseline")]
    return " / ".join("?" if v is None else fmt.format(v) for v in values)


def _throughput(runs: dict[str, Any], title: str) -> list[str]:
    rows = []
    for c in runs["floor"]:
        ratios = runs["ratios"][c]
        errors = sum(runs[name][c]["errors"] for name in ("floor", "sdk", "baseline"))
        rows.append(
            [
                c,
                _trio(runs, c, "rps", "{:,.0f}"),
                f"{ratios['sdk_floor_rps']:.2f}",
                f"{ratios['sdk_baseline_rps']:.2f}",
                _trio(runs, c, "cpu_us", "{:.0f}"),
                f"{ratios['sdk_floor_cpu']:.2f}",
                _trio(runs, c, "server_cpu_us", "{:.0f}"),
                _trio(runs, c, "connections_per_1k", "{:.0f}"),
                str(errors),
            ]
        )
    header = [
        "concurrency",
        "req/s floor / SDK / baseline",
        "SDK ÷ floor",
        "SDK ÷ baseline",
        "client CPU µs/req floor / SDK / baseline",
        "SDK ÷ floor CPU",
        "server CPU µs/req",
        "new connections per 1k req",
        "errors",
    ]
    return [f"### {title}", "", *_table(header, rows)]


def render(results: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    meta = results["meta"]
    lines = [
        f"## un-async benchmark ({'quick' if meta['quick'] else 'full'} run, {meta['date']})",
        "",
        f"Machine: {meta['machine']}. Python {meta['python']}, aiohttp {meta['aiohttp']}, "
        f"un-async {meta['un_async']}. Fake server in a separate process on 127.0.0.1.",
        "",
    ]
    throughput = results.get("throughput", {})
    settings = meta["throughput"]
    note = (
        f"{settings['seconds']:g} s per measurement after {settings['warmup']:g} s warm-up; "
        f"medians of {settings['rounds']} round(s), ratios paired within a round. Client CPU "
        "is this process's CPU time per request; server CPU is the fake server process's."
    )
    for protocol, title in (("http", "plain HTTP"), ("https", "TLS (trustme certificate)")):
        if protocol in throughput:
            lines += _throughput(throughput[protocol], f"GET /jobs/{{id}} throughput, {title}")
    if throughput:
        lines += [note, ""]
    execute = results.get("execute")
    if execute:
        lines += ["### execute_code with a synchronous final reply, plain HTTP", ""]
        rows = [
            [
                c,
                f"{execute['floor'][c]['rps']:,.0f} / {execute['sdk'][c]['rps']:,.0f}",
                f"{ratios['sdk_floor_rps']:.2f}",
                f"{execute['floor'][c]['cpu_us']:.0f} / {execute['sdk'][c]['cpu_us']:.0f}",
                f"{ratios['sdk_floor_cpu']:.2f}",
                str(execute["floor"][c]["errors"] + execute["sdk"][c]["errors"]),
            ]
            for c, ratios in execute["ratios"].items()
        ]
        header = [
            "concurrency",
            "executions/s raw signed POST / SDK",
            "SDK ÷ raw",
            "client CPU µs/execution raw / SDK",
            "SDK ÷ raw CPU",
            "errors",
        ]
        lines += _table(header, rows)
    jobs = results.get("jobs")
    if jobs:
        lines += [
            f"### {jobs['count']:,} concurrent execute_code calls "
            f"(spec §9.6 latency and run times, scale {jobs['scale']:g})",
            "",
        ]
        rows = [
            [
                label,
                f"{run['requests_per_job']:.2f}",
                f"{run['delay_median_ms']:.0f}",
                f"{run['delay_p90_ms']:.0f}",
                f"{run['delay_median_ms_unscaled']:.0f}",
                f"{run['wall_s']:.1f}",
                f"{run['completed']}/{run['jobs']}",
            ]
            for label, run in (
                ("per-job polling", jobs["per_job"]),
                ("shared polling", jobs["shared"]),
            )
        ]
        header = [
            "waiter",
            "requests/job",
            "completion→result median ms",
            "p90 ms",
            "median ms ÷ scale",
            "wall s",
            "completed",
        ]
        lines += _table(header, rows)
    memory = results.get("memory")
    if memory:
        lines += [f"### Memory of concurrent waits ({memory['method']})", ""]
        rows = [
            [
                label,
                f"{run['waits']:,}",
                f"{run['peak_bytes_per_wait']:,.0f}",
                f"{run['end_bytes_per_wait']:,.0f}",
                f"{run['window_s']:g}",
            ]
            for label, run in (
                ("shared polling", memory.get("shared")),
                ("per-job polling", memory.get("per_job")),
            )
            if run
        ]
        header = ["waiter", "waits", "peak bytes/wait", "bytes/wait at end", "window s"]
        lines += _table(header, rows)
    single = results.get("single")
    if single:
        lines += ["### One wait_for_job alone (the job finishes at the third poll)", ""]
        rows = [
            [
                label,
                str(run["waits"]),
                f"{run['polls_per_wait']:.2f}",
                f"{run['cpu_us_median']:,.0f}",
                f"{run['cpu_us_mean']:,.0f}",
            ]
            for label, run in (
                ("per-job polling", single["per_job"]),
                ("shared polling", single["shared"]),
            )
        ]
        header = ["waiter", "waits", "polls/wait", "client CPU µs median", "mean"]
        lines += _table(header, rows)
    other: list[list[str]] = []
    replay = results.get("replay")
    if replay:
        value = (
            f"{replay['executions_per_s']:,.0f} executions/s "
            f"(concurrency {replay['concurrency']}, latency none)"
            if replay["available"]
            else f"n/a ({replay['reason']})"
        )
        other.append(["replay backend", value])
    imports = results.get("imports")
    if imports:
        other.append(
            [
                f"import time (median of {imports['repetitions']} fresh interpreters)",
                f"un_async {imports['un_async_ms']:.0f} ms (min {imports['un_async_min_ms']:.0f}), "
                f"aiohttp {imports['aiohttp_ms']:.0f} ms (min {imports['aiohttp_min_ms']:.0f}); "
                f"paired difference {imports['delta_ms']:+.1f} ms",
            ]
        )
    if other:
        lines += ["### Other", "", *_table(["measurement", "result"], other)]
    rows = []
    for target in results["targets"]:
        verdict = {True: "PASS", False: "MISS", None: "n/a"}[target["pass"]]
        rows.append([target["target"], target["measured"] or "not measured", verdict])
    lines += ["### Targets", "", *_table(["target", "measured", "result"], rows)]
    return "\n".join(lines)
