"""Access rules of the transcript editor (web/views/transcripts.py) and the glossary (web/views/glossary.py).

The editor, its history and old versions are for those who may change the
recording (its meister, coordinators, admins): someone who may only see it
gets 403, someone who may not see it 404 like a missing id.  While a recording
is still being processed its transcript cannot be edited (409 for those who
may change it).  The glossary: everyone logged in reads their organisation's;
meisters and above change it; another organisation's term is 404 except for
coordinators and admins, who run the whole programme.
"""

from access_rules import EACH, EDIT, LOGGED_IN, LOGIN, ROLE, Rule


def _term(organisation_id: int):
    def values(ctx):
        from kb import glossary

        return {"term": glossary.add(ctx.conn, f"用語{ctx.unique}", None, ["別名"], organisation_id=organisation_id)}

    return values


RULES = [
    # -- the editor and saving (a whole new transcript of one line; fresh copies, so nothing carries over)
    Rule("transcripts.editor", "GET", "/r/{rec}/transcript/edit", EDIT(200, pending=409)),
    Rule(
        "transcripts.editor",
        "GET",
        "/r/{rec}/transcript/edit",
        EDIT(200, pending=409),
        headers={"Accept": "application/json"},
    ),
    Rule(
        "transcripts.save",
        "POST",
        "/r/{rec}/transcript",
        EDIT(303, pending=409),
        fresh=True,
        data={"base_version": "1", "idx": "", "start": "0", "end": "1.5", "speaker": "", "text": "新しい文 {unique}"},
    ),
    Rule(
        "transcripts.save",
        "POST",
        "/r/{rec}/transcript",
        EDIT(200, pending=409),
        fresh=True,
        headers={"Accept": "application/json"},
        json={"base_version": 1, "lines": [{"start": 0, "end": 1.5, "text": "JSONで直した文"}]},
    ),
    Rule(
        "transcripts.save",
        "POST",
        "/r/{rec}/transcript",
        EDIT(409),
        fresh=True,
        data={"base_version": "7", "start": "0", "end": "1.5", "text": "古い版からの修正"},
        note="based on a version that is not the current one: 409 and nothing changes",
    ),
    # -- history, old versions, restoring (version 1 of an unedited copy is the current one)
    Rule("transcripts.history", "GET", "/r/{rec}/transcript/history", EDIT(200)),
    Rule("transcripts.version", "GET", "/r/{rec}/transcript/versions/1", EDIT(200)),
    Rule(
        "transcripts.version",
        "GET",
        "/r/{rec}/transcript/versions/5",
        EDIT(404),
        note="no such version: 404 for those who may change the recording (403/404 before that)",
    ),
    Rule(
        "transcripts.restore",
        "POST",
        "/r/{rec}/transcript/versions/1/restore",
        EDIT(303, pending=409),
        fresh=True,
        data={"base_version": "1"},
    ),
    # -- the glossary
    Rule("glossary.index", "GET", "/glossary", LOGGED_IN(200)),
    Rule("glossary.index", "GET", "/glossary?org=2", LOGGED_IN(200), headers={"Accept": "application/json"}),
    Rule("glossary.add", "POST", "/glossary", ROLE("meister", 303), data={"term": "用語{unique}", "synonyms": "別名"}),
    Rule(
        "glossary.update",
        "POST",
        "/glossary/{term}",
        EACH(anonymous=LOGIN, apprentice=403, other=404, default=303),
        values=_term(1),
        data={"term": "直した用語{unique}", "reading": "", "synonyms": "別名"},
    ),
    Rule(
        "glossary.update",
        "POST",
        "/glossary/{term}",
        EACH(anonymous=LOGIN, apprentice=404, meister=404, other=403, default=303),
        values=_term(2),
        data={"term": "直した用語{unique}", "reading": "", "synonyms": ""},
        note="第二工場's term: hidden from 本社's apprentice and meister, read-only for 第二工場's apprentice",
    ),
    Rule(
        "glossary.delete",
        "POST",
        "/glossary/{term}/delete",
        EACH(anonymous=LOGIN, apprentice=403, other=404, default=303),
        values=_term(1),
    ),
    Rule("glossary.delete", "POST", "/glossary/999999/delete", EACH(anonymous=LOGIN, default=404)),
]
