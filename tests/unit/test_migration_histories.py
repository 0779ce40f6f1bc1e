"""Every service's Alembic revisions can be run again after being cut part way (db/resumable.py).

MariaDB commits each DDL statement on its own, so a process dying in the middle of a revision
leaves part of it applied and the version unrecorded; the re-run starts the revision from its
first operation, which must then find its own work done and go on. This scans the upgrade of
every revision file for operations that would fail on a second run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The sample service too: new services start as a copy of it (docs/adding-a-service.md).
REVISIONS = sorted(
    [*ROOT.glob("services/**/migrations/**/versions/*.py"), *ROOT.glob("tests/sample/migrations/*/versions/*.py")]
)

# The operation, and the keyword that makes it a no-op when its work is already there.
GUARDS = {
    "create_table": "if_not_exists",
    "create_index": "if_not_exists",
    "add_column": "if_not_exists",
    "drop_table": "if_exists",
    "drop_index": "if_exists",
    "drop_column": "if_exists",
}
# Operations that change nothing by themselves (batch_alter_table is SQLite's, whose upgrade
# is one transaction).
HARMLESS = {"get_bind", "get_context", "batch_alter_table"}


def _is_inline_index(call: ast.Call) -> bool:
    named = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    indexed = any(
        k.arg == "index" and not (isinstance(k.value, ast.Constant) and not k.value.value) for k in call.keywords
    )
    return named == "Index" or indexed


# An operation with no guard keyword (op.execute of an UPDATE that sets what the rows say, say)
# passes when a comment on its first line says why a second run is harmless.
RERUNNABLE_MARK = "# re-runnable:"


def _unguarded(path: Path) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source, str(path))
    upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
    found = []
    for node in ast.walk(upgrade):
        if isinstance(node, ast.Call) and _is_inline_index(node):
            # create_table sends these as CREATE INDEX statements of their own, unguarded.
            found.append(f"line {node.lineno}: an index declared in a table, not with op.create_index")
            continue
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "op"
        ):
            continue
        name = node.func.attr
        guard = GUARDS.get(name)
        if guard is None:
            if name not in HARMLESS and RERUNNABLE_MARK not in lines[node.lineno - 1]:
                found.append(f"line {node.lineno}: op.{name} (not known to be re-runnable)")
            continue
        value = next((k.value for k in node.keywords if k.arg == guard), None)
        # True, or a call deciding per dialect (resumable.column_guard()); never absent or False.
        if value is None or (isinstance(value, ast.Constant) and value.value is not True):
            found.append(f"line {node.lineno}: op.{name} without {guard}=True")
    return found


def test_every_history_is_scanned() -> None:
    services = {path.relative_to(ROOT).parts[1] for path in REVISIONS}
    assert {"auth", "forms", "menus", "registry", "runtime", "tenants", "webhooks", "sample"} <= services


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_operation_can_run_twice(path: Path) -> None:
    assert _unguarded(path) == []


def test_the_scan_finds_an_unguarded_operation(tmp_path: Path) -> None:
    revision = tmp_path / "0001_x.py"
    revision.write_text(
        "def upgrade():\n"
        "    op.create_table('t', if_not_exists=True)\n"
        "    op.create_index('i', 't', ['a'])\n"
        "    op.add_column('t', c, if_not_exists=False)\n"
        "    op.execute('UPDATE t SET a = 1')\n"
        "    op.create_table('u', sa.Column('a', sa.Integer, index=True), if_not_exists=True)\n"
        "    op.create_table('v', sa.Column('a', sa.Integer), sa.Index('ix_v_a', 'a'), if_not_exists=True)\n"
        "    op.execute('UPDATE t SET a = b')  # re-runnable: sets what the rows say\n"
    )
    assert [line.split(":")[0] for line in _unguarded(revision)] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
