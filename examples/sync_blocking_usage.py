"""Blocking use of the async SDK: the same functions, no await.

`un_async.sync` runs the async client on a private event loop thread, so it works in a
plain script and also inside code that already runs an event loop (such as Jupyter).

    python examples/sync_blocking_usage.py
"""

import asyncio

from un_async import sync


def plain_script() -> None:
    result = sync.execute_code("python", 'print("Hello from a blocking call")')
    print(result["stdout"], end="")
    print(f"Languages available: {len(sync.get_languages())}")
    print(f"Detected: {sync.detect_language('main.go')}")


async def inside_running_loop() -> None:
    # As in a Jupyter cell: an event loop is already running in this thread.
    result = sync.execute_code("python", 'print("Hello from inside a running loop")')
    print(result["stdout"], end="")


if __name__ == "__main__":
    plain_script()
    asyncio.run(inside_running_loop())
    sync.close()
