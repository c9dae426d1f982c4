"""The first program to run: no account, no server, real output.

un-async run --backend local examples/hello.py
"""

import platform


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


print(f"Hello from Python {platform.python_version()}!")
print("Fibonacci:", " ".join(str(fib(n)) for n in range(11)))
