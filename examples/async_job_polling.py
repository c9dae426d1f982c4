"""Fire-and-forget: start jobs, do other work, then collect, inspect and cancel.

    python examples/async_job_polling.py
"""

import asyncio

from un_async import cancel_job, execute_async, get_job, list_jobs, wait_for_job


async def main() -> None:
    # Start execution (returns immediately with the job id).
    job_id = await execute_async("javascript", 'console.log("Job started")')
    print(f"Job ID: {job_id}")

    # One poll, no waiting.
    status = await get_job(job_id)
    print(f"Current status: {status['status']}")

    # Wait with backoff polling (bounded by a deadline) for the final result.
    result = await wait_for_job(job_id, timeout=120)
    print(f"Status: {result['status']}")
    print(f"Output: {result['stdout'].strip()}")

    # Start a second job and cancel it.
    doomed = await execute_async("python", "import time\ntime.sleep(60)\nprint('too late')")
    cancelled = await cancel_job(doomed)
    print(f"Cancelled {doomed}: {cancelled['status']}")

    for job in await list_jobs():
        print(f"Job {job['id']}: {job['status']}")


if __name__ == "__main__":
    asyncio.run(main())
