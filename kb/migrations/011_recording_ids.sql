-- kb:foreign_keys=off
-- Issue 16, defects 12 and 10.
--
-- Recording ids are never reused: a printed QR card of a deleted recording must not open another
-- one.  SQLite gives AUTOINCREMENT only to a table created with it, so the table is rebuilt the way
-- SQLite documents (https://sqlite.org/lang_altertable.html#otheralter): with foreign keys off
-- (kb.db.migrate does that for a migration whose first line asks), create the new table, copy every
-- row with its id, drop the old one, rename, re-create its indexes and triggers; kb.db.migrate
-- then runs PRAGMA foreign_key_check on it and on every table that refers to it before committing.
--
-- The same file may now be two recordings (no UNIQUE on sha256): a duplicate is detected only among
-- the recordings the uploader can see; a file equal to one hidden from them is stored separately, so
-- an upload answers nothing about recordings they cannot open.
CREATE TABLE recordings_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'document')),
    format       TEXT NOT NULL,
    source_name  TEXT NOT NULL,
    stored_path  TEXT,
    sha256       TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    meister_id   INTEGER REFERENCES meisters(id),
    technique    TEXT,
    tags         TEXT NOT NULL DEFAULT '[]',
    language     TEXT,
    duration     REAL,
    pages        INTEGER,
    transcript_source TEXT,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    error        TEXT,
    visibility   TEXT NOT NULL DEFAULT 'organisation',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    organisation_id INTEGER REFERENCES organisations(id),
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    playback     TEXT,
    done_at      TEXT
);
INSERT INTO recordings_new(id, title, kind, format, source_name, stored_path, sha256, size_bytes, meister_id,
                           technique, tags, language, duration, pages, transcript_source, status, error,
                           visibility, created_at, updated_at, organisation_id, owner_user_id, playback, done_at)
    SELECT id, title, kind, format, source_name, stored_path, sha256, size_bytes, meister_id,
           technique, tags, language, duration, pages, transcript_source, status, error,
           visibility, created_at, updated_at, organisation_id, owner_user_id, playback, done_at
    FROM recordings;
DROP TABLE recordings;
ALTER TABLE recordings_new RENAME TO recordings;
CREATE INDEX recordings_status ON recordings(status);
CREATE INDEX recordings_technique ON recordings(technique);
CREATE INDEX recordings_organisation ON recordings(organisation_id);
CREATE INDEX recordings_done_at ON recordings(done_at);
CREATE INDEX recordings_sha256 ON recordings(sha256);
CREATE TRIGGER recordings_done_at_insert AFTER INSERT ON recordings
    WHEN NEW.status = 'done' AND NEW.done_at IS NULL
BEGIN
    UPDATE recordings SET done_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END;
CREATE TRIGGER recordings_done_at_update AFTER UPDATE OF status ON recordings
    WHEN NEW.status = 'done' AND NEW.done_at IS NULL
BEGIN
    UPDATE recordings SET done_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END;

-- A deleted recording leaves its id here (a tombstone), so its page can say it was deleted instead
-- of "not found", and nothing else: no title, no owner.
CREATE TABLE deleted_recordings (
    id          INTEGER PRIMARY KEY,
    deleted_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TRIGGER recordings_tombstone AFTER DELETE ON recordings
BEGIN
    INSERT OR REPLACE INTO deleted_recordings(id) VALUES (OLD.id);
END;
