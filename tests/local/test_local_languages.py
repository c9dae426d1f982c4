"""Every language found on this machine runs hello world; compile errors are reported as
the compiler's; what is missing is named with what to install."""

from __future__ import annotations

import asyncio

import pytest

from un_async import AsyncClient, ValidationError
from un_async.backends.local.backend import LocalBackend
from un_async.backends.local.toolchains import INSTALL_HINTS

pytestmark = pytest.mark.asyncio(loop_scope="module")

HELLO = {
    "python": "print('hello from python')",
    "bash": "echo hello from bash",
    "javascript": "console.log('hello from javascript')",
    "typescript": "const who: string = 'typescript'; console.log(`hello from ${who}`)",
    "c": '#include <stdio.h>\nint main(void) { puts("hello from c"); return 0; }',
    "cpp": '#include <iostream>\nint main() { std::cout << "hello from cpp" << std::endl; }',
    "rust": 'fn main() { println!("hello from rust"); }',
    "java": (
        "public class Greeter {\n"
        '    public static void main(String[] args) { System.out.println("hello from java"); }\n'
        "}\n"
    ),
    "perl": 'print "hello from perl\\n";',
    "go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello from go") }',
    "ruby": 'puts "hello from ruby"',
    "php": '<?php echo "hello from php\\n";',
    "lua": 'print("hello from lua")',
}


async def test_every_known_language_has_a_hello_world() -> None:
    assert set(HELLO) == set(INSTALL_HINTS)


async def test_languages_are_the_runnable_ones(local: AsyncClient, level: str) -> None:
    languages = await local.get_languages()
    assert {"bash", "c", "cpp", "java", "javascript", "perl", "python"} <= set(languages)
    assert set(languages) <= set(INSTALL_HINTS)
    assert languages == sorted(languages)


@pytest.mark.slow(reason="compiles and runs every toolchain found (javac, rustc, g++)")
async def test_hello_world_in_every_language(local: AsyncClient, level: str) -> None:
    languages = await local.get_languages()
    results = await asyncio.gather(*(local.execute_code(name, HELLO[name]) for name in languages))
    failures = {
        name: (result.status, result.stdout, result.stderr[-400:])
        for name, result in zip(languages, results, strict=True)
        if result.stdout != f"hello from {name}\n" or result.exit_code != 0
    }
    assert failures == {}
    for name, result in zip(languages, results, strict=True):
        assert result.status == "completed"
        assert result.success
        assert result.reason is None
        assert result.language == name
        assert result.isolation is not None
        assert result.isolation["level"] == level


async def test_compile_error_is_the_compilers_message(best: AsyncClient) -> None:
    result = await best.execute_code("c", "int main(void) { return undeclared_name; }")
    assert result.status == "failed"
    assert result.reason == "compile"
    assert result.exit_code not in (None, 0)
    assert "undeclared_name" in result.stderr
    assert "error" in result.stderr
    assert result.stdout == ""


async def test_missing_language_names_what_to_install(fresh: AsyncClient) -> None:
    backend = fresh.executor
    assert isinstance(backend, LocalBackend)
    missing = sorted(set(INSTALL_HINTS) - set(backend.describe()["languages"]))
    if not missing:
        pytest.skip("every language the local backend knows is installed here")
    with pytest.raises(ValidationError, match="install") as caught:
        await fresh.execute_code(missing[0], HELLO[missing[0]])
    assert repr(missing[0]) in str(caught.value)


async def test_unknown_language_lists_the_available_ones(fresh: AsyncClient) -> None:
    with pytest.raises(ValidationError, match=r"available here: .*python"):
        await fresh.execute_code("klingon", "qapla")


async def test_an_unavailable_language_is_named_by_the_backend_even_after_get_languages() -> None:
    from un_async import AsyncClient, ValidationError

    async with AsyncClient(backend="local") as client:
        languages = await client.get_languages()
        missing = next(name for name in ("go", "ruby", "php", "lua") if name not in languages)
        with pytest.raises(ValidationError, match="install"):
            await client.execute_code(missing, "print(1)")
