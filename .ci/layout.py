"""The layout's measures: no module of python/twolayer or bench/ over 500 lines and no test file
over 600 (a room a reader can hold), and no import circle among the modules of python/twolayer or
of bench/ (imports made only for type checkers do not count)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMITS = {"python/twolayer": 500, "bench": 500, "tests": 600}


def too_long(root: Path) -> list[str]:
    found = []
    for folder, limit in LIMITS.items():
        for path in sorted((root / folder).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > limit:
                found.append(f"{path.relative_to(root)}: {lines} lines (at most {limit})")
    return found


def _module(path: Path, base: Path, package: str) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts]) if package else ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules that `module` imports, wherever it imports them, but under TYPE_CHECKING: of
    ``from P import X``, the module P.X where there is one, else P."""
    names: set[str] = set()
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                names.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return names


def circles(base: Path, package: str) -> list[list[str]]:
    files = {p: _module(p, base, package) for p in sorted(base.rglob("*.py"))}
    # Extension modules are known by their stubs.
    known = set(files.values()) | {_module(p, base, package) for p in base.rglob("*.pyi")}
    graph = {
        module: sorted(
            name
            for name in _imports(
                ast.parse(path.read_text()), module, path.name == "__init__.py", known
            )
            if name in known and name != module
        )
        for path, module in files.items()
    }
    found, state = [], {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for name in graph.get(module, []):
            if state.get(name) == "open":
                found.append([*stack[stack.index(name) :], name])
            elif name not in state:
                visit(name, [*stack, name])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
    return found


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    problems = too_long(root)
    for base, package in ((root / "python" / "twolayer", "twolayer"), (root / "bench", "")):
        problems += [f"import circle: {' -> '.join(c)}" for c in circles(base, package)]
    print("\n".join(problems) or "layout: no module too long, no import circle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
