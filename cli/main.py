"""The `kb` command: a thin shell over the library and the application layer (services/).

Every command imports what it needs inside its body, so `kb --help` stays
instant.  Domain errors become one clear line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import sys

import click

from kb.errors import KBError
from kb.settings import SETTINGS, load_config
from kb.timecodes import time_range
from search import MODES


class KBGroup(click.Group):
    """Turns KBError anywhere in a command into one line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KBError as e:
            click.echo(f"kb: {e}", err=True)
            sys.exit(1)


@click.group(cls=KBGroup)
@click.option(
    "--home",
    envvar="KB_HOME",
    default=None,
    metavar="DIR",
    help="Knowledge base folder (default ./kb-data, or $KB_HOME).",
)
@click.version_option(package_name="takumi-kb")
@click.pass_context
def cli(ctx, home):
    """Takumi KB: meisters' recordings, searchable in Japanese.

    \b
    Examples:
      kb init
      kb ingest recordings/ --meister 田中 --technique 旋盤
      kb search "旋盤のびびりを抑えるには"
    """
    ctx.obj = load_config(home)


def _open(ctx, create=False):
    from kb.home import open_db

    return open_db(ctx.obj, create=create)


@cli.command()
@click.pass_context
def init(ctx):
    """Create the knowledge base folder (database, index, media) and, the first time, an administrator.

    The administrator's login is `admin`; its password is generated and printed
    once (change it at /account after logging in; `kb users passwd admin` makes
    a new one if it is lost).

    \b
    Example:  kb --home /srv/takumi init
    """
    from kb import users
    from kb.home import init_home

    conn = init_home(ctx.obj)
    try:
        click.echo(f"knowledge base ready at {ctx.obj.home}")
        if users.count_users(conn) == 0:
            password = users.generate_password()
            users.create_user(conn, "admin", password, "admin", display_name="Administrator", must_change_password=True)
            click.echo("first administrator created (shown only now: note the password down)")
            click.echo("  login:    admin")
            click.echo(f"  password: {password}")
            click.echo("log in with `kb serve`, then choose your own password; add people with `kb users add`")
    finally:
        conn.close()


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--title", help="Title (default: taken from the document or the file name).")
@click.option("--meister", help="Name of the meister who recorded it.")
@click.option("--technique", help="Technique category, e.g. 旋盤 or 溶接.")
@click.option("--tags", help="Comma-separated tags.")
@click.option("--language", type=click.Choice(["ja", "en", "auto"]), default="auto", show_default=True)
@click.pass_context
def ingest(ctx, paths, title, meister, technique, tags, language):
    """Add recordings: video, audio, PDF, DOCX, Markdown, text, HTML (folders are walked).

    \b
    Examples:
      kb ingest lathe-chatter.mp4 --meister 田中 --technique 旋盤 --language ja
      kb ingest manuals/ --tags 安全,新人向け
    """
    from ingest.pipeline import Ingestor, iter_files
    from kb.recordings import RecordingMeta

    conn = _open(ctx, create=True)
    meta = RecordingMeta(
        title=title,
        meister=meister,
        technique=technique,
        tags=RecordingMeta.parse_tags(tags),
        language=None if language == "auto" else language,
    )
    files = list(iter_files(paths))
    ingestor = Ingestor(ctx.obj, conn)
    failed = 0
    from tqdm import tqdm

    # The bar shows only on a terminal; one line per file is always printed.
    bar = tqdm(total=len(files), unit="file", disable=not sys.stderr.isatty(), file=sys.stderr)

    def on_file(result):
        nonlocal failed
        bar.update(1)
        failed += result.status == "failed"
        line = {
            "added": f"added    #{result.recording_id} {result.title}",
            "exists": f"exists   #{result.recording_id} {result.path} ({result.message})",
            "failed": f"FAILED   {result.message}",
        }[result.status]
        bar.write(line, file=sys.stderr if result.status == "failed" else sys.stdout)
        if result.status == "added":
            from kb import speech_checks

            for check in speech_checks.incomplete(conn, [result.recording_id]).values():
                bar.write(f"         {_incomplete_line(check)}; see kb show {result.recording_id}")

    with bar:
        results = ingestor.ingest_paths(paths, meta, on_file=on_file)
    added = sum(r.status == "added" for r in results)
    exists = sum(r.status == "exists" for r in results)
    click.echo(f"{added} added, {exists} already present, {failed} failed", err=bool(failed))
    sys.exit(1 if failed else 0)


def _incomplete_line(check: dict) -> str:
    return (
        f"transcript looks incomplete: {check.get('chars', 0)} characters for "
        f"{float(check.get('voiced_seconds') or 0) / 60:.1f} minutes of speech"
    )


def _other_model(config, check: dict) -> str:
    from kb import speech_checks

    used = str(check.get("model") or "")
    return next((m for m in speech_checks.models(config) if not used.startswith(m + " ") and used != m), "base")


@cli.command()
@click.argument("recording_id", type=int)
@click.option("--language", type=click.Choice(["ja", "en", "auto"]), default="auto", show_default=True)
@click.option("--model", help="Speech model: base, tiny.en or the configured KB_WHISPER_MODEL (default: that one).")
@click.pass_context
def reprocess(ctx, recording_id, language, model):
    """Transcribe a recording again from its stored original, e.g. in another language or with another model.

    \b
    Example:  kb reprocess 7 --language ja
    """
    from ingest.pipeline import Ingestor
    from kb import recordings, speech_checks
    from services import recordings as recording_ops

    conn = _open(ctx)
    ingestor = Ingestor(ctx.obj, conn)
    rec = recordings.get(conn, recording_id)
    job_id = recording_ops.reprocess(ctx.obj, conn, recording_id, language=language, model=model, claim=ingestor.claim)
    with ingestor.store.batch():
        result = ingestor._run(rec["source_name"], recording_id, job_id, None)
    if result.status != "added":
        click.echo(f"FAILED   {result.message}", err=True)
        sys.exit(1)
    click.echo(f"processed again #{recording_id} {result.title}")
    for check in speech_checks.incomplete(conn, [recording_id]).values():
        click.echo(f"  {_incomplete_line(check)}")


@cli.command()
@click.argument("query")
@click.option("--limit", default=10, show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--technique")
@click.option("--meister")
@click.option("--kind", type=click.Choice(["video", "audio", "document"]))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def search(ctx, query, limit, mode, technique, meister, kind, as_json):
    """Search in your own words; answers with moments (time or page).

    \b
    Examples:
      kb search "旋盤のびびりを抑えるには"
      kb search 溶接 --kind video --json
    """
    from search.engine import Searcher
    from search.store import SearchStore
    from services.search import SearchRequest, run

    conn = _open(ctx)
    req = SearchRequest(query=query, limit=limit, mode=mode, technique=technique, meister=meister, kind=kind)
    found = run(Searcher(SearchStore(ctx.obj, conn)), conn, req)  # the hits of /api/v1/search, as they are
    for w in found["warnings"]:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found["hits"]:
        click.echo("no results — try other words, a shorter question, or a technique name")
        return
    if found["no_good_match"]:
        click.echo(
            "no good match — nothing here answers this well; the nearest (weak) moments follow. "
            f'Ask a meister: kb teach "{query}"'
        )
    for n, h in enumerate(found["hits"], 1):
        where = h["time"] or (f"p.{h['page']}" if h["page"] else "")
        who = " / ".join(x for x in (h["meister"], h["technique"]) if x)
        weak = "  (weak)" if h["strength"] != "strong" else ""
        click.echo(
            f"{n:2d}. #{h['recording_id']} {h['title']}  [{h['kind']}{', ' + who if who else ''}]  {where}  "
            f"{h['url']}{weak}"
        )
        flat = " ".join(h["text"].split())
        snippet = flat if len(flat) <= 160 else flat[:157] + "…"
        click.echo(f"    {snippet}")


@cli.command()
@click.argument("question")
@click.option("--area", help="Only meisters who can visit this area (part of its name).")
@click.option("--limit", default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def teach(ctx, question, area, limit, as_json):
    """Who can teach this? Meisters ranked by their recordings and specialities (search/teachers.py).

    \b
    Example:  kb teach "長い軸を削るとびびる" --area 大阪
    """
    from search import teachers
    from search.engine import Searcher
    from search.store import SearchStore
    from services.search import teacher_json

    conn = _open(ctx)
    found = teachers.rank(Searcher(SearchStore(ctx.obj, conn)), conn, question, area=area, limit=limit)
    if as_json:  # as /api/v1/meisters/teach lists them
        click.echo(json.dumps([teacher_json(t) for t in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no meister found — try other words or a technique name")
    for n, t in enumerate(found, 1):
        extra = f"  speciality: {', '.join(t.matched_specialities)}" if t.matched_specialities else ""
        click.echo(f"{n:2d}. {t.name}  (score {t.score:.2f}){extra}")
        for e in t.evidence:
            click.echo(f"      #{e.recording_id} {e.title}  {e.link}")


@cli.command()
@click.argument("recording_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, recording_id, as_json):
    """Metadata, status and the transcript (with times) of one recording.

    \b
    Example:  kb show 3
    """
    from kb import recordings

    conn = _open(ctx)
    rec = recordings.get(conn, recording_id)
    segs = recordings.segments(conn, recording_id)
    job = conn.execute(
        "SELECT stage, progress, message, error FROM jobs WHERE recording_id = ? ORDER BY id DESC LIMIT 1",
        (recording_id,),
    ).fetchone()
    if as_json:
        rec["segments"] = segs
        rec["job"] = dict(job) if job else None
        from kb import speech_checks

        rec["transcript_check"] = speech_checks.checks(conn, [recording_id]).get(recording_id)
        click.echo(json.dumps(rec, ensure_ascii=False, indent=2))
        return
    click.echo(f"#{rec['id']} {rec['title']}")
    from kb import speech_checks

    for check in speech_checks.incomplete(conn, [recording_id]).values():
        click.echo(
            f"  WARNING: {_incomplete_line(check)} (model {check.get('model')}, language "
            f"{check.get('language')}).\n  Process it again with another language or model, e.g. "
            f"kb reprocess {recording_id} --language ja   or   --model {_other_model(ctx.obj, check)}"
        )
    for key in (
        "kind",
        "format",
        "source_name",
        "meister",
        "technique",
        "tags",
        "language",
        "duration",
        "pages",
        "transcript_source",
        "status",
        "error",
        "created_at",
    ):
        if rec.get(key) not in (None, "", []):
            value = ", ".join(rec[key]) if key == "tags" else rec[key]
            click.echo(f"  {key:17s} {value}")
    if segs:
        click.echo("  transcript:" if rec["kind"] != "document" else "  text:")
    for s in segs:
        where = time_range(s["start"], s["end"]) if s["start"] is not None else (f"p.{s['page']}" if s["page"] else "")
        click.echo(f"    {where:13s} {s['text']}")


@cli.command()
@click.argument("recording_id", type=int)
@click.pass_context
def delete(ctx, recording_id):
    """Delete a recording: its chunks leave both indexes and its stored files are removed.

    \b
    Example:  kb delete 3
    """
    from services import recordings

    rec = recordings.delete(ctx.obj, _open(ctx), recording_id)
    click.echo(f"deleted #{recording_id} {rec['title']}")


@cli.command()
@click.option("--reembed", is_flag=True, help="Embed every chunk again (after changing KB_EMBED_MODEL).")
@click.pass_context
def reindex(ctx, reembed):
    """Rebuild the vector and lexical indexes from the database.

    \b
    Examples:
      kb reindex
      KB_EMBED_MODEL=/models/my-e5 kb reindex --reembed
    """
    from search.store import SearchStore

    conn = _open(ctx)
    stats = SearchStore(ctx.obj, conn).reindex(reembed=reembed, lock=True)
    click.echo(f"index rebuilt: {stats['chunks']} chunks ({stats['index_kind']}), {stats['reembedded']} embedded again")


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False))
@click.option(
    "--keep",
    default=0,
    show_default=True,
    type=int,
    metavar="N",
    help="Afterwards keep only the newest N backups in DEST (0 = keep all).",
)
@click.pass_context
def backup(ctx, dest, keep):
    """Back up the knowledge base into the folder DEST, while it runs (docs/backup.md).

    Only new originals are copied; each backup gets its own folder under
    DEST/snapshots with a manifest and checksums.  Exit status 1 when something
    could not be backed up (the backup is then marked incomplete).

    \b
    Example:  kb backup /mnt/usb-backup/takumi --keep 14
    """
    from kb.backup import backup as run_backup

    result = run_backup(ctx.obj, dest, keep=keep, log=lambda m: click.echo(f"  {m}", err=True))
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    for p in result.problems:
        click.echo(f"problem: {p}", err=True)
    state = "backup done" if result.ok else "backup INCOMPLETE (restore will refuse it)"
    click.echo(
        f"{state}: {result.snapshot} — {result.files_total} stored files ({result.files_copied} new, "
        f"{result.bytes_copied / 1e6:.1f} MB copied), index {result.index}, generation {result.generation}"
    )
    sys.exit(0 if result.ok else 1)


@cli.command()
@click.option(
    "--repair", is_flag=True, help="Rebuild the search indexes and remove leftovers; list what cannot be repaired."
)
@click.option(
    "--quick", is_flag=True, help="Do not read every original to compare its checksum (only check it is there)."
)
@click.pass_context
def check(ctx, repair, quick):
    """Check the knowledge base: database, both search indexes, originals, leftover work files.

    Prints one line per problem and a one-line summary; exit status 0 when all is
    well, 1 when a problem remains.

    \b
    Examples:
      kb check
      kb check --repair
    """
    from services.check import run_check

    if not ctx.obj.db_path.is_file():
        raise KBError(f"no knowledge base at {ctx.obj.home} (pass --home or set KB_HOME)")
    report = run_check(ctx.obj, repair=repair, hash_originals=not quick)
    for p in report.problems:
        fix = "" if p.repairable else "  [cannot be repaired automatically]"
        click.echo(f"{p.area}: {p.text}{fix}")
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@cli.command()
@click.argument("src", type=click.Path(exists=True))
@click.option("--verify-only", is_flag=True, help="Only check the backup (every checksum); restore nothing.")
@click.pass_context
def restore(ctx, src, verify_only):
    """Restore a backup (a folder made by `kb backup`, or one of its snapshots) into an empty --home.

    Every checksum is verified first; a damaged or partial backup is refused and
    nothing is written.  Afterwards the search index is rebuilt if the backup had
    none, and `kb check` runs.

    \b
    Examples:
      kb --home /srv/takumi-new restore /mnt/usb-backup/takumi
      kb restore /mnt/usb-backup/takumi --verify-only
    """
    from kb import backup as bk
    from services.check import run_check

    def say(message):
        click.echo(f"  {message}", err=True)

    if verify_only:
        snapshot = bk.find_snapshot(src)
        manifest = bk.verify(snapshot, log=say)
        click.echo(f"backup OK: {snapshot} ({manifest['created_at']}, {len(manifest['stored'])} stored files)")
        return
    manifest = bk.restore(ctx.obj, src, log=say)
    for line in bk.settings_differences(ctx.obj, manifest):
        click.echo(f"warning: {line}; set it the same before `kb serve` (or run `kb reindex --reembed`)", err=True)
    click.echo(f"restored the backup of {manifest['created_at']} into {ctx.obj.home}")
    report = run_check(ctx.obj, repair=True, hash_originals=False, log=say)  # originals were just verified
    for p in report.problems:
        click.echo(f"{p.area}: {p.text}", err=True)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@cli.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit-queries", type=int, default=None, help="Use only the first N queries.")
@click.option(
    "--compare",
    "compare",
    multiple=True,
    metavar="SETTING=VALUE",
    help="Also search the same knowledge base with this search setting changed (e.g. reading_match=off), "
    "reported side by side.  Repeatable.",
)
@click.pass_context
def eval_cmd(ctx, file, as_json, limit_queries, compare):
    """Retrieval quality on a benchmark file: MRR@10 and Recall@1/5/10, hybrid vs lexical vs dense.

    FILE holds {"docs": [{"id", "title", "text"}], "queries": [{"q", "gold": [doc ids]}]}; the docs
    are ingested into a temporary knowledge base with the configured embedder.  A spoken document
    has "audio" (an audio or video file, relative to FILE; "text" is then what was said): it is
    transcribed by the configured Whisper model, and the transcripts' character error rate is
    reported.  A set-level "language" (ja, en) is the spoken documents' language.

    \b
    Example:  kb eval ../shared/data/techniques-dev.json
              kb eval bench/.cache/spoken-techniques-dev/noisy.json   (python bench/spoken_set.py makes it)
    """
    from search.evaluate import format_table
    from services.evaluation import evaluate_file

    baselines = {}
    for item in compare:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in {x.name for x in SETTINGS}:
            raise click.BadParameter(
                f"expected SETTING=VALUE with a known setting, got {item!r}", param_hint="--compare"
            )
        baselines[item] = {name.strip(): value.strip()}
    report = evaluate_file(file, ctx.obj, limit_queries=limit_queries, baselines=baselines)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_table(report))


@cli.group()
def glossary():
    """Technical terms per organisation: hints for Whisper, and other names that widen searches.

    \b
    Examples:
      kb glossary add 心押し台 --reading しんおしだい --synonyms テールストック,tailstock
      kb glossary add 段取り --org 第二工場
      kb glossary list
    """


_ORG_HELP = "Organisation (id or name); default: organisation 1."


def _org_id(conn, org) -> int | None:
    if org is None:
        return None
    from kb.users import find_organisation

    return int(find_organisation(conn, org)["id"])


@glossary.command("add")
@click.argument("term")
@click.option("--reading", help="Reading in kana.")
@click.option("--synonyms", help="Comma-separated other words for the same thing.")
@click.option("--org", default=None, metavar="ORG", help=_ORG_HELP)
@click.pass_context
def glossary_add(ctx, term, reading, synonyms, org):
    from kb import glossary as terms

    conn = _open(ctx.parent, create=True)
    terms.add(conn, term, reading, synonyms or "", organisation_id=_org_id(conn, org))
    click.echo(f"added {term.strip()}")


@glossary.command("list")
@click.option("--org", default=None, metavar="ORG", help="Only this organisation (id or name); default: all.")
@click.pass_context
def glossary_list(ctx, org):
    from kb import glossary as terms

    conn = _open(ctx.parent)
    names = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM organisations")}
    rows = terms.list_terms(conn, _org_id(conn, org))
    several = len({t["organisation_id"] for t in rows}) > 1
    for t in rows:
        extra = " / ".join(x for x in (t["reading"], ", ".join(t["synonyms"])) if x)
        where = f"[{names.get(t['organisation_id'], t['organisation_id'])}] " if several else ""
        click.echo(f"{where}{t['term']}" + (f"  ({extra})" if extra else ""))


@glossary.command("remove")
@click.argument("term")
@click.option("--org", default=None, metavar="ORG", help=_ORG_HELP)
@click.pass_context
def glossary_remove(ctx, term, org):
    from kb import glossary as terms

    conn = _open(ctx.parent)
    if not terms.remove(conn, term, _org_id(conn, org)):
        raise KBError(f"no glossary term {term!r}")
    click.echo(f"removed {term}")


@cli.group("users")
def users_group():
    """People who can log in: apprentice, meister, coordinator or admin, each in an organisation.

    \b
    Examples:
      kb users add tanaka --role meister --name "田中 一郎" --org 本社
      kb users list
      kb users passwd tanaka      (a new generated password; ends their logins)
      kb users disable tanaka
      kb users import 名簿.csv     (many people from Excel; --check only checks)
    """


@users_group.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(["apprentice", "meister", "coordinator", "admin"]), required=True)
@click.option("--name", "display_name", help="Name shown in the interface (default: the login).")
@click.option("--org", default="1", show_default=True, metavar="ORG", help="Organisation (id or name).")
@click.option("--meister", help="For meisters: the meister name their recordings carry (default: --name).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of generating one.")
@click.pass_context
def users_add(ctx, login, role, display_name, org, meister, password_stdin):
    """Add a user.  A generated password is printed once; they choose their own at the first login."""
    from kb import users

    conn = _open(ctx.parent)
    organisation = users.find_organisation(conn, org)
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else users.generate_password()
    users.create_user(
        conn,
        login,
        password,
        role,
        organisation_id=organisation["id"],
        display_name=display_name,
        meister=meister,
        must_change_password=not password_stdin,
    )
    click.echo(f"added {login} ({role}, {organisation['name']})")
    if not password_stdin:
        click.echo(f"  password: {password}   (shown only now; they choose their own at the first login)")


@users_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True, help="Only check the file: list every row and its problems, add nobody.")
@click.pass_context
def users_import_cmd(ctx, file, check):
    """Add many people from a CSV file (Excel's "CSV UTF-8" or Shift_JIS "CSV"; headings ログイン, 氏名, 役割,
    所属, マイスター名 or login, name, role, organisation, meister).  Every row is checked first; nobody is
    added while any row has a problem.  The first passwords are printed once."""
    from kb import users_import
    from kb.access import SYSTEM

    conn = _open(ctx.parent)
    max_rows = ctx.parent.obj.get("user_import_max_rows")
    with open(file, "rb") as f:
        raw = f.read(users_import.MAX_BYTES + 1)
    parsed = users_import.parse(conn, raw, SYSTEM, max_rows=max_rows)
    for row in parsed.rows:
        problems = "; ".join(
            code.replace("_", " ") + (f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else "")
            for code, params in row.errors
        )
        click.echo(
            f"line {row.line:4d}  {row.login:16s} {row.role or row.role_text:12s} "
            f"{row.organisation['name'] if row.organisation else row.organisation_text:12s} {row.name}"
            + (f"   PROBLEM: {problems}" if problems else "")
        )
    if not parsed.ok:
        raise click.ClickException(
            f"{parsed.error_count} rows have problems; nobody was added (file read as {parsed.encoding})"
        )
    if check:
        click.echo(f"{len(parsed.rows)} people can be added (file read as {parsed.encoding}); nobody was added")
        return
    for person in users_import.create_all(conn, parsed):
        click.echo(f"added {person['login']:16s} password: {person['password']}")
    click.echo("The passwords are shown only now; each person chooses their own at the first login.")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx, as_json):
    """Every user: login, role, organisation, name, and whether they are disabled."""
    from kb import users

    accounts = users.list_accounts(_open(ctx.parent))
    if as_json:
        click.echo(json.dumps([a.public() for a in accounts], ensure_ascii=False, indent=2))
        return
    for a in accounts:
        state = " (disabled)" if a.disabled else (" (must choose a password)" if a.must_change_password else "")
        who = f"{a.display_name}" + (f" / meister {a.meister}" if a.meister else "")
        click.echo(f"{a.login:16s} {a.role:12s} {a.organisation:12s} {who}{state}")


def _account(ctx, login):
    from kb import users

    conn = _open(ctx.parent)
    return conn, users.find_account(conn, login)


@users_group.command("disable")
@click.argument("login")
@click.pass_context
def users_disable(ctx, login):
    """Stop a user logging in; their sessions and API tokens stop working at once."""
    from kb import users

    conn, account = _account(ctx, login)
    users.set_disabled(conn, account.id, True)
    click.echo(f"disabled {account.login}")


@users_group.command("enable")
@click.argument("login")
@click.pass_context
def users_enable(ctx, login):
    """Let a disabled user log in again."""
    from kb import users

    conn, account = _account(ctx, login)
    users.set_disabled(conn, account.id, False)
    click.echo(f"enabled {account.login}")


@users_group.command("passwd")
@click.argument("login")
@click.pass_context
def users_passwd(ctx, login):
    """Give a user a new generated password (printed once); their logins end, and they choose their own next."""
    from kb import users

    conn, account = _account(ctx, login)
    password = users.reset_password(conn, account.id)
    click.echo(f"new password for {account.login}: {password}   (shown only now)")


@cli.group("orgs")
def orgs_group():
    """Organisations: the factories or sites whose people share their recordings.

    \b
    Examples:
      kb orgs add 第二工場
      kb orgs list
    """


@orgs_group.command("add")
@click.argument("name")
@click.pass_context
def orgs_add(ctx, name):
    from kb import users

    org_id = users.create_organisation(_open(ctx.parent), name)
    click.echo(f"added organisation #{org_id} {name.strip()}")


@orgs_group.command("list")
@click.pass_context
def orgs_list(ctx):
    from kb import users

    for o in users.list_organisations(_open(ctx.parent)):
        state = " (disabled)" if o["disabled"] else ""
        click.echo(f"#{o['id']:<3d} {o['name']}  users: {o['users']}, recordings: {o['recordings']}{state}")


@cli.command()
@click.pass_context
def settings(ctx):
    """List every setting, its environment variable, current value and meaning."""
    for s in SETTINGS:
        click.echo(f"{s.env:26s} = {ctx.obj.values[s.name]!r}\n    {s.help}")


@cli.command()
@click.option("--searches/--no-searches", default=True, help="Run example searches afterwards.")
@click.pass_context
def demo(ctx, searches):
    """Build a small demo knowledge base (written procedures and real speech), show searches,
    and make one demo account per role (passwords printed and kept in KB_HOME/demo-accounts.txt).

    \b
    Example:  kb --home demo-data demo
    """
    from cli.demo import build_demo, demo_queries, ensure_demo_accounts

    conn = _open(ctx, create=True)
    for line in build_demo(ctx.obj, conn):
        click.echo(line)
    if searches:
        for q in demo_queries():
            click.echo(f'\n$ kb search "{q}"')
            ctx.invoke(search, query=q, limit=3, mode="hybrid", technique=None, meister=None, kind=None, as_json=False)
    click.echo("")
    for line in ensure_demo_accounts(ctx.obj, conn):  # last, so the logins are on screen when the server starts
        click.echo(line)


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every network interface, for phones on the workshop network).",
)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=6, show_default=True, type=int, help="Worker threads of the web server.")
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="Address QR codes point at, e.g. http://192.168.1.10:5000 (default: the setting KB_PUBLIC_URL; "
    "else with --host 0.0.0.0 this PC's address on the workshop network, else the address each "
    "page was opened with).",
)
@click.option("--warm/--no-warm", default=True, help="Load the search model at start, not on the first search.")
@click.option(
    "--processes",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes on the one port (setting KB_SERVE_PROCESSES; default auto: one per core, at most "
    "4, on Linux; 1 elsewhere). 1 process uses about 1.5 cores however many search at once.",
)
@click.pass_context
def serve(ctx, host, port, threads, public_url, warm, processes):
    """Start the web interface (waitress, a production WSGI server) and print its address.

    \b
    Examples:
      kb serve
      kb serve --host 0.0.0.0 --port 8080 --public-url http://192.168.1.10:8080
      kb serve --processes 2
    """
    from web.app import create_app
    from web.serve import serve_processes

    def make_app():
        return create_app({"KB_CONFIG": ctx.obj, "PUBLIC_URL": public_url})

    serve_processes(
        make_app,
        processes or ctx.obj.get("serve_processes"),
        host=host,
        port=port,
        threads=threads,
        warm=warm,
        announce=click.echo,
    )


@cli.command()
@click.option("--once", is_flag=True, help="Process the jobs that are waiting, then exit (status 1 if one failed).")
@click.option(
    "--poll", default=2.0, show_default=True, type=float, metavar="S", help="Seconds between looks at an empty queue."
)
@click.option(
    "--queue",
    "queue_url",
    default=None,
    metavar="URL",
    help="Redis queue of a server on another machine (redis://host:6379/0; setting KB_QUEUE).",
)
@click.option(
    "--server",
    default=None,
    metavar="URL",
    help="That server's address (http://kb.local:5000/; setting KB_WORKER_SERVER).",
)
@click.option(
    "--token",
    default=None,
    metavar="TOKEN",
    help="Worker token made on the server with `kb worker-token create` (better: KB_WORKER_TOKEN).",
)
@click.option("--name", default=None, help="This worker's name in the studio (default host:pid).")
@click.pass_context
def worker(ctx, once, poll, queue_url, server, token, name):
    """Process uploaded recordings in the background: extract, transcribe, embed, index.

    `kb serve` already runs one worker thread (setting KB_SERVE_WORKER=1); start
    more with this command, or run it alone with KB_SERVE_WORKER=0.  Stop it with
    Ctrl+C: the job in hand continues from its last saved step next time.

    With --queue and --server it is a transcription worker for a server on
    another machine (docs/scaling.md): it takes jobs from that server's Redis
    queue, fetches each original over HTTP and sends back the transcript and
    vectors; --home is then only its scratch folder.

    \b
    Examples:
      kb worker
      kb worker --once
      KB_WORKER_TOKEN=tkw_... kb worker --queue redis://kb.local:6379/0 --server http://kb.local:5000/
    """
    import signal
    import threading

    from kb.errors import InputError

    if queue_url and not (server or ctx.obj.get("worker_server")):
        raise InputError("--queue needs --server (the address of the server whose jobs these are)")
    queue_url = queue_url or ctx.obj.get("queue") or ""
    server = server or ctx.obj.get("worker_server") or ""
    if server:
        _remote_worker(ctx.obj, queue_url, server, token or ctx.obj.get("worker_token"), name, once)
        return

    from ingest.worker import Worker, lower_priority

    _open(ctx, create=True).close()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    lower_priority()
    runner = Worker(ctx.obj, on_event=click.echo)
    try:
        if once:
            outcomes = runner.run_until_empty(stop)
            click.echo(
                f"{sum(o.status == 'done' for o in outcomes)} done, "
                f"{sum(o.status == 'failed' for o in outcomes)} failed"
            )
            sys.exit(1 if any(o.status == "failed" for o in outcomes) else 0)
        click.echo(f"worker waiting for jobs in {ctx.obj.home} (Ctrl+C to stop)")
        runner.run_forever(stop, poll)
    finally:
        runner.close()


def _remote_worker(config, queue_url, server, token, name, once) -> None:
    import redis

    from ingest import dispatch, remote_worker
    from kb.errors import InputError

    try:
        url = dispatch.redis_url(config.__class__({**config.values, "queue": queue_url}))
        if not url:
            raise ValueError("a transcription worker needs --queue redis://host:6379/0 (or KB_QUEUE)")
        config.home.mkdir(parents=True, exist_ok=True)
        click.echo(f"transcription worker: queue {url}, server {server} (Ctrl+C to stop)")
        remote_worker.work(config, url, server, token or "", name=name, burst=once)
    except ValueError as e:
        raise InputError(str(e)) from None
    except redis.ConnectionError as e:  # Redis down, or not reachable from here
        raise InputError(f"cannot reach the queue at {queue_url}: {e}") from None


@cli.group("worker-token")
def worker_token():
    """Tokens for transcription workers on other machines (they open only the worker API)."""


@worker_token.command("create")
@click.argument("name")
@click.pass_context
def worker_token_create(ctx, name):
    """Make a worker token (shown once: give it to the worker as KB_WORKER_TOKEN)."""
    from kb import worker_tokens

    conn = _open(ctx, create=True)
    token_id, clear = worker_tokens.create(conn, name)
    click.echo(f"worker token {token_id} ({name}): {clear}")


@worker_token.command("list")
@click.pass_context
def worker_token_list(ctx):
    """The worker tokens that still work."""
    from kb import worker_tokens

    for t in worker_tokens.list_live(_open(ctx, create=True)):
        click.echo(
            f"{t['id']:>4}  {t['prefix']}...  {t['name']}  made {t['created_at']}  last used {t['last_used_at'] or '-'}"
        )


@worker_token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def worker_token_revoke(ctx, token_id):
    """Revoke a worker token (the worker's next call is refused)."""
    from kb import worker_tokens
    from kb.errors import InputError

    if not worker_tokens.revoke(_open(ctx, create=True), token_id):
        raise InputError(f"no live worker token {token_id}")
    click.echo(f"worker token {token_id} revoked")


def main():
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
