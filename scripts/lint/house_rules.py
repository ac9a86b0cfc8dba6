"""House rules that ruff cannot see (STYLE.md), checked over control_plane/ by AST:

- no ``.commit(`` outside ``store/`` (units of work commit; services only flush);
- no ``HTTPException`` outside ``routes.py`` files;
- no ``print(`` outside ``cli.py`` files (structured logs only);
- no mutable module-level state (a module-level dict/list/set literal or call result
  assigned to a lower-case name);
- in tests/, no wall-clock read evaluated at import or collection (module and class
  bodies, decorators such as ``parametrize``, default arguments): the value goes stale
  while the suite runs, which made a "future" ``nbf`` flaky (issue 13).

Exit 1 with one line per violation.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "control_plane"
TESTS = ROOT.parent / "tests"
MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter"}
CLOCK_READS = {
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "now",
    "utcnow",
    "today",
    "utc_now",
    "FrozenClock",  # defaults to the current time
}


def _violations(path: Path) -> list[str]:
    rel = path.relative_to(ROOT.parent)
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    in_store = "store" in path.parts
    is_routes = path.name == "routes.py"
    is_cli = path.name == "cli.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "commit" and not in_store:
                found.append(f"{rel}:{node.lineno}: commit() outside store/")
            if isinstance(func, ast.Name) and func.id == "print" and not is_cli:
                found.append(f"{rel}:{node.lineno}: print() (use structured logs)")
        if isinstance(node, ast.Name) and node.id == "HTTPException" and not is_routes:
            found.append(f"{rel}:{node.lineno}: HTTPException outside routes.py")
    for stmt in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        if value is None:
            continue
        mutable = isinstance(value, ast.List | ast.Dict | ast.Set) or (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in MUTABLE_CALLS
        )
        for target in targets:
            if (
                mutable
                and isinstance(target, ast.Name)
                and not target.id.isupper()
                and target.id != "__all__"
            ):
                found.append(f"{rel}:{stmt.lineno}: mutable module-level state `{target.id}`")
    return found


def _eager(node: ast.AST) -> list[ast.AST]:
    """The nodes under ``node`` evaluated when it is: not function or lambda bodies, but
    their decorators and default arguments (evaluated at definition)."""
    found: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            for eager in [*child.decorator_list, *child.args.defaults, *child.args.kw_defaults]:
                if eager is not None:
                    found += [eager, *_eager(eager)]
        elif isinstance(child, ast.Lambda):
            found += [d for d in child.args.defaults if d is not None]
        else:
            found += [child, *_eager(child)]
    return found


def _import_time_clock_reads(path: Path) -> list[str]:
    rel = path.relative_to(ROOT.parent)
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in _eager(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in CLOCK_READS:
                found.append(f"{rel}:{node.lineno}: wall clock read at import/collection")
    return found


def main() -> int:
    problems: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        problems.extend(_violations(path))
    for path in sorted(TESTS.rglob("*.py")):
        problems.extend(_import_time_clock_reads(path))
    for problem in problems:
        sys.stdout.write(problem + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
