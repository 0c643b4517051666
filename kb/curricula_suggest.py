"""Suggest moments for a curriculum from its goal, ordered from basic to advanced.

Why search: the goal is written the way a coordinator would ask a colleague
("NC旋盤の段取りを一人でできるようになる"), which is exactly what the search
engine answers; the same Searcher as the search page is used, restricted to
what the coordinator may see.

The order rule (documented for coordinators in docs/curricula.md):

1. level from the recording's tags, else from its title: 基礎 / 初級 / 入門 /
   初心者 / 新人 / basic / beginner / introduction -> basic (1); 中級 / intermediate ->
   intermediate (2); 応用 / 上級 / 発展 / advanced -> advanced (3); none of
   these -> no level (shown as "level not set", never a made-up 中級), ordered
   between basic and advanced;
2. within a level, techniques in the order their best moment was found (the
   most relevant technique first), so one technique's moments stay together;
3. then the recording's order (older recordings first: a series recorded in
   order stays in order), then the moment's start time / page.

Search relevance decides *which* moments are proposed: only *strong* ones, those
that clear the relevance bar of the search page (search/strength.py), and of those only
the ones whose odds of answering the goal are within a factor e of the best moment's
(``WITHIN_LOGITS`` of its margin above the bar: the bar is a logistic regression, so a
difference of margins is a log odds ratio), so a goal that only a few recordings answer
gets a few moments, not every recording of the trade; the rule above decides only their order.
Why odds and not a share of the fused score: the fused score is a z-score among the search's
candidates (its zero is their mean), so "70 % of the best" meant something else for every goal.  One moment per recording is
proposed (its best, i.e. the passage that answers the goal); the coordinator
accepts, drops or adds more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

LEVEL_WORDS = (
    (1, ("基礎", "初級", "入門", "初心者", "新人", "basic", "beginner", "introduction", "intro")),
    (3, ("応用", "上級", "発展", "advanced")),
    (2, ("中級", "intermediate")),
)
ORDER_OF_UNKNOWN = 2  # a moment with no level is ordered between basic and advanced
# A proposed moment must also lie at most this many logits below the best one on the relevance bar's
# scale (search.strength.margin): at most e times less likely to answer the goal.  The bar says a moment
# is on the subject; this keeps the moments that answer *this* goal, not every recording of the trade
# (measured on the demo: tests/test_web_search_honesty.py, precision >= 0.8).
WITHIN_LOGITS = 1.0


@dataclass
class Suggestion:
    recording_id: int
    title: str
    kind: str
    technique: str | None
    start: float | None
    end: float | None
    page: int | None
    chunk_id: int | None
    text: str
    level: int | None  # 1 basic, 2 intermediate, 3 advanced, None: the recording says nothing
    rank: int  # position in the search results (0 = most relevant)

    def key(self) -> str:
        """What the accept form sends back for this suggestion."""

        def part(v):
            return "" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))

        return ":".join(part(v) for v in (self.recording_id, self.start, self.end, self.page, self.chunk_id))


def level_of(tags: Iterable[str], title: str = "") -> int | None:
    """1 basic, 2 intermediate, 3 advanced, None unknown: from the tags first, then the title."""
    for source in (" ".join(tags or ()), title or ""):
        text = source.lower()
        for level, words in LEVEL_WORDS:
            if any(w in text for w in words):
                return level
    return None


def order(suggestions: list[Suggestion]) -> list[Suggestion]:
    """Basic to advanced, by the rule in the module docstring."""
    technique_rank: dict[str, int] = {}
    for s in sorted(suggestions, key=lambda s: s.rank):
        technique_rank.setdefault(s.technique or "", len(technique_rank))
    return sorted(
        suggestions,
        key=lambda s: (
            ORDER_OF_UNKNOWN if s.level is None else s.level,
            technique_rank[s.technique or ""],
            s.recording_id,
            s.start if s.start is not None else -1,
            s.page if s.page is not None else -1,
        ),
    )


def suggest(
    search: Callable[[str, int, set | None], list],
    recs_by_id: Callable[[Iterable[int]], Mapping[int, dict]],
    goal: str,
    recording_ids: set[int] | None,
    limit: int = 12,
    margin_of: Callable[[object], float | None] | None = None,
) -> list[Suggestion]:
    """``search(query, limit, recording_ids)`` returns search hits (search.engine.Hit); ``recs_by_id`` gives
    the recordings (kb.recordings.get_many); ``margin_of(hit)`` its margin above the relevance bar in logits
    (search.strength.margin; None: unknown, then only the strong label counts).  Returns up to ``limit``
    strong moments in learning order."""
    goal = (goal or "").strip()
    if not goal:
        return []
    hits = search(goal, limit, recording_ids)
    recs = recs_by_id([h.recording_id for h in hits])
    margins = {id(h): margin_of(h) if margin_of else None for h in hits}
    known = [margins[id(h)] for h in hits if h.strength == "strong" and margins[id(h)] is not None]
    floor = max(known) - WITHIN_LOGITS if known else float("-inf")
    out, seen = [], set()
    for rank, h in enumerate(hits):
        m = margins[id(h)]
        if h.strength != "strong" or (m is not None and m < floor) or h.recording_id in seen:
            continue
        seen.add(h.recording_id)
        rec = recs.get(h.recording_id) or {}
        out.append(
            Suggestion(
                recording_id=h.recording_id,
                title=h.title,
                kind=h.kind,
                technique=h.technique,
                start=h.start,
                end=h.end,
                page=h.page,
                chunk_id=h.chunk_id if h.start is None else None,
                text=h.text,
                level=level_of(rec.get("tags") or (), h.title),
                rank=rank,
            )
        )
    return order(out)


def parse_key(key: str) -> dict:
    """The inverse of Suggestion.key: recording_id, start, end, page, chunk_id (ValueError when malformed)."""
    parts = key.split(":")
    if len(parts) != 5 or not parts[0].isdigit():
        raise ValueError(key)

    def num(v, cast):
        return cast(v) if v != "" else None

    return {
        "recording_id": int(parts[0]),
        "start": num(parts[1], float),
        "end": num(parts[2], float),
        "page": num(parts[3], int),
        "chunk_id": num(parts[4], int),
    }
