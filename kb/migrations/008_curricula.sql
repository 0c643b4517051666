-- Curricula: coordinators build learning paths from recorded moments, assign them to
-- technicians or cohorts, and follow progress up to a meister's sign-off.
--
-- Items keep a snapshot of what they point at (title, kind, times, sha256), and their
-- recording_id becomes NULL when the recording is deleted (ON DELETE SET NULL): the
-- item is then shown flagged ("removed") instead of silently disappearing.

CREATE TABLE curricula (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    goal         TEXT NOT NULL DEFAULT '',
    level        TEXT NOT NULL DEFAULT '' CHECK (level IN ('', 'basic', 'intermediate', 'advanced')),
    description  TEXT NOT NULL DEFAULT '',
    archived     INTEGER NOT NULL DEFAULT 0,
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    copied_from  INTEGER REFERENCES curricula(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE curriculum_sections (
    id             INTEGER PRIMARY KEY,
    curriculum_id  INTEGER NOT NULL REFERENCES curricula(id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    position       INTEGER NOT NULL
);
CREATE INDEX curriculum_sections_curriculum ON curriculum_sections(curriculum_id, position);

-- kind: recording (the whole of it), moment (start..end seconds), passage (a document's page / passage).
CREATE TABLE curriculum_items (
    id             INTEGER PRIMARY KEY,
    curriculum_id  INTEGER NOT NULL REFERENCES curricula(id) ON DELETE CASCADE,
    section_id     INTEGER REFERENCES curriculum_sections(id) ON DELETE SET NULL,
    position       INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('recording', 'moment', 'passage')),
    recording_id   INTEGER REFERENCES recordings(id) ON DELETE SET NULL,
    start          REAL,
    end            REAL,
    page           INTEGER,
    chunk_id       INTEGER,                 -- the passage's chunk when added (chunks are rebuilt: a hint only)
    title          TEXT NOT NULL,           -- snapshot of the recording's title
    recording_kind TEXT,                    -- snapshot: video / audio / document
    technique      TEXT,                    -- snapshot, for the skills matrix by technique
    excerpt        TEXT NOT NULL DEFAULT '',-- snapshot of the passage / moment text
    sha256         TEXT,                    -- snapshot: finds the same file in another knowledge base on import
    note           TEXT NOT NULL DEFAULT '',
    required       INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX curriculum_items_curriculum ON curriculum_items(curriculum_id, position);
CREATE INDEX curriculum_items_recording ON curriculum_items(recording_id);

CREATE TABLE cohorts (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    organisation_id  INTEGER REFERENCES organisations(id),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE cohort_members (
    cohort_id  INTEGER NOT NULL REFERENCES cohorts(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (cohort_id, user_id)
);

-- To one user or to a cohort (exactly one of the two).
CREATE TABLE curriculum_assignments (
    id             INTEGER PRIMARY KEY,
    curriculum_id  INTEGER NOT NULL REFERENCES curricula(id) ON DELETE CASCADE,
    user_id        INTEGER REFERENCES users(id) ON DELETE CASCADE,
    cohort_id      INTEGER REFERENCES cohorts(id) ON DELETE CASCADE,
    due_date       TEXT,                    -- YYYY-MM-DD
    assigned_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    CHECK ((user_id IS NULL) <> (cohort_id IS NULL))
);
CREATE UNIQUE INDEX curriculum_assignments_user ON curriculum_assignments(curriculum_id, user_id)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX curriculum_assignments_cohort ON curriculum_assignments(curriculum_id, cohort_id)
    WHERE cohort_id IS NOT NULL;

-- What the technician's browser reports.  event_id is made by the client (a UUID) and is
-- UNIQUE: an event sent again after a lost connection is counted once.
CREATE TABLE progress_events (
    id           INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item_id      INTEGER NOT NULL REFERENCES curriculum_items(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('watched', 'done', 'undone')),
    fraction     REAL,                      -- for watched: how much of the moment was played
    received_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now'))
);
CREATE INDEX progress_events_user_item ON progress_events(user_id, item_id);

-- A meister's or coordinator's practical check of one item for one technician.
CREATE TABLE curriculum_signoffs (
    id              INTEGER PRIMARY KEY,
    item_id         INTEGER NOT NULL REFERENCES curriculum_items(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    signed_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    signed_by_name  TEXT NOT NULL,          -- kept when the signer's account goes
    comment         TEXT NOT NULL DEFAULT '',
    signed_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (item_id, user_id)
);
