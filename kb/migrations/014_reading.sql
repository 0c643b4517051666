-- The reading (kana) channel of the lexical index (search/reading.py): the passages of spoken
-- recordings indexed by their reading as katakana bigrams, so a question matches a transcript
-- where speech recognition wrote the right sound with other characters (旋盤 -> 専番,
-- 予熱 -> ヨネツ).  Same shape as chunk_fts / lexical_df (migrations 002, 007); rowid = chunks.id.
CREATE VIRTUAL TABLE chunk_reading USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE reading_df (
    term  TEXT PRIMARY KEY,
    df    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO reading_df(term, df) VALUES ('', 0);
-- Readings need SudachiPy, which SQL cannot run: a knowledge base that already has passages is
-- marked 'pending' and read once at its next open by a writer (kb.home, search.reading.fill_if_pending),
-- or by `kb reindex`; until then the channel is simply not used (search.reading.pending).
INSERT INTO meta(key, value)
    VALUES ('reading_index', CASE WHEN EXISTS (SELECT 1 FROM chunks) THEN 'pending' ELSE 'ready' END);
