"""Issue 14, items 11 and 12 on a real SQLite database: who may grant which role and organisation
(kb.people), the CSV import (kb.users_import: UTF-8 with and without BOM, Shift_JIS, bad rows,
bounds), moments kept for later (kb.saved) and what waits for each role (kb.waiting)."""

from __future__ import annotations

import codecs
from datetime import date

import pytest

from kb import people, saved, users, users_import, waiting
from kb.errors import InputError, NotFound


@pytest.fixture
def db(hash_config):
    from kb.home import init_home

    conn = init_home(hash_config)
    users.create_organisation(conn, "第二工場")
    closed = users.create_organisation(conn, "閉鎖工場")
    conn.execute("UPDATE organisations SET disabled = 1 WHERE id = ?", (closed,))
    conn.commit()
    yield conn
    conn.close()


def _user(db, login, role, org=1, meister=None):
    return users.get_account(
        db, users.create_user(db, login, "long enough pw", role, organisation_id=org, meister=meister)
    )


@pytest.fixture
def staff(db):
    return {
        "admin": _user(db, "boss", "admin"),
        "coordinator": _user(db, "coord", "coordinator"),
        "meister": _user(db, "tanaka", "meister", meister="田中 一郎"),
        "apprentice": _user(db, "kobayashi", "apprentice"),
    }


# ---------------------------------------------------------------- who may grant what


@pytest.mark.parametrize(
    "actor,target,role,org,refusal",
    [
        ("coordinator", "apprentice", "meister", 1, None),
        ("coordinator", "apprentice", "apprentice", 2, None),  # coordinators run every open organisation
        ("coordinator", "apprentice", "coordinator", 1, "role_not_allowed"),
        ("coordinator", "apprentice", "admin", 1, "role_not_allowed"),
        ("coordinator", "admin", "admin", 1, "target_not_manageable"),
        ("coordinator", "coordinator", "coordinator", 1, "target_not_manageable"),  # not even themselves
        ("coordinator", "apprentice", "apprentice", 3, "organisation_disabled"),
        ("coordinator", "apprentice", "apprentice", 99, "organisation_unknown"),
        ("coordinator", "apprentice", "boss", 1, "role_unknown"),
        ("admin", "apprentice", "coordinator", 1, None),
        ("admin", "coordinator", "admin", 2, None),
        ("admin", "admin", "apprentice", 1, "own_role"),
        ("meister", "apprentice", "apprentice", 1, "not_manager"),
        ("apprentice", "apprentice", "meister", 1, "not_manager"),
    ],
)
def test_grant_rules(db, staff, actor, target, role, org, refusal):
    who, whom = staff[actor], staff[target]
    before = users.get_account(db, whom.id)
    if refusal is None:
        people.update_user(db, who.viewer, whom.id, display_name=whom.display_name, role=role, organisation=org)
        after = users.get_account(db, whom.id)
        assert (after.role, after.organisation_id) == (role, org)
    else:
        with pytest.raises(people.GrantRefused) as e:
            people.update_user(db, who.viewer, whom.id, display_name="別の名前", role=role, organisation=org)
        assert e.value.code == refusal
        assert e.value.forbidden == (refusal in ("not_manager", "target_not_manageable", "role_not_allowed"))
        assert users.get_account(db, whom.id) == before  # nothing changed


def test_the_last_admin_stays_an_admin(db, staff):
    """An admin cannot demote themselves (own_role); from the machine (SYSTEM) the last admin stays."""
    from kb.access import SYSTEM

    other = _user(db, "boss2", "admin")
    people.update_user(db, other.viewer, staff["admin"].id, display_name="元管理者", role="coordinator", organisation=1)
    with pytest.raises(people.GrantRefused) as e:
        people.update_user(db, SYSTEM, other.id, display_name="x", role="apprentice", organisation=1)
    assert e.value.code == "last_admin_role" and users.get_account(db, other.id).role == "admin"
    people.update_user(db, SYSTEM, staff["admin"].id, display_name="管理者", role="admin", organisation=1)
    people.update_user(db, SYSTEM, other.id, display_name="x", role="apprentice", organisation=1)


def test_staying_in_a_closed_organisation_is_no_move(db, staff):
    closed_member = _user(db, "sato", "apprentice")
    db.execute("UPDATE users SET organisation_id = 3 WHERE id = ?", (closed_member.id,))
    db.commit()
    changed = people.update_user(
        db, staff["coordinator"].viewer, closed_member.id, display_name="佐藤 花子", role="apprentice", organisation=3
    )
    assert changed == ["display_name"]


def test_a_meister_is_linked_to_a_meister_name_and_an_apprentice_to_none(db, staff):
    coordinator = staff["coordinator"].viewer
    a = staff["apprentice"]
    changed = people.update_user(db, coordinator, a.id, display_name="小林 翔", role="meister", organisation=1)
    assert set(changed) == {"display_name", "role", "meister"}
    now = users.get_account(db, a.id)
    assert now.meister == "小林 翔" and now.viewer.meister_id is not None
    people.update_user(
        db, coordinator, a.id, display_name="小林 翔", role="meister", organisation=1, meister="小林 (旋盤)"
    )
    assert users.get_account(db, a.id).meister == "小林 (旋盤)"
    people.update_user(db, coordinator, a.id, display_name="小林 翔", role="apprentice", organisation=1)
    back = users.get_account(db, a.id)
    assert back.meister_id is None and back.viewer.meister_id is None  # no longer sees that meister's private work
    with pytest.raises(users.AccountInputError) as e:
        people.update_user(db, coordinator, a.id, display_name="  ", role="apprentice", organisation=1)
    assert e.value.code == "name_empty"


# ---------------------------------------------------------------- the CSV import


ROWS = (
    "ログイン,氏名,役割,所属,マイスター名\r\nyamada,山田 太郎,見習い,本社,\r\nsuzuki,鈴木 髙志,マイスター,第二工場,\r\n"
)


@pytest.mark.parametrize(
    "raw,encoding",
    [
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), "utf-8-sig"),  # Excel's "CSV UTF-8"
        (ROWS.encode("utf-8"), "utf-8"),
        (ROWS.encode("cp932"), "cp932"),  # Excel's plain "CSV" in Japan (髙 is cp932 only)
    ],
)
def test_the_encoding_is_detected_and_japanese_survives(db, staff, raw, encoding):
    parsed = users_import.parse(db, raw, staff["coordinator"].viewer)
    assert parsed.encoding == encoding and parsed.ok
    assert [(r.login, r.name, r.role, r.organisation["name"]) for r in parsed.rows] == [
        ("yamada", "山田 太郎", "apprentice", "本社"),
        ("suzuki", "鈴木 髙志", "meister", "第二工場"),
    ]
    created = users_import.create_all(db, parsed)
    assert [c["login"] for c in created] == ["yamada", "suzuki"]
    suzuki = users.find_account(db, "suzuki")
    assert suzuki.must_change_password and suzuki.meister == "鈴木 髙志" and suzuki.organisation == "第二工場"
    stored = db.execute("SELECT password_hash FROM users WHERE login = 'suzuki'").fetchone()[0]
    assert stored.startswith("$argon2id$") and created[1]["password"] not in stored
    assert users.authenticate(db, "suzuki", created[1]["password"]).id == suzuki.id


def test_every_bad_row_is_reported_and_nothing_is_created(db, staff):
    _user(db, "taken", "apprentice")
    text = (
        "login,name,role,organisation\n"
        "ok1,正しい 人,apprentice,\n"
        ",名無し,見習い,\n"  # 3: login missing
        "nameless,,見習い,\n"  # 4: name missing
        "boss9,偉い 人,社長,\n"  # 5: unknown role
        "chief,課長,管理者,\n"  # 6: a coordinator may not make an admin
        "TAKEN,重複 一,見習い,\n"  # 7: login exists (case does not matter)
        "twice,二度 目,見習い,\n"
        "Twice,二度 目,見習い,\n"  # 9: twice in the file
        "far,遠い 人,見習い,大阪工場\n"  # 10: unknown organisation
        "shut,閉鎖 人,見習い,閉鎖工場\n"  # 11: disabled organisation
        "has space,空白 人,見習い,\n"
    )  # 12: login format
    before = users.count_users(db)
    parsed = users_import.parse(db, text.encode("cp932"), staff["coordinator"].viewer)
    problems = {r.line: [c for c, _ in r.errors] for r in parsed.rows if r.errors}
    assert problems == {
        3: ["login_missing"],
        4: ["name_missing"],
        5: ["role_unknown"],
        6: ["role_not_allowed"],
        7: ["login_taken"],
        9: ["login_repeated"],
        10: ["organisation_unknown"],
        11: ["organisation_disabled"],
        12: ["login_format"],
    }
    assert not parsed.ok and parsed.error_count == 9
    with pytest.raises(ValueError):
        users_import.create_all(db, parsed)
    assert users.count_users(db) == before
    # the same file from an admin: the admin row is fine
    parsed = users_import.parse(db, text.encode("utf-8"), staff["admin"].viewer)
    assert not [c for r in parsed.rows if r.line == 6 for c, _ in r.errors]


def test_a_login_taken_after_the_preview_creates_nobody(db, staff):
    parsed = users_import.parse(db, ROWS.encode("utf-8"), staff["coordinator"].viewer)
    _user(db, "suzuki", "apprentice")  # another coordinator, another tab
    before = users.count_users(db)
    with pytest.raises(users.AccountInputError, match="taken"):
        users_import.create_all(db, parsed)
    assert users.count_users(db) == before and not db.execute("SELECT 1 FROM users WHERE login='yamada'").fetchone()


@pytest.mark.parametrize(
    "raw,code",
    [
        (b"", "file_empty"),
        (b"\r\n , \r\n", "file_empty"),
        (b"x" * (users_import.MAX_BYTES + 1), "file_too_large"),
        ("ログイン,氏名\nyamada,山田\n".encode(), "columns_missing"),
        ("ログイン,氏名,役割\n".encode(), "no_rows"),
        ("ログイン,氏名,役割\n".encode("utf-16"), "file_encoding"),
        (b"login,name,role\n\xff\xfe\xfa,x,y\n", "file_encoding"),
    ],
)
def test_a_file_that_cannot_be_read_gets_one_error(db, staff, raw, code):
    with pytest.raises(users_import.ImportFileError) as e:
        users_import.parse(db, raw, staff["coordinator"].viewer)
    assert e.value.code == code and isinstance(e.value, InputError)


def test_the_row_bound_is_checked_before_any_password_is_hashed(db, staff, monkeypatch):
    monkeypatch.setattr(users, "hash_password", lambda p: pytest.fail("hashed before the bound was checked"))
    text = "login,name,role\n" + "".join(f"u{i},人 {i},見習い\n" for i in range(6))
    with pytest.raises(users_import.ImportFileError) as e:
        users_import.parse(db, text.encode(), staff["coordinator"].viewer, max_rows=5)
    assert e.value.code == "too_many_rows" and e.value.params == {"n": 5, "found": 6}


def test_every_role_has_its_words():
    from kb.access import ROLES

    assert set(users_import.ROLE_WORDS) == set(ROLES)
    assert {users_import._role(w) for words in users_import.ROLE_WORDS.values() for w in words} == set(ROLES)
    assert users_import._role(" Meister ") == "meister" and users_import._role("社長") is None


def test_the_example_file_imports_as_it_is(db, staff):
    parsed = users_import.parse(db, users_import.template_csv(), staff["admin"].viewer)
    assert parsed.ok and parsed.encoding == "utf-8-sig" and [r.role for r in parsed.rows] == ["apprentice", "meister"]


# ---------------------------------------------------------------- kept for later, waiting for me


def _recording(db, config, title, *, visibility="organisation", org=1, timed=True):
    import secrets

    from ingest.chunking import chunks_for
    from kb.recordings import RecordingMeta, create, replace_segments, update
    from search.store import SearchStore

    meta = RecordingMeta(title=title, visibility=visibility, organisation_id=org)
    with db:
        rid = create(
            db,
            title=title,
            kind="audio" if timed else "document",
            fmt="mp3" if timed else "txt",
            source_name=f"{title}.mp3",
            sha256=secrets.token_hex(32),
            size_bytes=10,
            meta=meta,
        )
        segs = (
            [
                {"start": 0.0, "end": 10.0, "text": "刃物を研ぐ前に砥石を水に浸す。"},
                {"start": 30.0, "end": 40.0, "text": "角度は十五度で一定に保つ。"},
            ]
            if timed
            else [{"page": 2, "text": "寸法は三回測る。"}]
        )
        replace_segments(db, rid, segs)
    SearchStore(config, db).write_chunks(rid, chunks_for(config, segs))
    with db:
        update(db, rid, status="done")
    return rid


def test_saving_a_moment_twice_keeps_one_and_hidden_ones_drop_out(db, hash_config, staff):
    me = staff["apprentice"].viewer
    rid = _recording(db, hash_config, "研ぎの基本")
    first = saved.save(db, me, rid, start=31.0)
    assert saved.save(db, me, rid, start=31.0) == first
    doc = _recording(db, hash_config, "測定の手順", timed=False)
    chunk = db.execute("SELECT id FROM chunks WHERE recording_id = ?", (doc,)).fetchone()[0]
    saved.save(db, me, doc, chunk_id=chunk)
    listed = saved.listing(db, me)
    assert [(s["title"], s["start"], s["chunk_id"], s["page"]) for s in listed] == [
        ("測定の手順", None, chunk, 2),
        ("研ぎの基本", 31.0, None, None),
    ]
    assert listed[1]["label"].startswith("角度は十五度")
    other_org = _recording(db, hash_config, "第二工場の秘密", org=2)
    with pytest.raises(NotFound):
        saved.save(db, me, other_org, start=0)
    db.execute("UPDATE recordings SET visibility = 'private' WHERE id = ?", (rid,))
    db.commit()
    assert [s["title"] for s in saved.listing(db, me)] == ["測定の手順"]
    assert not saved.remove(db, staff["meister"].viewer, first)  # not theirs
    assert saved.remove(db, me, first) and not saved.remove(db, me, first)
    with pytest.raises(InputError):
        saved.save(db, me, doc, start=-5)


def test_what_waits_for_each_role(db, hash_config, staff):
    from kb import coaching, curricula, curricula_progress as progress

    rid = _recording(db, hash_config, "研ぎの基本")
    cid = curricula.create(db, title="研ぎ入門")
    item = curricula.add_item(db, cid, rid, start=0.0, end=10.0)
    second = curricula.add_item(db, cid, rid, start=30.0, end=40.0)
    apprentice = staff["apprentice"]
    curricula.assign(db, cid, user_id=apprentice.id, due_date="2026-12-01")
    today = date(2026, 12, 3)
    mine = waiting.for_viewer(db, apprentice.viewer, today=today, due_days=7)
    assert mine["signoffs"] is None and mine["coaching"] is None
    due = mine["due"]["shown"]
    assert due[0]["overdue"] and due[0]["days"] == -2 and [i["id"] for i in due[0]["items"]] == [item, second]
    assert waiting.for_viewer(db, apprentice.viewer, today=date(2026, 11, 1), due_days=7)["due"]["count"] == 0

    progress.record_event(db, apprentice.id, event_id="ev-00000001", item_id=item, kind="done")
    meister = waiting.for_viewer(db, staff["meister"].viewer, today=today)
    assert [(p["user"]["login"], p["item"]["id"]) for p in meister["signoffs"]["shown"]] == [("kobayashi", item)]
    assert [i["id"] for i in waiting.for_viewer(db, apprentice.viewer, today=today)["due"]["shown"][0]["items"]] == [
        second
    ]

    coordinator = waiting.for_viewer(db, staff["coordinator"].viewer, today=today)
    assert coordinator["signoffs"] is None and coordinator["coaching"]["count"] == 0
    mid = staff["meister"].meister_id
    coaching.log_session(
        db,
        staff["meister"],
        held_on="2026-12-02",
        meister_id=mid,
        organisation_id=1,
        hours=2,
        technicians=[apprentice.id],
    )
    db.execute(
        "INSERT INTO jobs(recording_id, stage, payload) VALUES (?, 'done', ?)",
        (rid, '{"transcript_check": {"incomplete": true, "chars": 3}}'),
    )
    db.commit()
    coordinator = waiting.for_viewer(db, staff["admin"].viewer, today=today)
    assert coordinator["coaching"]["count"] == 1 and [r["id"] for r in coordinator["incomplete"]["shown"]] == [rid]
    assert coordinator["total"] == 2


def test_kb_users_import_checks_then_adds_and_prints_the_passwords_once(hash_config, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli
    from kb.home import init_home

    init_home(hash_config).close()
    good = tmp_path / "名簿.csv"
    good.write_bytes(ROWS.replace("第二工場", "本社").encode("cp932"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes("ログイン,氏名,役割\nx y,名前,見習い\n".encode("cp932"))

    def run(*args):
        return CliRunner().invoke(cli, ["--home", str(hash_config.home), "users", "import", *args])

    failed = run(str(bad))
    assert failed.exit_code == 1 and "login format" in failed.output and "nobody was added" in failed.output
    checked = run(str(good), "--check")
    assert checked.exit_code == 0 and "鈴木 髙志" in checked.output and "cp932" in checked.output
    done = run(str(good))
    assert done.exit_code == 0 and done.output.count("password:") == 2
    again = run(str(good))
    assert again.exit_code == 1 and "login taken" in again.output
