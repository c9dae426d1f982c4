"""Concurrent Fibonacci: compute fib(0..10) remotely, all at once.

    python examples/fibonacci_async.py
"""

import asyncio

from un_async import execute_code

FIB_PROGRAM = """\
def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

print(fib({n}))
"""


def fib_program(n: int) -> str:
    """The Python source that prints fib(n)."""
    return FIB_PROGRAM.format(n=n)


async def main() -> None:
    numbers = range(11)
    results = await asyncio.gather(*(execute_code("python", fib_program(n)) for n in numbers))
    for n, result in zip(numbers, results, strict=True):
        print(f"fib({n}) = {result['stdout'].strip()}")


if __name__ == "__main__":
    asyncio.run(main())
