-- 後で見る: moments a person keeps to watch or read later (a recording at a time, a document at a
-- passage, or a whole recording).  ``place`` is the position as one comparable text ("t:83.5",
-- "c:412", "r"), so saving the same moment twice keeps one row.  A deleted user or recording takes
-- its saved moments with it.
CREATE TABLE saved_moments (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    place         TEXT NOT NULL,
    start         REAL,
    chunk_id      INTEGER,
    page          INTEGER,
    label         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (user_id, recording_id, place)
);
CREATE INDEX saved_moments_user ON saved_moments(user_id, id);
