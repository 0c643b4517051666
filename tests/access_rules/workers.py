"""The worker API (web/views/api_worker.py): only worker tokens open it -- no login, no person's token, any role.

tests/test_remote_results.py checks that a worker token opens these (and nothing a person uses)."""

from access_rules import EACH, Rule

NOTE = "transcription workers only (a worker token); a person's login or token gets 401 whatever the role"
RULES = [
    Rule(
        "api_worker.start", "POST", "/api/v1/worker/jobs/1/start", EACH(default=401), json={"attempt": "x"}, note=NOTE
    ),
    Rule("api_worker.original", "GET", "/api/v1/worker/jobs/1/original?attempt=x", EACH(default=401), note=NOTE),
    Rule(
        "api_worker.heartbeat",
        "POST",
        "/api/v1/worker/jobs/1/heartbeat",
        EACH(default=401),
        json={"attempt": "x"},
        note=NOTE,
    ),
    Rule(
        "api_worker.result", "POST", "/api/v1/worker/jobs/1/result", EACH(default=401), json={"attempt": "x"}, note=NOTE
    ),
    Rule(
        "api_worker.failed", "POST", "/api/v1/worker/jobs/1/failed", EACH(default=401), json={"attempt": "x"}, note=NOTE
    ),
]
