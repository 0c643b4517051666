-- Transcription workers on other machines (ingest/remote_worker.py) authenticate with
-- a worker token: a token of its own kind, not a person's API token, so it opens only
-- the worker endpoints (/api/v1/worker/...: a job's original, its heartbeat, its
-- result) and nothing a person may see, and a person's token opens none of those.
-- Only the sha256 is stored, as for API tokens.

CREATE TABLE worker_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,               -- first characters, to tell tokens apart
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    last_used_at  TEXT,
    revoked_at    TEXT
);
