-- Transcript corrections and a glossary per organisation.
--
-- transcript_versions: every saved correction first stores the transcript as it
-- was (its segments as JSON), so nothing a meister or the recogniser wrote is
-- ever lost and any version can be looked at or restored.  The row with
-- version v holds version v of the transcript; user_id / author / created_at /
-- note say who replaced it by version v + 1, when and why.  The current
-- transcript (the segments table) is version max(v) + 1, or 1 when never edited.
CREATE TABLE transcript_versions (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    segments      TEXT NOT NULL,                 -- JSON [{start, end, page, text, words, speaker}, ...]
    user_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    author        TEXT,                          -- the editor's name at the time (kept if the user goes)
    note          TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (recording_id, version)
);

-- The glossary belongs to an organisation: each workshop has its own words
-- (and its own readings of them).  Existing terms move into organisation 1.
CREATE TABLE glossary_new (
    id               INTEGER PRIMARY KEY,
    organisation_id  INTEGER NOT NULL DEFAULT 1 REFERENCES organisations(id),
    term             TEXT NOT NULL,
    reading          TEXT,
    synonyms         TEXT NOT NULL DEFAULT '[]',   -- JSON list
    updated_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (organisation_id, term)
);
INSERT INTO glossary_new(id, organisation_id, term, reading, synonyms)
    SELECT id, 1, term, reading, synonyms FROM glossary;
DROP TABLE glossary;
ALTER TABLE glossary_new RENAME TO glossary;
