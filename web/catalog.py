"""Keep the message catalogues in step with the code: extract, merge into each .po, compile the .mo.

    python -m web.catalog            # after changing UI text: then translate the new entries in the .po
    python -m web.catalog --check    # exit 1 if a string lacks a translation or a .mo says something else

Why a module rather than `pybabel` commands: the same functions serve the test
that proves every UI string is translated and every .mo matches its .po, so
what the test checks is exactly what this command produces.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
TRANSLATIONS = WEB / "translations"
DOMAIN = "messages"
LOCALES = ("ja",)
METHODS = [("views/**.py", "python"), ("*.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "lazy_ngettext": (1, 2)}


def extract():
    """A catalogue of every UI string in the code and templates (English source text)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="takumi-kb", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB,
        METHODS,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        options_map={"templates/**.html": {"trimmed": "true"}},
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(locale: str):
    from babel.messages.pofile import read_po

    path = po_path(locale)
    if not path.exists():
        from babel.messages.catalog import Catalog

        return Catalog(locale=locale, project="takumi-kb")
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def compiled(catalog) -> bytes:
    from babel.messages.mofile import write_mo

    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def messages(catalog) -> dict:
    """What a catalogue means, without its header: {(context, id): translation(s)} plus its
    plural rule.  Two catalogues with the same meaning compare equal whichever Babel release
    wrote them (the .mo header names the generator's version)."""
    table = {
        (m.context, m.id if isinstance(m.id, str) else tuple(m.id)): m.string
        if isinstance(m.string, str)
        else tuple(m.string)
        for m in catalog
        if m.id and not m.fuzzy
    }
    table[("", "__plural_forms__")] = catalog.plural_forms
    return table


def mo_problem(locale: str, catalog) -> str | None:
    """Why the compiled .mo of ``locale`` does not say what its .po says, or None."""
    from babel.messages.mofile import read_mo

    mo = po_path(locale).with_suffix(".mo")
    if not mo.exists():
        return f"{mo}: missing (run python -m web.catalog)"
    with mo.open("rb") as f:
        compiled_catalog = read_mo(f)
    if messages(compiled_catalog) != messages(catalog):
        return f"{mo}: out of date (run python -m web.catalog)"
    return None


def untranslated(catalog) -> list[str]:
    """Message ids without a translation (or marked fuzzy)."""
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if message.fuzzy or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update() -> None:
    from babel.messages.pofile import write_po

    template = extract()
    for locale in LOCALES:
        catalog = read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, sort_output=False)
        path.with_suffix(".mo").write_bytes(compiled(read(locale)))
        missing = untranslated(read(locale))
        print(f"{path.relative_to(WEB.parent)}: {len(catalog)} messages, {len(missing)} untranslated")
        for m in missing:
            print(f"  untranslated: {m}")


def check() -> list[str]:
    """Problems: strings in the code missing from a .po or untranslated, .mo files not compiled from their .po."""
    problems = []
    ids = {m.id for m in extract() if m.id}
    for locale in LOCALES:
        catalog = read(locale)
        known = {m.id for m in catalog if m.id}
        problems += [f"{locale}: not in the catalogue: {i!r}" for i in sorted(ids - known, key=str)]
        problems += [f"{locale}: untranslated: {i!r}" for i in untranslated(catalog)]
        problem = mo_problem(locale, catalog)
        if problem:
            problems.append(problem)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report problems")
    args = ap.parse_args(argv)
    if args.check:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main())
