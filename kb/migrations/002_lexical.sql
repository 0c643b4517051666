-- Lexical index.  SQLite's own tokenizers cannot split Japanese (no spaces),
-- and 'trigram' never matches two-character words such as 旋盤, so search/lexical.py
-- turns text into space-separated terms (CJK character bigrams, kanji unigrams,
-- lower-cased Latin words) and FTS5 only splits them on the spaces.  rowid = chunks.id.
-- The terms are stored (not contentless): search reads a candidate's terms back to
-- measure how much of the query it covers.  Diacritics are left alone here because
-- Python has already normalised the text (NFKC, lower case).
CREATE VIRTUAL TABLE chunk_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
