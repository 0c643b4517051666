"""The web package's import shape (flaskr's): only the factory imports the views, and nothing imports the factory.

Why: views used to import get_db / kb_config / search_service back from web.app, which imports every
view: a cycle through every blueprint.  They now come from web.db; this test keeps it that way, reading
every import in web/, those inside functions included (ast, not the import system)."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
# Modules that may import the factory: none inside web/ (kb serve, the tests and the benchmark build the app).
ENTRY_POINTS: set[str] = set()


def _module(path: Path) -> str:
    parts = path.relative_to(WEB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (``from web import app`` counts as web.app)."""
    found = set()
    package = _module(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in WEB.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_web_module_imports_the_factory():
    offenders = sorted(
        name for name, deps in _graph().items() if "web.app" in deps and name != "web.app" and name not in ENTRY_POINTS
    )
    assert offenders == [], f"import get_db / kb_config / search_service from web.db, not web.app: {offenders}"


def test_web_has_no_import_cycles():
    graph = _graph()
    cycles, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], f"import cycles in web/: {cycles}"
