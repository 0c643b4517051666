"""Access rules of the studio (web/views/studio.py) and the upload API (web/views/api_studio.py).

The studio is for meisters and above: an apprentice gets 403 on every studio
address, whatever the recording (the same answer for all ids, so it tells
nothing about which exist).  For meisters and above the per-recording routes
follow EDIT: its meister, coordinators and admins may change it, someone who
may only see it gets 403, and a recording they may not see is 404 like a
missing id.
"""

from access_rules import EACH, EDIT, LOGIN, RANK, ROLE, VIEW, Rule, _Fn


def STUDIO(ok: int = 200):
    """Anonymous: LOGIN; apprentices: 403 for every id; meisters and above: EDIT(ok)."""
    edit = EDIT(ok)

    def fn(p, t):
        if p == "anonymous":
            return LOGIN
        if RANK[p] < RANK["meister"]:
            return 403
        return edit.status(p, t)

    return _Fn(fn, f"STUDIO({ok})")


RULES = [
    # -- the studio list, its live states, uploading
    Rule("studio.studio", "GET", "/studio", ROLE("meister")),
    Rule("studio.studio", "GET", "/studio", ROLE("meister"), headers={"Accept": "application/json"}),
    Rule(
        "studio.states",
        "GET",
        "/studio/states",
        EACH(anonymous=401, apprentice=403, other=403, default=200),
        headers={"HX-Request": "true"},
        note="htmx polling: anonymous gets 401 with HX-Redirect, see test_auth",
    ),
    Rule(
        "studio.upload",
        "POST",
        "/studio/upload",
        ROLE("meister", 400),
        data={"title": "題 {unique}"},
        note="no file sent: 400 'choose at least one file' (uploads themselves: test_web_studio.py)",
    ),
    # -- one recording: only those who may change it
    Rule("studio.edit", "GET", "/studio/r/{rec}/edit", STUDIO(200)),
    Rule(
        "studio.edit",
        "POST",
        "/studio/r/{rec}/edit",
        STUDIO(303),
        fresh=True,
        data={"title": "直した題 {unique}", "technique": "旋盤", "tags": "段取り", "visibility": "private"},
    ),
    Rule(
        "studio.retry",
        "POST",
        "/studio/r/{rec}/retry",
        STUDIO(409),
        note="none of the targets failed, so there is nothing to try again: 409 for those who may",
    ),
    Rule(
        "studio.reprocess",
        "POST",
        "/studio/r/{rec}/reprocess",
        STUDIO(400),
        data={"language": "xx"},
        note="a language not offered: 400 for those who may (re-processing itself: test_web_speech_check.py)",
    ),
    Rule(
        "studio.replace",
        "POST",
        "/studio/r/{rec}/replace",
        STUDIO(400),
        note="no file sent: 400 (replacing with a file: test_web_studio.py)",
    ),
    Rule("studio.delete", "GET", "/studio/r/{rec}/delete", STUDIO(200)),
    Rule("studio.delete", "POST", "/studio/r/{rec}/delete", STUDIO(303), fresh=True, data={"confirm": "yes"}),
    # -- the upload API: 401 without a token or session, 403 for apprentices
    Rule(
        "api_studio.upload",
        "POST",
        "/api/v1/recordings",
        ROLE("meister", 400),
        data={"title": "題 {unique}"},
        note="no file sent: 400 (uploads with a token: test_api_upload.py)",
    ),
    Rule("api_studio.job", "GET", "/api/v1/recordings/{rec}/job", VIEW(200)),
    Rule("api_studio.retry", "POST", "/api/v1/recordings/{rec}/retry", STUDIO(409)),
]
