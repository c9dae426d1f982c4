"""The README's endpoint table names every resource method (and the client's two)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from un_async.resources import Images, Keys, Services, Sessions, Snapshots

README = Path(__file__).resolve().parents[2] / "README.md"
NAMESPACES = {
    "sessions": Sessions,
    "services": Services,
    "snapshots": Snapshots,
    "images": Images,
    "keys": Keys,
}


def _table_rows() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [
        line for line in text.splitlines() if re.match(r"^\| `(GET|POST|PUT|PATCH|DELETE)", line)
    ]


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_every_method_is_in_the_endpoint_table(namespace: str) -> None:
    rows = "\n".join(_table_rows())
    methods = [
        name
        for name, member in inspect.getmembers(NAMESPACES[namespace], inspect.iscoroutinefunction)
        if not name.startswith("_")
    ]
    assert methods
    missing = [m for m in methods if f"{namespace}.{m}(" not in rows]
    assert missing == []


def test_the_client_methods_are_in_the_endpoint_table() -> None:
    rows = "\n".join(_table_rows())
    assert "`client.health()`" in rows
    assert "`client.generate_image(" in rows
