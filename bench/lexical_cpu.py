"""CPU time of the word search per question, split into SQLite statements and the rest (issue 17).

    python bench/lexical_cpu.py                       # this checkout's search code
    python bench/lexical_cpu.py --code ../main        # another checkout's, over the same knowledge base
    python bench/lexical_cpu.py --hidden 0.1          # a tenth of the recordings hidden from the searcher
    python bench/lexical_cpu.py --hidden 0.1 --cold   # ... each search as the first after a change

Why: a `kb serve` process runs Python one thread at a time (the GIL); SQLite lets go of it while a
statement runs.  So what limits concurrent searches in one process is the CPU a search spends
*outside* SQLite.  This times ``lexical.search_hits`` as the search page calls it (k=300 candidates,
the apprentice's visibility filter over every recording, reading match on, weak links on) for
JSQuAD questions, with ``time.process_time()``, and counts the CPU inside each statement (execute
and fetching its rows, so the rows' conversion to Python objects, which holds the GIL, is counted
as SQLite: the rest is a lower bound of the GIL-held time).

The knowledge base is bench/synthetic.py's 10k-chunk one without vectors (same text model and
seed: 1,145 JSQuAD paragraphs as documents, 8,855 sampled passages as videos, so read), built once
into bench/.cache/lexical-10k/ (~1 min).  Process CPU, not wall time: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def build(path: Path) -> None:
    """The lexical-only 10k knowledge base (see the module docstring)."""
    import numpy as np

    from kb import db
    from search import lexical
    from synthetic import PER_RECORDING, TextModel, _add_recording, load_jsquad

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.unlink(missing_ok=True)
    conn = sqlite3.connect(part)
    db.migrate(conn)
    jsq = load_jsquad()
    texts, rng = TextModel(jsq.paragraphs), np.random.default_rng(0)
    recordings = [("document", jsq.paragraphs[i : i + PER_RECORDING]) for i in range(0, len(jsq.paragraphs), 50)]
    left = 10_000 - len(jsq.paragraphs)
    while left > 0:
        recordings.append(("video", texts.sample(rng, min(PER_RECORDING, left))))
        left -= PER_RECORDING
    with conn:
        for n, (kind, chunk_texts) in enumerate(recordings):
            rec = _add_recording(conn, n, kind, "JSQuAD 段落" if kind == "document" else "合成録画", commit=False)
            ids = [
                conn.execute(
                    "INSERT INTO chunks(recording_id, idx, text, start, end) VALUES (?,?,?,?,?)",
                    (rec, i, text, i * 40.0, i * 40.0 + 40),
                ).lastrowid
                for i, text in enumerate(chunk_texts)
            ]
            lexical.add_chunks(conn, zip(ids, chunk_texts))
    conn.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('optimize')")
    conn.commit()
    conn.close()
    part.rename(path)


class _Rows(list):
    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class _Timed:
    """A connection that counts the process CPU spent in its statements (execute + every row fetched)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.sql = conn, 0.0

    def execute(self, *args):
        t = time.process_time()
        rows = _Rows(self.conn.execute(*args).fetchall())
        self.sql += time.process_time() - t
        return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout whose search/ is timed")
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument(
        "--hidden",
        type=float,
        default=0.0,
        help="share of the recordings the searcher may not open (another organisation's, private), chosen "
        "with a fixed seed: the word statistics are then counted over the visible ones (visible_frequencies)",
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="forget what earlier searches counted of the hidden recordings before each search (as the first "
        "search after each new index generation)",
    )
    ap.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args(argv)
    from synthetic import load_jsquad  # puts this checkout first on sys.path and imports its kb/

    code = str(args.code.resolve())
    sys.path.insert(0, code)
    for name in [m for m in sys.modules if m.split(".")[0] in ("kb", "search")]:
        del sys.modules[name]  # kb/ and search/ from --code
    from search import lexical

    assert lexical.__file__.startswith(code), lexical.__file__

    cache = Path(os.environ.get("KB_BENCH_CACHE") or REPO / "bench" / ".cache") / "lexical-10k" / "kb.sqlite"
    if not cache.exists():
        build(cache)
    conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
    within = [r[0] for r in conn.execute("SELECT id FROM recordings ORDER BY id")]
    if args.hidden:
        import random

        hidden = set(random.Random(0).sample(within, round(len(within) * args.hidden)))
        within = [r for r in within if r not in hidden]

    def forget() -> None:
        if args.cold and hasattr(lexical, "HIDDEN"):
            lexical.HIDDEN.clear()

    questions = load_jsquad().questions[: args.questions]
    for q in questions[:30]:  # warm: Sudachi's dictionary, SQLite's page cache
        lexical.search_hits(conn, q, k=300, within=within, reading_match=True, weak_links=True)
    timed = _Timed(conn)
    hits, cpu = 0, 0.0
    for q in questions:
        forget()
        t = time.process_time()
        hits += len(lexical.search_hits(timed, q, k=300, within=within, reading_match=True, weak_links=True))
        cpu += time.process_time() - t
    n = len(questions)
    result = {
        "code": code,
        "questions": n,
        "hidden": args.hidden,
        "cold": args.cold,
        "hits": hits,
        "cpu_ms_per_search": round(cpu / n * 1000, 2),
        "sqlite_ms_per_search": round(timed.sql / n * 1000, 2),
        "outside_sqlite_ms_per_search": round((cpu - timed.sql) / n * 1000, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
