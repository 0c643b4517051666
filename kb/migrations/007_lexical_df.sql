-- Document frequencies of the lexical terms, kept up to date by search/lexical.py as
-- chunks are indexed and removed.  Why a table: the idf of a query's terms was
-- estimated by reading postings from FTS5 at every search, which at 1M chunks cost
-- more than the rest of the search together; now it is one indexed lookup.
-- The row with the empty term holds the number of indexed chunks (split() never
-- yields an empty term).  Filled here from FTS5's own vocabulary for existing
-- knowledge bases.
CREATE TABLE lexical_df (
    term  TEXT PRIMARY KEY,
    df    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE VIRTUAL TABLE temp.chunk_fts_vocab_fill USING fts5vocab(main, chunk_fts, 'row');
INSERT INTO lexical_df(term, df) SELECT term, doc FROM temp.chunk_fts_vocab_fill;
DROP TABLE temp.chunk_fts_vocab_fill;
INSERT INTO lexical_df(term, df) SELECT '', count(*) FROM chunk_fts_docsize;
