"""Who can teach this?  Meisters ranked by how well their own recordings answer a question.

Why the search index and not the technique field: an apprentice asks "長い軸を削ると
びびる" and the meister to ask is the one who *explained* that on video, whatever the
recording's category says.  So the question goes through the same hybrid search as the
search page (lexical + dense, glossary variants), restricted to the finished recordings
the viewer may see that have a meister, and the moments found are credited to their
meisters.  Recordings the viewer may not see take no part in the ranking and never
appear as evidence (kb.access decides which those are).

The rule, per meister (constants below):

1. Their moments: the meister's chunks among the best ``HITS`` moments of that search,
   ungrouped (several moments of one meister all count), and only the *strong* ones: those
   that clear the same relevance bar as the search page's "no good match"
   (search/strength.py).  Every meister's recordings share some words with any question
   (削 of 削る, 出 of 出る), so a moment below the bar is no evidence at all.  A moment's
   relevance is its fused search score floored at 0 (standard deviations above the
   average candidate of the search, plus the lexical coverage).
2. Evidence = r1 + r2/2 + r3/4 + r4/8 (their four best moments, halving weights).  Why
   decaying: a meister who covers the topic in several places ranks above one whose single
   chunk happens to share words with the question, yet depth can never count more than the
   best moment once over (the weights add up to less than 2), so several weak mentions do
   not beat one clear explanation.
3. Speciality bonus: ``SPECIALITY_BONUS`` when the question names one of their technique
   categories or tags (or a glossary name of one: 心押し台 finds a meister tagged
   テールストック), or a short question is part of one (溶接 -> TIG溶接).  A speciality
   is the meister's own claim, the recordings are the evidence: the bonus lifts a
   specialist among meisters with comparable evidence, and lets a specialist with no
   recordings (or none the viewer may see) appear, below those whose recordings clearly
   answer.
4. Who is listed, in this order: first the meisters with at least one strong moment
   (by evidence + speciality bonus), then the specialists by profile alone (a matching
   speciality and no strong moment), by name.  Nobody else: listing every meister whose
   recordings share a word with the question would say nothing.

Optional filters: an area the meister can visit (part of an area's name: 大阪 finds 大阪府)
and an organisation they work with.  Evidence shown: each meister's ``EVIDENCE`` best moments.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass, field

from kb import access
from kb.access import Viewer

HITS = 80  # moments fetched from the search (ungrouped)
DEPTH = 4  # moments that count per meister
DECAY = 0.5  # each further moment counts half the one before
SPECIALITY_BONUS = 1.0  # in the same units as a moment's score (standard deviations)
EVIDENCE = 3  # moments shown per meister
MAX_QUESTION = 300


@dataclass
class Evidence:
    recording_id: int
    title: str
    kind: str
    start: float | None
    end: float | None
    page: int | None
    chunk_id: int
    score: float
    marked: str  # HTML-escaped text with <mark> around the question's words
    link: str  # the moment's address, as the search hit's (kb.urls.moment)


@dataclass
class Teacher:
    id: int
    name: str
    organisations: list[dict]
    areas: list[str]
    score: float
    evidence_score: float
    matched_specialities: list[str]
    moments: int  # of their moments among the search's hits, how many count (relevance above 0)
    recordings: int  # distinct recordings among those moments
    evidence: list[Evidence] = field(default_factory=list)

    def to_json(self) -> dict:
        d = asdict(self)
        d["score"], d["evidence_score"] = round(self.score, 3), round(self.evidence_score, 3)
        for e in d["evidence"]:
            e["score"] = round(e["score"], 3)
        return d


def aggregate(scores: list[float]) -> float:
    """The evidence score of one meister from their moments' scores (any order): see the module docstring."""
    best = sorted((max(0.0, s) for s in scores), reverse=True)[:DEPTH]
    return sum(s * DECAY**i for i, s in enumerate(best))


def _normalise(text: str) -> str:
    from search.lexical import normalise

    return " ".join(normalise(text).split())


def _occurs(name: str, text: str) -> bool:
    """``name`` in ``text`` (both normalised); a Latin name only as a whole word (tig, not stigma)."""
    if not name:
        return False
    body = re.escape(name)
    if name[0].isascii() and name[0].isalnum():
        body = r"(?<![a-z0-9])" + body
    if name[-1].isascii() and name[-1].isalnum():
        body += r"(?![a-z0-9])"
    return re.search(body, text) is not None


def matched_specialities(question: str, specialities: list[str], variants: list[str]) -> list[str]:
    """The specialities the question names (itself or through a glossary variant), or that contain a short
    question whole (溶接 in TIG溶接)."""
    texts = [_normalise(v) for v in variants] or [_normalise(question)]
    whole = _normalise(question)
    out = []
    for value in specialities:
        name = _normalise(value)
        if any(_occurs(name, t) for t in texts) or (len(whole) >= 2 and _occurs(whole, name)):
            out.append(value)
    return out


def _eligible(conn: sqlite3.Connection, area: str | None, organisation_id: int | None) -> dict[int, str]:
    """id -> name of the meisters the filters leave."""
    sql, params = "SELECT m.id, m.name FROM meisters m WHERE 1", []
    if area and area.strip():
        sql += (
            " AND EXISTS (SELECT 1 FROM meister_areas a WHERE a.meister_id = m.id"
            " AND instr(lower(a.area), lower(?)) > 0)"
        )
        params.append(area.strip())
    if organisation_id is not None:
        sql += " AND EXISTS (SELECT 1 FROM meister_organisations o WHERE o.meister_id = m.id AND o.organisation_id = ?)"
        params.append(int(organisation_id))
    return {r[0]: r[1] for r in conn.execute(sql, params)}


def _visible_recordings(conn: sqlite3.Connection, viewer: Viewer, meister_ids) -> dict[int, int]:
    """recording id -> meister id of the finished recordings ``viewer`` may see, by those meisters."""
    where, params = access.visible_where(viewer, "r")
    rows = conn.execute(
        f"SELECT r.id, r.meister_id FROM recordings r WHERE r.meister_id IS NOT NULL AND r.status = 'done' AND {where}",
        params,
    )
    return {r[0]: r[1] for r in rows if r[1] in meister_ids}


def rank(
    searcher,
    conn: sqlite3.Connection,
    question: str,
    viewer: Viewer = access.SYSTEM,
    *,
    area: str | None = None,
    organisation_id: int | None = None,
    limit: int = 10,
) -> list[Teacher]:
    """Meisters who can teach ``question``, best first (see the module docstring for the rule).

    ``searcher``: a search.engine.Searcher over this knowledge base; ``conn`` answers the
    registry and visibility questions (the web app's request connection, or the searcher's)."""
    from kb import meisters
    from search import expansion
    from search.engine import Filters

    question = " ".join((question or "").split())[:MAX_QUESTION]
    if not question:
        return []
    eligible = _eligible(conn, area, organisation_id)
    if not eligible:
        return []
    rec_meister = _visible_recordings(conn, viewer, eligible)

    moments: dict[int, list] = {}
    if rec_meister:
        result = searcher.search(
            question, limit=HITS, mode="hybrid", filters=Filters(recording_ids=set(rec_meister)), group=False
        )
        for hit in result.hits:
            mid = rec_meister.get(hit.recording_id)
            if mid is not None:  # always, given the filter; a guard against a recording moved meanwhile
                moments.setdefault(mid, []).append(hit)

    variants = expansion.variants(question, expansion.load_groups(conn))
    specs: dict[int, list[str]] = {}
    for mid, value in conn.execute("SELECT meister_id, value FROM meister_specialities ORDER BY rowid"):
        if mid in eligible and value not in specs.setdefault(mid, []):
            specs[mid].append(value)

    teachers = []
    for mid, name in eligible.items():
        hits = sorted((h for h in moments.get(mid, []) if h.strength == "strong"), key=lambda h: -h.score)
        matched = matched_specialities(question, specs.get(mid, []), variants)
        if not matched and not hits:
            continue
        evidence_score = aggregate([h.score for h in hits])
        counted = [h for h in hits if h.score > 0]
        teachers.append(
            Teacher(
                id=mid,
                name=name,
                organisations=meisters.organisations_of(conn, mid),
                areas=[
                    r[0]
                    for r in conn.execute("SELECT area FROM meister_areas WHERE meister_id = ? ORDER BY rowid", (mid,))
                ],
                score=evidence_score + (SPECIALITY_BONUS if matched else 0.0),
                evidence_score=evidence_score,
                matched_specialities=matched,
                moments=len(counted),
                recordings=len({h.recording_id for h in counted}),
                evidence=[
                    Evidence(
                        h.recording_id, h.title, h.kind, h.start, h.end, h.page, h.chunk_id, h.score, h.marked, h.link
                    )
                    for h in counted[:EVIDENCE]
                ],
            )
        )
    # Evidence above the bar first, then specialists by profile (module docstring, rule 4).
    teachers.sort(key=lambda t: (0 if t.evidence else 1, -t.score, t.name))
    return teachers[: max(1, limit)]
