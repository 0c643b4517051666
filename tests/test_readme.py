"""The README's commands are the ones CI runs."""

import re
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


def _settings_section(text: str, heading: str) -> str:
    """The README's settings section: from its heading to the next heading of the same level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_every_setting_is_in_both_readmes_settings_tables():
    """The READMEs' settings tables are written by hand (in two languages); this fails when a setting
    in kb/settings.py is missing from one of them, or a table names a KB_ variable that is no setting."""
    from kb.settings import NOT_SETTINGS, SETTINGS

    names = {s.env for s in SETTINGS}
    for readme, heading in (("README.md", "Settings"), ("README.ja.md", "設定")):
        section = _settings_section((REPO / readme).read_text(encoding="utf-8"), heading)
        table = "\n".join(line for line in section.splitlines() if line.startswith("| `KB_"))
        named = set(re.findall(r"\bKB_[A-Z][A-Z_]*[A-Z]\b", table))
        assert names - named == set(), f"{readme}: settings missing from the table: {sorted(names - named)}"
        assert named - names - set(NOT_SETTINGS) == set(), f"{readme}: not settings: {sorted(named - names)}"


# os.environ.get("KB_X"), os.environ["KB_X"], os.getenv("KB_X"), click's envvar="KB_X"
_ENV_READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\(|envvar=)\s*["'](KB_[A-Z0-9_]+)["']""")


def test_every_environment_variable_the_code_reads_is_a_setting_or_says_why_not():
    from kb.settings import NOT_SETTINGS, SETTINGS

    names = {s.env for s in SETTINGS}
    read: dict[str, str] = {}
    for rel in _tracked("*.py"):
        if not rel.startswith("tests/"):
            for name in _ENV_READ.findall((REPO / rel).read_text(encoding="utf-8")):
                read.setdefault(name, rel)
    assert {"KB_HOME", "KB_SHARED_DATA", "KB_FFMPEG"} <= set(read)  # the pattern finds them
    unknown = {name: where for name, where in read.items() if name not in names and name not in NOT_SETTINGS}
    assert not unknown, f"add these to kb/settings.py (SETTINGS, or NOT_SETTINGS with the reason): {unknown}"
    assert set(NOT_SETTINGS) <= set(read), f"NOT_SETTINGS no longer read: {sorted(set(NOT_SETTINGS) - set(read))}"


def test_the_offline_environment_is_set_in_one_place():
    """HF_HUB_OFFLINE & co. are set by kb.settings.set_offline_environment (run when kb is imported)."""
    setters = [
        rel
        for rel in _tracked()
        if (REPO / rel).is_file()
        and re.search(r"HF_HUB_OFFLINE\W{1,6}1", (REPO / rel).read_text(encoding="utf-8", errors="replace"))
    ]
    assert setters == ["kb/settings.py"], setters


def _tracked(*patterns: str) -> list[str]:
    """The repository's own files (relative paths), not the virtual environment, caches or a knowledge base."""
    import fnmatch
    import os

    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("kb-data", "__pycache__"))
        for name in sorted(files):
            rel = (Path(root) / name).relative_to(REPO).as_posix()
            if not patterns or any(fnmatch.fnmatch(name, p) for p in patterns):
                found.append(rel)
    return found


def test_make_test_runs_the_linter_before_the_suite():
    """CI runs `make test` (.ci/run), so the lint runs there too; it comes first because it takes seconds."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\ntest:") :].split("\n\n")[0]
    assert "ruff check" in recipe and recipe.index("ruff check") < recipe.index("pytest")
    assert "ruff format --check" in recipe and recipe.index("ruff format --check") < recipe.index("pytest")
    assert "[tool.ruff" in (REPO / "pyproject.toml").read_text(encoding="utf-8")
