"""The glossary per organisation (kb/glossary.py), its migration, and the `kb glossary` commands."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kb import glossary
from kb.errors import InputError, NotFound


@pytest.fixture
def db(tmp_path):
    from kb.db import connect, migrate

    conn = connect(tmp_path / "kb.sqlite3")
    migrate(conn)
    conn.execute("INSERT INTO organisations(id, name) VALUES (2, '第二工場')")
    conn.commit()
    yield conn
    conn.close()


def test_terms_belong_to_an_organisation(db):
    a = glossary.add(db, "心押し台", "しんおしだい", ["テールストック", "tailstock"])
    b = glossary.add(db, "心押し台", None, ["センター"], organisation_id=2)
    glossary.add(db, "バイト", organisation_id=2)
    assert a != b
    assert [t["term"] for t in glossary.list_terms(db, 1)] == ["心押し台"]
    assert [t["term"] for t in glossary.list_terms(db, 2)] == ["心押し台", "バイト"]
    assert glossary.list_terms(db, 1)[0]["synonyms"] == ["テールストック", "tailstock"]
    assert len(glossary.list_terms(db)) == 3
    assert glossary.hotwords_for(db, 1) == ["心押し台"]
    assert glossary.hotwords_for(db, 2) == ["心押し台", "バイト"]
    assert glossary.hotwords_for(db, None) == ["心押し台"]  # a recording without organisation: organisation 1


def test_adding_a_term_again_updates_it(db):
    first = glossary.add(db, "段取り", "だんどり")
    again = glossary.add(db, " 段取り ", "だんどり", "セットアップ、setup, setup")
    assert first == again
    (term,) = glossary.list_terms(db, 1)
    assert term["synonyms"] == ["セットアップ", "setup"] and term["reading"] == "だんどり"


@pytest.mark.parametrize(
    "term, reading, synonyms, org, message",
    [
        ("  ", None, (), None, "the term is empty"),
        ("あ" * 101, None, (), None, "longer than 100"),
        ("旋盤", "x" * 101, (), None, "reading is longer"),
        ("旋盤", None, [f"s{i}" for i in range(21)], None, "at most 20 synonyms"),
        ("旋盤", None, (), 99, "no organisation with id 99"),
    ],
)
def test_bad_terms_are_refused_clearly(db, term, reading, synonyms, org, message):
    with pytest.raises(InputError, match=message):
        glossary.add(db, term, reading, synonyms, organisation_id=org)
    assert glossary.list_terms(db) == []


def test_text_is_cleaned(db):
    glossary.add(db, "ﾊﾞｲﾄ\x00\n刃", "ばいと", ["心押し台", "ﾊﾞｲﾄ\x00\n刃"])
    (term,) = glossary.list_terms(db)
    # NFC (not NFKC: the workshop's own spelling stays), control characters gone, the term is no synonym of itself
    assert term["term"] == "ﾊﾞｲﾄ 刃" and term["synonyms"] == ["心押し台"]


def test_update_and_remove(db):
    tid = glossary.add(db, "心押し台", None, ["テールストック"])
    other = glossary.add(db, "バイト")
    glossary.update(db, tid, "心押台", "しんおしだい", "テールストック, tailstock")
    assert glossary.get(db, tid)["term"] == "心押台" and glossary.get(db, tid)["synonyms"] == [
        "テールストック",
        "tailstock",
    ]
    with pytest.raises(InputError, match="already has the term"):
        glossary.update(db, tid, "バイト", None, ())
    assert glossary.remove_id(db, other)
    assert not glossary.remove(db, "心押台", organisation_id=2)
    assert glossary.remove(db, "心押台")
    with pytest.raises(NotFound):
        glossary.get(db, tid)


def test_synonym_groups_join_organisations_and_map_every_name(db):
    glossary.add(db, "心押し台", "しんおしだい", ["テールストック"])
    glossary.add(db, "心押し台", None, ["tailstock"], organisation_id=2)
    glossary.add(db, "段取り")  # no other names: no group
    assert glossary.synonym_groups(db) == [["心押し台", "しんおしだい", "テールストック", "tailstock"]]
    mapping = glossary.synonym_map(db)
    assert mapping["tailstock"] == ["心押し台", "しんおしだい", "テールストック"]
    assert mapping["心押し台"] == ["しんおしだい", "テールストック", "tailstock"]
    assert "段取り" not in mapping


def test_migration_moves_existing_terms_into_organisation_one(tmp_path):
    from kb.db import _migrations, connect, migrate

    conn = connect(tmp_path / "old.sqlite3")
    for number, _, sql in _migrations():  # a database as it was before this change
        if number < 6:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.execute(
        "INSERT INTO glossary(term, reading, synonyms) VALUES ('心押し台', 'しんおしだい', '[\"テールストック\"]')"
    )
    conn.execute("INSERT INTO glossary(term) VALUES ('バイト')")
    conn.commit()
    assert "006_transcripts.sql" in migrate(conn)
    assert [(t["organisation_id"], t["term"], t["synonyms"]) for t in glossary.list_terms(conn)] == [
        (1, "心押し台", ["テールストック"]),
        (1, "バイト", []),
    ]
    conn.execute("INSERT INTO organisations(id, name) VALUES (2, 'B')")
    conn.execute("INSERT INTO glossary(organisation_id, term) VALUES (2, 'バイト')")  # same term, other organisation
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO glossary(organisation_id, term) VALUES (2, 'バイト')")
    conn.close()


def test_cli_glossary_commands_take_an_organisation(tmp_path):
    from cli.main import cli

    home = str(tmp_path / "kb")
    runner = CliRunner()

    def kb(*args):
        return runner.invoke(cli, ["--home", home, *args], catch_exceptions=False)

    assert kb("init").exit_code == 0
    r = kb("glossary", "add", "心押し台", "--reading", "しんおしだい", "--synonyms", "テールストック,tailstock")
    assert r.exit_code == 0 and "added 心押し台" in r.output
    from kb.db import connect

    conn = connect(tmp_path / "kb" / "kb.sqlite3")
    conn.execute("INSERT INTO organisations(id, name) VALUES (2, '第二工場')")
    conn.commit()
    conn.close()
    assert kb("glossary", "add", "バイト", "--org", "第二工場").exit_code == 0
    r = kb("glossary", "list")
    assert r.output.splitlines() == ["[本社] 心押し台  (しんおしだい / テールストック, tailstock)", "[第二工場] バイト"]
    assert kb("glossary", "list", "--org", "2").output.splitlines() == ["バイト"]
    r = kb("glossary", "add", "x", "--org", "どこか")
    assert r.exit_code == 1 and "no organisation 'どこか'" in r.output
    r = kb("glossary", "remove", "バイト")
    assert r.exit_code == 1 and "no glossary term" in r.output  # it is in organisation 2, not 1
    assert kb("glossary", "remove", "バイト", "--org", "第二工場").exit_code == 0
    assert kb("glossary", "list").output.splitlines() == ["心押し台  (しんおしだい / テールストック, tailstock)"]


def test_hotwords_put_the_recordings_technique_and_tags_first(db):
    """A large glossary does not fit Whisper's prompt: the terms this recording likely says come first."""
    for term, reading, synonyms in [
        ("段取り", "だんどり", ()),
        ("バイト", None, ()),
        ("溶接", "ようせつ", ("TIG",)),
        ("ひずみ", None, ()),
        ("旋盤", "せんばん", ("lathe",)),
        ("心押し台", None, ()),
    ]:
        glossary.add(db, term, reading, synonyms)
    plain = glossary.hotwords_for(db, 1)
    assert plain == ["段取り", "バイト", "溶接", "ひずみ", "旋盤", "心押し台"]  # no context: as added
    ranked = glossary.hotwords_for(db, 1, technique="溶接", tags=["ひずみ取り"], title="旋盤の話")
    assert ranked[:3] == ["溶接", "ひずみ", "旋盤"] and sorted(ranked) == sorted(plain)
    assert glossary.hotwords_for(db, 1, technique="TIG溶接")[0] == "溶接"  # matched on a synonym too
    assert glossary.hotwords_for(db, 1, technique="Lathe")[0] == "旋盤"
    assert all("（" not in t for t in ranked)  # terms only: readings in the prompt made Whisper copy them
