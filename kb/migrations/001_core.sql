-- Core data model: recordings, their transcript segments, the chunks that
-- search works on (each with its embedding), processing jobs, glossary.
-- SQLite is the source of truth; the FAISS index is a cache of chunks.embedding.

CREATE TABLE meisters (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE recordings (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'document')),
    format       TEXT NOT NULL,            -- file extension without the dot: mp4, flac, pdf ...
    source_name  TEXT NOT NULL,            -- the original file name, Japanese included, as metadata only
    stored_path  TEXT,                     -- where the original lies, relative to KB_HOME
    sha256       TEXT NOT NULL UNIQUE,
    size_bytes   INTEGER NOT NULL,
    meister_id   INTEGER REFERENCES meisters(id),
    technique    TEXT,
    tags         TEXT NOT NULL DEFAULT '[]',   -- JSON list
    language     TEXT,                     -- ja / en / ... as given or detected
    duration     REAL,                     -- seconds, for media
    pages        INTEGER,                  -- for documents
    transcript_source TEXT,                -- asr:<engine>/<model>, subtitles, text
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    error        TEXT,
    visibility   TEXT NOT NULL DEFAULT 'organisation',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX recordings_status ON recordings(status);
CREATE INDEX recordings_technique ON recordings(technique);

-- Timed transcript lines (media) or text blocks with their page (documents).
CREATE TABLE segments (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    start         REAL,
    end           REAL,
    page          INTEGER,
    text          TEXT NOT NULL,
    words         TEXT,                    -- JSON [[word, start, end], ...] when the recogniser gave them
    speaker       TEXT,
    UNIQUE (recording_id, idx)
);

-- The unit of search: a 20-60 s moment or a document passage.
CREATE TABLE chunks (
    id             INTEGER PRIMARY KEY,    -- also the FAISS id
    recording_id   INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    idx            INTEGER NOT NULL,
    text           TEXT NOT NULL,
    start          REAL,
    end            REAL,
    page           INTEGER,
    embedding      BLOB,                   -- float32 little-endian, L2-normalised
    embed_fingerprint TEXT,
    UNIQUE (recording_id, idx)
);
CREATE INDEX chunks_recording ON chunks(recording_id);

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER REFERENCES recordings(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL DEFAULT 'ingest',
    stage         TEXT NOT NULL DEFAULT 'queued'
                  CHECK (stage IN ('queued', 'extracting', 'transcribing', 'embedding', 'indexing', 'done', 'failed')),
    progress      REAL NOT NULL DEFAULT 0,
    message       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX jobs_stage ON jobs(stage);

-- Technical terms, passed to Whisper as hotwords and (later) used to expand searches.
CREATE TABLE glossary (
    id        INTEGER PRIMARY KEY,
    term      TEXT NOT NULL UNIQUE,
    reading   TEXT,
    synonyms  TEXT NOT NULL DEFAULT '[]'   -- JSON list
);

-- Small key/value state: the index generation counter and the like.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES ('generation', '0');
