-- A second embedding per chunk (by default Universal Sentence Encoder Multilingual):
-- the fusion adds its similarity to the first embedder's.  Stored like the first
-- (float32 bytes + fingerprint); no FAISS index of its own: it only re-scores
-- candidates that lexical and dense retrieval already found.
ALTER TABLE chunks ADD COLUMN embedding2 BLOB;
ALTER TABLE chunks ADD COLUMN embed2_fingerprint TEXT;
