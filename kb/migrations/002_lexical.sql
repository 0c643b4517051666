-- Lexical index.  SQLite's own tokenizers cannot split Japanese (no spaces),
-- and 'trigram' never matches two-character words such as 旋盤, so search/lexical.py
-- turns text into space-separated terms (CJK character bigrams, lower-cased
-- Latin words) and FTS5's unicode61 tokenizer indexes those.  rowid = chunks.id.
CREATE VIRTUAL TABLE chunk_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 2');
