"""The layout the README's "Layout" section draws: rooms whose imports run one way, modules and
functions small enough to read at once, and one way to look a call up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_imports_run_one_way():
    # The contracts are in pyproject.toml ([tool.importlinter]).
    lint_imports = Path(sys.executable).with_name("lint-imports")
    checked = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


def _sources(room: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / room).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


def test_no_module_in_ingest_holds_two_jobs_worth_of_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _sources("ingest")
        if (lines := path.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_function_in_ingest_reads_at_once():
    long = {}
    for path in _sources("ingest"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}


def test_every_room_says_what_lives_there_and_what_it_may_import():
    rooms = [p.parent for p in (ROOT / "ingest").glob("*/__init__.py")]
    assert {room.name for room in rooms} >= {"yunpian", "store", "service", "simulator", "seed"}
    for room in rooms:
        docstring = ast.get_docstring(ast.parse((room / "__init__.py").read_text()))
        assert docstring, f"ingest/{room.name}/__init__.py has no docstring"


def test_calls_are_looked_up_through_one_query():
    # ingest.store.lookup is the one path from a number or sid to its calls; the CLI and the
    # dashboard render what it returns and query no table of their own for it.
    for path in (ROOT / "ingest" / "lookup_view.py", ROOT / "dashboard" / "queries" / "lookup.py"):
        source = path.read_text()
        assert "from ingest.store.lookup import" in source, path
    assert "REPORTS" not in (ROOT / "dashboard" / "queries" / "lookup.py").read_text()
