"""Query expansion with the glossary: a search for one name of a thing also finds its other names.

Why: a workshop says 心押し台, a manual says テールストック, a visiting engineer
types tailstock.  The glossary (kb/glossary.py) groups those names, with the
term's reading (しんおしだい: speech recognition sometimes writes kana).

How: when the query contains a name of a group, it gets *variants*: the query
with that name replaced by each other name of the group.  Each variant is
searched like the query itself and a chunk keeps its best score over all of
them (lexical coverage and dense cosine alike).  Substituting rather than
appending the names keeps the lexical score's meaning: "テールストックの芯出し"
covers a chunk saying 心押し台の芯出し completely through the variant
"心押し台の芯出し", and appending would have diluted every other query term.

A reading written in hiragana only triggers expansion (a query typed in kana
finds the term) but is never searched for itself: its bigrams (しん, おし, だい)
occur in ordinary kana text everywhere.  Names of one character never trigger.

With an empty glossary, or a query naming nothing in it, the only variant is
the query itself and search behaves exactly as without expansion (tested on
every techniques-dev query and mode: identical hits and scores).  Measured on
techniques-dev with a 13-term workshop glossary (written for this check, so
an optimistic case): MRR@10 hybrid 0.967 -> 0.971 (R@10 0.967 -> 1.0),
lexical 0.706 -> 0.822, dense 0.820 -> 0.898.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from search.lexical import normalise

MAX_VARIANTS = 6  # the query plus at most five others: each dense variant costs one query embedding
MIN_NAME_CHARS = 2  # one-character names (a lone kanji) would match inside far too many queries
MIN_KANA_CHARS = 3  # a short hiragana reading (いと) hides inside ordinary words
_HIRAGANA_ONLY = re.compile("^[\u3041-\u309f]+$")


@dataclass(frozen=True)
class Group:
    names: tuple[str, ...]  # normalised; names[0] is the term


def load_groups(conn: sqlite3.Connection) -> list[Group]:
    """The glossary's synonym groups (every organisation's), normalised for matching."""
    from kb.glossary import synonym_groups

    try:
        raw = synonym_groups(conn)
    except sqlite3.OperationalError:  # a database from before the glossary table (read-only tools)
        return []
    return groups_from(raw)


def groups_from(raw: list[list[str]]) -> list[Group]:
    out = []
    for names in raw:
        norm = tuple(dict.fromkeys(n for n in (normalise(x).strip() for x in names) if n))
        if len(norm) > 1:
            out.append(Group(norm))
    return out


def _pattern(name: str) -> re.Pattern:
    """Where a name occurs in a normalised query: Latin names as whole words (a plural s allowed)."""
    body = re.escape(name)
    if name[:1].isascii() and name[:1].isalnum():
        body = r"(?<![a-z0-9])" + body
    if name[-1:].isascii() and name[-1:].isalnum():
        body += r"s?(?![a-z0-9])"
    return re.compile(body)


def _can_trigger(name: str) -> bool:
    if _HIRAGANA_ONLY.match(name):
        return len(name) >= MIN_KANA_CHARS
    return len(name) >= MIN_NAME_CHARS


def _found(text: str, group: Group) -> tuple[str, re.Pattern, list[tuple[int, int]]] | None:
    """The longest of the group's names in the text (テールストック, not ストック inside it), and where."""
    best = None
    for name in group.names:
        if not _can_trigger(name):
            continue
        pattern = _pattern(name)
        spans = [m.span() for m in pattern.finditer(text)]
        if spans and (best is None or len(name) > len(best[0])):
            best = (name, pattern, spans)
    return best


def _inside(span: tuple[int, int], other: tuple[int, int]) -> bool:
    return other[0] <= span[0] and span[1] <= other[1] and other[1] - other[0] > span[1] - span[0]


def variants(query: str, groups: list[Group], limit: int = MAX_VARIANTS) -> list[str]:
    """The query first, then the query with each group's name replaced by the group's other names.

    A name found only inside a longer name of another group (ストック in テールストック)
    is not replaced: the longer name is the word the query uses."""
    out = [query]
    if not groups or not query.strip():
        return out
    text = normalise(query)
    found = [(group, hit) for group in groups if (hit := _found(text, group)) is not None]
    spans = [(group, span) for group, hit in found for span in hit[2]]
    seen = {text}
    for group, (name, pattern, own) in found:
        covered = {s for s in own if any(_inside(s, t) for g, t in spans if g is not group)}
        if len(covered) == len(own):
            continue
        for other in group.names:
            if other == name or _HIRAGANA_ONLY.match(other):
                continue  # a kana reading finds the term; searching for the reading would match any kana text
            variant = pattern.sub(lambda m, o=other: m.group(0) if m.span() in covered else o, text)
            if variant not in seen:
                seen.add(variant)
                out.append(variant)
                if len(out) >= limit:
                    return out
    return out


def merge_best(results: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Ranked (id, score) lists of several variants -> one list, each id at its best score, best first."""
    if len(results) == 1:
        return results[0][:k]
    best: dict[int, float] = {}
    for ranked in results:
        for cid, score in ranked:
            if cid not in best or score > best[cid]:
                best[cid] = score
    return sorted(best.items(), key=lambda item: -item[1])[:k]
