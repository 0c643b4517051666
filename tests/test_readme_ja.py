"""README.ja.md tells a Japanese reader the same facts as README.md.

Why these checks: the two READMEs drift apart silently when someone adds a command or a
setting to one of them.  The facts a person acts on are the `make` targets, the `kb`
commands and the `KB_*` settings, so both files must name exactly the same ones; and each
must link to the other at its top, so a reader lands on their language.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)


def facts(text: str) -> dict[str, set[str]]:
    """make targets and kb commands named in code (spans and blocks); KB_* settings anywhere."""
    code = "\n".join(CODE.findall(text))
    return {
        "make": set(re.findall(r"\bmake ([a-z][a-z-]*)", code)),
        "kb": set(re.findall(r"(?<![\w/.-])kb ([a-z][a-z-]*)", code)),
        "settings": set(re.findall(r"\bKB_[A-Z][A-Z_]*[A-Z]", text)),
    }


def test_facts_are_read_from_code_only():
    text = "We make sure. `make run` and\n```bash\nkb serve --host 0.0.0.0\nmake lock\n```\nKB_HOME, `kb-data/x`"
    assert facts(text) == {"make": {"run", "lock"}, "kb": {"serve"}, "settings": {"KB_HOME"}}


def test_both_readmes_name_the_same_commands_and_settings():
    en = facts((REPO / "README.md").read_text(encoding="utf-8"))
    ja = facts((REPO / "README.ja.md").read_text(encoding="utf-8"))
    assert {"run", "test", "install", "lock"} <= en["make"]
    assert {"serve", "init", "search", "backup", "check", "restore"} <= en["kb"]
    assert {"KB_HOME", "KB_WHISPER_MODEL", "KB_PUBLIC_URL"} <= en["settings"]
    for kind in en:
        assert en[kind] == ja[kind], (
            f"{kind}: only in README.md {sorted(en[kind] - ja[kind])}, "
            f"only in README.ja.md {sorted(ja[kind] - en[kind])}"
        )


def test_each_readme_links_to_the_other_at_its_top():
    en = (REPO / "README.md").read_text(encoding="utf-8")
    ja = (REPO / "README.ja.md").read_text(encoding="utf-8")
    assert "(README.ja.md)" in en[:300]
    assert "(README.md)" in ja[:300]


def test_the_japanese_readme_is_japanese_and_its_japanese_guides_exist():
    ja = (REPO / "README.ja.md").read_text(encoding="utf-8")
    prose = CODE.sub("", ja)
    kana = len(re.findall(r"[\u3040-\u30ff]", prose))
    latin = len(re.findall(r"[A-Za-z]", re.sub(r"\(.*?\)|\[.*?\]", "", prose)))
    assert kana > 2 * latin, (kana, latin)
    for link in set(re.findall(r"\]\((docs/ja/[^)#]+)\)", ja)):
        assert (REPO / link).is_file(), link
    assert len(set(re.findall(r"\]\((docs/ja/[^)#]+)\)", ja))) >= 5


def test_the_japanese_operator_pages_link_to_each_other():
    """docs/ja/ covers what an operator needs (setup, backup, updates, service, phones), each page's links
    to its sibling pages and back to README.ja.md resolve."""
    pages = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "docs" / "ja").glob("*.md")}
    assert {"setup.md", "backup.md", "updates.md", "service.md", "phones.md"} <= set(pages)
    for name, text in pages.items():
        for link in re.findall(r"\]\(([^)#:]+)\)", text):
            if "/" not in link or link.startswith("../../"):
                assert (REPO / "docs" / "ja" / link).resolve().is_file(), f"{name}: {link}"
        assert len(re.findall(r"[\u3040-\u30ff]", CODE.sub("", text))) > 300, name
    assert "systemctl enable" in pages["service.md"] and "[Install]" in pages["service.md"]
    assert "kb serve --host 0.0.0.0" in pages["phones.md"] and "KB_PUBLIC_URL" in pages["phones.md"]
    assert "make lock" in pages["updates.md"]
    assert all(f"kb {c}" in pages["backup.md"] for c in ("backup", "check", "restore"))
