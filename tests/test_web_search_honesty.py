"""Search that says when it does not know (issue 13), on the real demo knowledge base through the web app:
no_good_match and strength in /api/v1/search and on the page, no single-kanji noise, curriculum suggestions
and "who can teach this?" behind the same bar, and the recording page's moments, matches and line links.

Labels are taken from the recordings' own data (technique, tags), not from the demo's exact wording, so the
tests hold when the demo is narrated again."""

from __future__ import annotations

import re

import pytest

from kb.curricula_suggest import level_of


@pytest.fixture(scope="module")
def home(demo_home):
    """The demo built by the real pipeline: the relevance bar is calibrated on the real embedders' scores."""
    return demo_home


@pytest.fixture(scope="module")
def recs(app, users) -> list[dict]:
    from helpers.web import session_client

    listed = session_client(app, users["apprentice"][0]).get("/api/v1/recordings").get_json()
    return [r for group in listed["techniques"] for r in group["recordings"]]


def search(client, q):
    r = client.get("/api/v1/search", query_string={"q": q})
    assert r.status_code == 200
    return r.get_json()


@pytest.mark.parametrize("q", ["xyzzy", "確定申告の書き方"])
def test_off_topic_questions_say_no_good_match_and_point_to_people(client, q):
    found = search(client, q)
    assert found["no_good_match"] is True
    assert found["hits"] and all(h["strength"] == "weak" for h in found["hits"])
    page = client.get("/search", query_string={"q": q}, headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert "ぴったりの記録は見つかりませんでした" in page
    assert "/meisters/teach?q=" in page and 'href="/meisters"' in page
    assert '<details class="weak-hits"' in page  # the nearest hits, folded


def test_the_contract_holds_for_an_answered_question(client):
    found = search(client, "旋盤のびびりを抑えるには")
    assert found["no_good_match"] is False
    assert found["hits"][0]["strength"] == "strong"
    for h in found["hits"]:
        assert h["strength"] in ("strong", "weak") and "signals" not in h
        assert all(m["strength"] in ("strong", "weak") for m in h["more"])
    page = client.get("/search", query_string={"q": "旋盤のびびりを抑えるには"}).get_data(as_text=True)
    assert "ぴったりの記録は見つかりませんでした" not in page
    assert re.search(r'href="/r/\d+\?[^"]*q=%E6%97%8B%E7%9B%A4', page), "hit links carry the query"


def test_chatter_question_finds_a_chatter_recording_first_without_single_kanji_hits(client, recs):
    chatter = {r["id"] for r in recs if "びびり" in (r.get("tags") or [])}
    found = search(client, "旋盤でびびりが出る")
    assert found["hits"][0]["recording_id"] in chatter
    for h in found["hits"]:
        marks = re.findall(r"<mark>(.*?)</mark>", h["marked"])
        assert all(len(m) >= 2 for m in marks), (h["title"], marks)


def test_who_can_teach_lists_only_meisters_with_evidence_or_the_speciality(client, recs):
    found = client.get("/api/v1/meisters/teach", query_string={"q": "長い軸を削るとびびる"}).get_json()["meisters"]
    lathe = {r["meister"] for r in recs if "びびり" in (r.get("tags") or [])}
    woodwork = {r["meister"] for r in recs if r.get("technique") == "木工"} - lathe
    assert found and found[0]["name"] in lathe
    assert not woodwork & {t["name"] for t in found}, [t["name"] for t in found]
    with_evidence = [bool(t["evidence"]) for t in found]
    assert with_evidence == sorted(with_evidence, reverse=True), "evidence first, then specialists by profile"


# Goals, and which recordings answer them, by the recordings' own technique and tags.
GOALS = {
    "長い軸をびびりなく削れるようになる": lambda r: "びびり" in r["tags"],
    "ステンレスの薄板をTIG溶接で歪ませずに溶接する": lambda r: r["technique"] == "溶接",
    "研削砥石をドレッシングしてバランスを取る": lambda r: r["technique"] == "研削",
    "鉋の刃の出し方と台直しを覚える": lambda r: r["technique"] == "木工",
    "フライス盤の段取りと芯出しを一人でできる": lambda r: r["technique"] == "フライス",
    "旋盤でおねじを切れるようになる": lambda r: "ねじ" in r["tags"],
}


def test_curriculum_suggestions_are_precise_and_levelled_from_the_recording(as_role):
    client, token = as_role("coordinator")
    r = client.post(
        "/curricula/new", data={"title": "提案の精度", "goal": "", "level": "", "description": "", "csrf_token": token}
    )
    cid = int(re.search(r"/curricula/(\d+)", r.headers["Location"]).group(1))
    proposed = relevant = 0
    seen = []
    for goal, answers in GOALS.items():
        found = client.get(
            f"/curricula/{cid}/suggest", query_string={"goal": goal}, headers={"Accept": "application/json"}
        ).get_json()["suggestions"]
        assert found, goal
        for s in found:
            rec = client.get(f"/api/v1/recordings/{s['recording_id']}").get_json()  # what the coordinator sees
            rec["tags"] = rec.get("tags") or []
            proposed += 1
            relevant += bool(answers(rec))
            seen.append((goal, rec["title"], bool(answers(rec))))
            assert s["level"] == level_of(rec["tags"], rec["title"])  # from the recording, None when unknown
    nothing = client.get(f"/curricula/{cid}/suggest", query_string={"goal": "確定申告の書き方を覚える"})
    page = nothing.get_data(as_text=True)
    assert 'name="key"' not in page and 'data-testid="no-suggestions"' in page
    detail = f"{relevant}/{proposed}: " + "; ".join(f"{g} -> {t} {ok}" for g, t, ok in seen)
    assert relevant / proposed >= 0.8, detail


def test_a_moment_link_highlights_the_line_that_starts_in_that_second(client, recs):
    for rec in recs:
        if rec["kind"] not in ("video", "audio"):
            continue
        segs = client.get(f"/api/v1/recordings/{rec['id']}").get_json()["segments"]
        for prev, line in zip(segs, segs[1:]):
            if int(line["start"]) != line["start"] and int(prev["start"]) < int(line["start"]):
                page = client.get(f"/r/{rec['id']}?t={int(line['start'])}").get_data(as_text=True)
                current = re.search(
                    r'<li class="current[^"]*" aria-current="true"><a href="\?t=\d+" data-start="([^"]+)"', page
                )
                assert current and float(current.group(1)) == line["start"]
                return
    pytest.skip("no timed recording with a line starting inside a second")


def test_a_recording_opened_from_a_search_marks_its_matching_passages(client, recs):
    media = [r for r in recs if r["kind"] in ("video", "audio")]
    if not media:
        pytest.skip("no timed recording in the demo")
    data = client.get(f"/api/v1/recordings/{media[0]['id']}").get_json()
    assert data["moments"] and all({"start", "end", "label"} <= set(m) for m in data["moments"])
    # a question made of the recording's own words
    words = [w for w in re.findall(r"[A-Za-z]{5,}|[\u4e00-\u9fff]{2,}", data["segments"][0]["text"])][:3]
    page = client.get(f"/r/{media[0]['id']}", query_string={"q": " ".join(words)}).get_data(as_text=True)
    assert 'id="chapters"' in page and 'data-testid="match-nav"' in page
    assert 'class="tl-match' in page and re.search(r'<li class="[^"]*\bmatch\b', page)
