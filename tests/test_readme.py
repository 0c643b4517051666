"""The README's commands are the ones CI runs."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make run" in readme
    assert readme.index("make run") < 1500 and readme.index("make test") < 1500  # shown first
    assert "make test" in ci


def test_makefile_has_the_targets_the_readme_names():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("install:", "run:", "test:"):
        assert f"\n{target}" in makefile
    # torch is pinned to its CPU build in the lock (tests/test_lock.py), which make install installs
    assert "-r requirements.txt" in makefile


def test_make_test_runs_the_linter_before_the_suite():
    """CI runs `make test` (.ci/run), so the lint runs there too; it comes first because it takes seconds."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\ntest:"):].split("\n\n")[0]
    assert "ruff check" in recipe and recipe.index("ruff check") < recipe.index("pytest")
    assert "[tool.ruff" in (REPO / "pyproject.toml").read_text(encoding="utf-8")
