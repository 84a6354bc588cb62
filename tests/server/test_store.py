"""Every write of the ``records`` table goes through the record store (``_store.py``): the
write engine, replication and transfers hand it their rows; nothing else inserts, updates or
deletes records rows or hands out feed sequence numbers, and no module reaches the store
through its private names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "reference_server"
STORE = "_store.py"
_SQL = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+records\b")
_VERBS = ("insert", "update", "delete")


def _is_records(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "records"


def _writes(node: ast.AST) -> bool:
    """A call or SQL text that writes ``records`` or sets the feed sequence."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(_SQL.match(node.value))
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else None
    return (
        (name in _VERBS and bool(node.args) and _is_records(node.args[0]))
        or (name == "insert_many" and any(_is_records(a) for a in node.args))
        or (isinstance(func, ast.Attribute) and func.attr in _VERBS and _is_records(func.value))
        or any(k.arg == "last_seq" for k in node.keywords)
    )


def writes_of_records(source: str) -> list[int]:
    """Lines that write the ``records`` table or hand out feed sequence numbers."""
    nodes = ast.walk(ast.parse(source))
    return sorted({getattr(n, "lineno", 0) for n in nodes if _writes(n)})


def _modules() -> list[Path]:
    return sorted(p for p in SERVER.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SERVER)))
def test_only_the_store_writes_records(path: Path) -> None:
    if path.name == STORE:
        return
    lines = writes_of_records(path.read_text(encoding="utf-8"))
    assert not lines, f"{path.name} writes records outside the store at lines {lines}"


def test_the_store_writes_records() -> None:
    assert writes_of_records((SERVER / STORE).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "snippet",
    [
        "conn.execute(update(records).values(doc=None))",
        "conn.execute(insert(records).values(id='x'))",
        "conn.execute(delete(records))",
        "insert_many(conn, records, rows)",
        "conn.execute(records.update())",
        "conn.execute(update(hub_state).values(last_seq=hub_state.c.last_seq + 1))",
        "raw.execute('UPDATE records SET doc = NULL')",
    ],
)
def test_the_guard_sees_a_write(snippet: str) -> None:
    assert writes_of_records(snippet) == [1]


def test_no_private_name_of_the_store_is_imported() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_store"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from the store"
