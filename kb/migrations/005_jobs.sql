-- Background processing: a job queue in SQLite that survives crashes.
--
-- A job is claimed by one worker at a time (claimed_by, with the claiming
-- process's pid and host) and kept alive by a heartbeat; a claim whose
-- heartbeat is older than the lease, or whose process is gone, is taken over.
-- completed_stage is the last stage whose results are saved (the checkpoint):
-- an interrupted job is redone from the stage after it.  payload holds what
-- the submitter asked for (language, hotwords, how to name the file in
-- messages).  not_before delays a retry after a passing error.

ALTER TABLE jobs ADD COLUMN payload TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN completed_stage TEXT
    CHECK (completed_stage IS NULL OR completed_stage IN ('extracting', 'transcribing', 'embedding', 'indexing'));
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE jobs ADD COLUMN claimed_pid INTEGER;
ALTER TABLE jobs ADD COLUMN claimed_host TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_at REAL;          -- unix seconds
ALTER TABLE jobs ADD COLUMN not_before REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN started_at TEXT;
ALTER TABLE jobs ADD COLUMN finished_at TEXT;

-- Jobs left half-done by the inline pipeline of earlier versions cannot be
-- resumed (they have no checkpoint): they fail with a reason, and can be retried.
UPDATE jobs SET stage = 'failed', message = 'interrupted (by an earlier version); retry to process it again',
                error = 'interrupted (by an earlier version); retry to process it again'
 WHERE stage NOT IN ('done', 'failed');
UPDATE recordings SET status = 'failed', error = 'interrupted (by an earlier version); retry to process it again'
 WHERE status IN ('pending', 'processing');

CREATE INDEX jobs_recording ON jobs(recording_id);
-- At most one unfinished job per recording.
CREATE UNIQUE INDEX jobs_one_active ON jobs(recording_id) WHERE stage NOT IN ('done', 'failed');

-- How the browser plays a video/audio recording: 'original' (as it is),
-- 'copy' (the H.264/AAC copy at media/<id>/web.mp4), 'none' (no playable form),
-- NULL (not decided yet, or recorded by an earlier version: decided by format).
ALTER TABLE recordings ADD COLUMN playback TEXT;
