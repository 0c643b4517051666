-- Accounts and ownership: organisations (factories / 事業所), users with one role,
-- login sessions, API tokens, login attempts (for rate limiting), and which
-- organisation and user each recording belongs to.  Existing recordings move
-- into organisation 1, the one `kb init` creates.

CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO organisations(id, name) VALUES (1, '本社');

CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    organisation_id  INTEGER NOT NULL REFERENCES organisations(id),
    login            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name     TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('apprentice', 'meister', 'coordinator', 'admin')),
    password_hash    TEXT NOT NULL,            -- argon2id
    meister_id       INTEGER REFERENCES meisters(id),   -- the meister row a meister user records as
    disabled         INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    password_changed_at  TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX users_organisation ON users(organisation_id);

-- Browser sessions: the cookie holds a random token, the table only its sha256.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,            -- sha256 hex of the cookie token
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at    REAL NOT NULL,               -- unix seconds
    last_seen_at  REAL NOT NULL,
    expires_at    REAL NOT NULL,
    address       TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Per-user API tokens (Authorization: Bearer ...): only the sha256 is stored.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,               -- first characters, shown so a user can tell tokens apart
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE login_attempts (
    id       INTEGER PRIMARY KEY,
    login    TEXT,
    address  TEXT,
    at       REAL NOT NULL,                    -- unix seconds
    ok       INTEGER NOT NULL
);
CREATE INDEX login_attempts_login ON login_attempts(login, at);
CREATE INDEX login_attempts_address ON login_attempts(address, at);

-- Ownership of recordings.  visibility: private (its meister and coordinators),
-- organisation (everyone in the same organisation), shared (every user of the programme).
ALTER TABLE recordings ADD COLUMN organisation_id INTEGER REFERENCES organisations(id);
ALTER TABLE recordings ADD COLUMN owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
UPDATE recordings SET organisation_id = 1 WHERE organisation_id IS NULL;
CREATE INDEX recordings_organisation ON recordings(organisation_id);
