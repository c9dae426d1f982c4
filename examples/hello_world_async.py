"""Basic async execution: run one program and print what it printed.

    python examples/hello_world_async.py

Credentials come from UNSANDBOX_PUBLIC_KEY/UNSANDBOX_SECRET_KEY or accounts.csv;
UNSANDBOX_API_URL points the SDK at another server (the test suite uses a local fake).
"""

import asyncio

from un_async import execute_code


async def main() -> None:
    result = await execute_code("python", 'print("Hello World")')
    print(result["stdout"], end="")
    print(f"status={result['status']} exit_code={result['exit_code']}")


if __name__ == "__main__":
    asyncio.run(main())
