-- The programme's people and figures: meister profiles (registry), coaching sessions
-- (指導実績), when a technician left, when a recording first reached 'done', and the
-- targets the yearly figures are compared with.  See kb.meisters, kb.coaching, kb.programme.

-- Meister profile.  registered_on is the day the meister joined the programme (local date);
-- rows made before this migration, or made on the fly from a recording's meister name,
-- get the day their row was created.
ALTER TABLE meisters ADD COLUMN registered_on TEXT;          -- YYYY-MM-DD
ALTER TABLE meisters ADD COLUMN years_experience INTEGER;
ALTER TABLE meisters ADD COLUMN availability TEXT NOT NULL DEFAULT '';
UPDATE meisters SET registered_on = date(created_at, '+9 hours') WHERE registered_on IS NULL;
CREATE TRIGGER meisters_registered_on AFTER INSERT ON meisters WHEN NEW.registered_on IS NULL
BEGIN
    UPDATE meisters SET registered_on = date(NEW.created_at, '+9 hours') WHERE id = NEW.id;
END;

-- A meister may work with more than one organisation.
CREATE TABLE meister_organisations (
    meister_id       INTEGER NOT NULL REFERENCES meisters(id) ON DELETE CASCADE,
    organisation_id  INTEGER NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    PRIMARY KEY (meister_id, organisation_id)
);
CREATE INDEX meister_organisations_organisation ON meister_organisations(organisation_id);

-- Specialities: technique categories (kind 'category', the same words as recordings.technique)
-- and free tags (kind 'tag').  A table, not JSON, so "who can teach this" is one query.
CREATE TABLE meister_specialities (
    meister_id  INTEGER NOT NULL REFERENCES meisters(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('category', 'tag')),
    value       TEXT NOT NULL,
    PRIMARY KEY (meister_id, kind, value)
);
CREATE INDEX meister_specialities_value ON meister_specialities(value);

-- e.g. 技能検定1級 (name) in 機械加工 (trade).
CREATE TABLE meister_certifications (
    id          INTEGER PRIMARY KEY,
    meister_id  INTEGER NOT NULL REFERENCES meisters(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    trade       TEXT NOT NULL DEFAULT '',
    obtained_on TEXT                          -- YYYY-MM-DD, when known
);
CREATE INDEX meister_certifications_meister ON meister_certifications(meister_id);

-- Areas a meister can visit (prefecture, city, district: free text).
CREATE TABLE meister_areas (
    meister_id  INTEGER NOT NULL REFERENCES meisters(id) ON DELETE CASCADE,
    area        TEXT NOT NULL,
    PRIMARY KEY (meister_id, area)
);

-- Coaching sessions.  A meister logs their own (unconfirmed until a coordinator confirms);
-- a coordinator's entry is confirmed by them at once.  *_name columns keep who it was when
-- the account goes.  Only confirmed sessions count in the programme figures.
CREATE TABLE coaching_sessions (
    id                 INTEGER PRIMARY KEY,
    held_on            TEXT NOT NULL,          -- YYYY-MM-DD (local date)
    meister_id         INTEGER NOT NULL REFERENCES meisters(id),
    organisation_id    INTEGER NOT NULL REFERENCES organisations(id),
    technique          TEXT NOT NULL DEFAULT '',
    hours              REAL NOT NULL CHECK (hours > 0 AND hours <= 24),
    notes              TEXT NOT NULL DEFAULT '',
    logged_by          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    logged_by_name     TEXT NOT NULL,
    logged_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    confirmed_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    confirmed_by_name  TEXT,
    confirmed_at       TEXT,
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX coaching_sessions_held_on ON coaching_sessions(held_on);
CREATE INDEX coaching_sessions_meister ON coaching_sessions(meister_id);
CREATE INDEX coaching_sessions_organisation ON coaching_sessions(organisation_id);

CREATE TABLE coaching_technicians (
    session_id  INTEGER NOT NULL REFERENCES coaching_sessions(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX coaching_technicians_user ON coaching_technicians(user_id);

-- What the session covered: recordings and/or curriculum items.
CREATE TABLE coaching_recordings (
    session_id    INTEGER NOT NULL REFERENCES coaching_sessions(id) ON DELETE CASCADE,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, recording_id)
);
CREATE TABLE coaching_items (
    session_id  INTEGER NOT NULL REFERENCES coaching_sessions(id) ON DELETE CASCADE,
    item_id     INTEGER NOT NULL REFERENCES curriculum_items(id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, item_id)
);

-- A technician who left the programme (recorded by a coordinator), for apprentice retention.
ALTER TABLE users ADD COLUMN left_on TEXT;             -- YYYY-MM-DD
ALTER TABLE users ADD COLUMN left_note TEXT NOT NULL DEFAULT '';

-- When a recording first reached 'done' (UTC, like the other timestamps).  updated_at moves
-- on every metadata edit and jobs.finished_at on every re-processing, so neither says when the
-- technique record was created; the triggers keep the first time.  Existing recordings take
-- their first finished 'done' job, else their creation time.
ALTER TABLE recordings ADD COLUMN done_at TEXT;
UPDATE recordings SET done_at = COALESCE(
        (SELECT MIN(j.finished_at) FROM jobs j WHERE j.recording_id = recordings.id AND j.stage = 'done'),
        created_at)
 WHERE status = 'done';
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
CREATE INDEX recordings_done_at ON recordings(done_at);

-- Targets an admin edits: a row with fiscal_year NULL is the default for every year,
-- a row with a year overrides it for that year.
CREATE TABLE programme_targets (
    name         TEXT NOT NULL,
    fiscal_year  INTEGER,
    value        REAL NOT NULL
);
CREATE UNIQUE INDEX programme_targets_key ON programme_targets(name, COALESCE(fiscal_year, -1));
INSERT INTO programme_targets(name, fiscal_year, value) VALUES
    ('technique_records', NULL, 100),
    ('meisters_registered', NULL, 200),
    ('completion_rate', NULL, 80),
    ('retention_rate', NULL, 85);
