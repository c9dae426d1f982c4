"""Run programs in several languages concurrently with asyncio.gather().

    python examples/concurrent_execution.py
"""

import asyncio

from un_async import execute_code

PROGRAMS = [
    ("python", "print('Python')"),
    ("javascript", "console.log('JavaScript')"),
    ("go", 'package main\nimport "fmt"\nfunc main() { fmt.Println("Go") }'),
]


async def main() -> None:
    results = await asyncio.gather(*(execute_code(lang, code) for lang, code in PROGRAMS))
    for result in results:
        print(f"Language: {result['language']}, Output: {result['stdout'].strip()}")


if __name__ == "__main__":
    asyncio.run(main())
