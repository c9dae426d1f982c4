"""``un-async jobs list|get|wait|cancel``: the account's jobs."""

from __future__ import annotations

import click

from un_async.cli.options import (
    account_option,
    backend_option,
    json_option,
    timeout_option,
    yes_option,
)
from un_async.cli.output import print_fields, print_json, print_table
from un_async.cli.prompts import confirm
from un_async.cli.results import finish
from un_async.cli.runtime import make_client, run_async
from un_async.core.models import ExecutionResult, JobInfo, Record

__all__ = ["jobs"]

JOB_COLUMNS = (
    ("job_id", "JOB ID"),
    ("status", "STATUS"),
    ("language", "LANGUAGE"),
    ("created_at", "CREATED"),
    ("completed_at", "COMPLETED"),
)
JOB_FIELDS = ("job_id", "status", "language", "exit_code", "duration_ms", "error")


@click.group("jobs")
def jobs() -> None:
    """List, inspect, wait for and cancel jobs."""


@jobs.command("list")
@backend_option()
@account_option
@json_option
def list_jobs(backend: str | None, account: int | None, as_json: bool) -> int:
    """List the account's jobs."""

    async def fetch() -> list[JobInfo]:
        async with make_client(backend=backend, account=account) as client:
            return await client.list_jobs()

    found = run_async(fetch)
    if as_json:
        print_json([job.to_dict() for job in found])
    else:
        print_table(found, JOB_COLUMNS, empty="no jobs")
    return 0


@jobs.command("get")
@click.argument("job_id")
@backend_option()
@account_option
@json_option
def get_job(job_id: str, backend: str | None, account: int | None, as_json: bool) -> int:
    """Show a job's current state (one request, no waiting)."""

    async def fetch() -> ExecutionResult:
        async with make_client(backend=backend, account=account) as client:
            return await client.get_job(job_id)

    state = run_async(fetch)
    if as_json:
        print_json(state.to_dict())
    else:
        print_fields(state, keys=JOB_FIELDS)
    return 0


@jobs.command("wait")
@click.argument("job_id")
@timeout_option
@backend_option()
@account_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr, only the program's.")
def wait_job(
    job_id: str,
    timeout: float | None,
    backend: str | None,
    account: int | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Wait for a job; print its output and exit with its exit code (as `run` does).

    After -t SECONDS the wait gives up (exit 124); the job keeps running.
    """

    async def wait() -> ExecutionResult:
        async with make_client(backend=backend, account=account, timeout=timeout) as client:
            return await client.wait_for_job(job_id)

    return finish(run_async(wait), as_json=as_json, quiet=quiet, artifacts_dir=None)


@jobs.command("cancel")
@click.argument("job_id")
@yes_option
@backend_option()
@account_option
@json_option
def cancel_job(
    job_id: str, yes: bool, backend: str | None, account: int | None, as_json: bool
) -> int:
    """Cancel a running job."""
    confirm(f"Cancel job {job_id}?", yes=yes)

    async def cancel() -> Record:
        async with make_client(backend=backend, account=account) as client:
            return await client.cancel_job(job_id)

    reply = run_async(cancel)
    if as_json:
        print_json(reply.to_dict())
    else:
        click.echo(f"{reply.get('job_id', job_id)}: {reply.get('status', 'cancelled')}")
    return 0
