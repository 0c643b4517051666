"""The layers run one way: kb -> media -> search -> ingest -> services -> cli, web (docs/architecture.md).

A module may import its own layer and the layers below it, never one above; the
two adapters, cli and web, do not import each other.  Every import is read from
the source with ast, those inside functions too: an import put in a function
body only hides a dependency from import time, it does not remove it (that is
how kb/ used to import ingest, search and web).  Below the adapters nothing imports
Flask or click: the application layer is shared by the command line, the pages and the API.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Lowest first.  cli and web share the top: both are adapters over the layers below.
RANK = {"kb": 0, "media": 1, "search": 2, "ingest": 3, "services": 4, "cli": 5, "web": 5}

# Imports that run up the layers on purpose, each with its reason: (file, imported module) -> why.
# An entry that no longer matches an import fails the test, so the list only shrinks.
ALLOWED = {
    # `python -m kb` keeps working (README, tests and benchmarks run it): an entry script that
    # nothing imports, so no module of kb/ depends on the command line through it.
    ("kb/__main__.py", "cli.main"): "entry script of `python -m kb`",
    # `kb serve` starts the web server: the command line is where the process starts.  web never
    # imports cli, so the two adapters stay apart the other way.
    ("cli/main.py", "web.app"): "`kb serve` builds the web app",
    ("cli/main.py", "web.serve"): "`kb serve` runs it under waitress",
    # Test support shipped inside web/ builds the demo knowledge base with the demo builder; it
    # belongs in tests/ (issue 15: one home for test helpers), where the rule does not apply.
}

# Folders at the top of the repository that hold no layer.
NOT_LAYERS = {"tests", "bench", "docs"}


def _modules() -> list[Path]:
    return sorted(p for layer in RANK for p in (REPO / layer).rglob("*.py"))


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, at any depth (functions, classes, if/try)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the module's package
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _violation(importer: str, imported: str) -> str | None:
    top = imported.split(".")[0]
    if top not in RANK or top == importer:
        return None
    if RANK[top] > RANK[importer]:
        return f"{importer} is below {top}"
    if RANK[top] == RANK[importer]:
        return f"{importer} and {top} are adapters side by side"
    return None


def test_every_top_level_package_has_a_layer():
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert packages - NOT_LAYERS <= set(RANK), (
        f"a package outside the layers: {sorted(packages - NOT_LAYERS - set(RANK))}; "
        "give it a place in RANK and in docs/architecture.md"
    )


def test_no_import_runs_up_the_layers():
    bad, used = [], set()
    for path in _modules():
        rel = path.relative_to(REPO).as_posix()
        importer = rel.split("/")[0]
        for line, name in imports_of(path):
            why = _violation(importer, name)
            if why is None:
                continue
            key = (rel, ".".join(name.split(".")[:2]))
            if key in ALLOWED:
                used.add(key)
                continue
            bad.append(f"{rel}:{line} imports {name} ({why})")
    assert not bad, "imports that run up the layers (docs/architecture.md):\n" + "\n".join(bad)
    assert not set(ALLOWED) - used, f"allowed imports that no longer occur, remove them: {sorted(set(ALLOWED) - used)}"


# The adapters' libraries: below cli and web nothing parses a request or a command line.
ADAPTER_LIBRARIES = {"flask", "flask_babel", "werkzeug", "jinja2", "click"}


def test_below_the_adapters_nothing_imports_flask_or_click():
    bad = [
        f"{path.relative_to(REPO).as_posix()}:{line} imports {name}"
        for path in _modules()
        if RANK[path.relative_to(REPO).parts[0]] < RANK["cli"]
        for line, name in imports_of(path)
        if name.split(".")[0] in ADAPTER_LIBRARIES
    ]
    assert not bad, "\n".join(bad)


def test_the_walk_sees_imports_inside_functions(tmp_path):
    """The check itself: a lazy import and a relative one are found and named absolutely."""
    pkg = tmp_path / "kb"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    mod = pkg / "m.py"
    mod.write_text("import json\n\ndef f():\n    from ingest.pipeline import Ingestor\n    from . import db\n")
    assert [name for _, name in imports_of(mod, tmp_path)] == ["json", "ingest.pipeline", "kb"]
    assert _violation("kb", "ingest.pipeline") and _violation("web", "cli.main") and not _violation("web", "kb.db")
