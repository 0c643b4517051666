"""The Flask application factory: `create_app(config=None)`.

Why a factory: tests, `kb serve`, the benchmark and the screenshot script each
build their own app over their own knowledge base (KB_HOME), with nothing
global between them.  The app opens one SQLite connection per request for page
views (cheap, and safe across waitress's threads) and keeps one
:class:`web.searching.SearchService` for its whole life, so the embedder and
the index are loaded once, on the first search.  Importing this module loads
Flask and the kb core only: no torch, FAISS or Whisper.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, current_app, g, render_template, request
from flask_babel import lazy_gettext
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from kb import timecodes, urls
from kb.errors import NotFound
from kb.settings import Config, load_config
from web import formatting, http, i18n
from web.data import BadRequest
from web.searching import SearchService

STATIC = Path(__file__).parent / "static"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app over one knowledge base.

    ``config`` may hold Flask settings and: ``KB_CONFIG`` (a :class:`kb.settings.Config`) or ``KB_HOME``
    (a folder; default: the KB_HOME environment variable / ./kb-data), ``PUBLIC_URL`` (the address QR
    codes point at, e.g. http://192.168.1.10:5000; default: the address the page was asked for)."""
    app = Flask(__name__)
    app.url_map.converters["int"] = SqliteInt  # /r/<id> with an id SQLite cannot hold is a 404, not a 500
    app.config.update(SEND_FILE_MAX_AGE_DEFAULT=3600, PUBLIC_URL=os.environ.get("KB_PUBLIC_URL"))
    app.config.update(dict(config or {}))
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    kb_config: Config = app.config.get("KB_CONFIG") or load_config(app.config.get("KB_HOME"))
    app.config["KB_CONFIG"] = kb_config
    _ensure_database(kb_config)
    app.extensions["search_service"] = SearchService(kb_config)

    i18n.init_app(app)
    _register_template_helpers(app)
    from web import auth

    auth.init_app(app)  # who is asking, login required, CSRF: before any view runs
    from web import bodylimit

    bodylimit.install(app)  # bodies beyond max_request_bytes only for uploaders on the upload routes
    app.after_request(http.add_security_headers)
    app.teardown_appcontext(_close_db)
    _register_errors(app)

    from web.views import account, admin, api, recordings, search

    app.register_blueprint(search.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    from web.views import api_worker  # transcription workers on other machines (worker tokens only)

    app.register_blueprint(api_worker.bp, url_prefix="/api/v1/worker")
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    from web.views import glossary as glossary_views, transcripts

    app.register_blueprint(transcripts.bp)
    app.register_blueprint(glossary_views.bp)
    from web.views import studio as studio_views  # the studio and its upload API

    studio_views.register(app)
    from web.views import curricula as curricula_views, learning as learning_views  # issue 5

    app.register_blueprint(curricula_views.bp)
    app.register_blueprint(learning_views.bp)
    from web.views import coaching as coaching_views, meisters as meister_views, programme as programme_views

    app.register_blueprint(meister_views.bp)  # issue 6: registry and "who can teach this"
    app.register_blueprint(coaching_views.bp)  # issue 6: coaching sessions
    app.register_blueprint(programme_views.bp)  # issue 6: figures, targets
    from web.views import help as help_views  # issue 18: help pages and printable guides

    app.register_blueprint(help_views.bp)
    from web.views import saved as saved_views  # issue 14: moments kept for later (後で見る)

    app.register_blueprint(saved_views.bp)
    return app


class SqliteInt(IntegerConverter):
    """``<int:...>`` in routes: at most SQLite's largest integer (issue 16, defect 6: ids above 2**63
    answered 500 with an OverflowError on about 30 routes)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=SQLITE_MAX_INT if max is None else max,
                         signed=signed)


SQLITE_MAX_INT = 2 ** 63 - 1


def _ensure_database(config: Config) -> None:
    """Create or migrate the database once, at start (page views then only open connections)."""
    from kb.home import open_db

    open_db(config, create=True).close()


def kb_config() -> Config:
    from flask import current_app

    return current_app.config["KB_CONFIG"]


def search_service() -> SearchService:
    from flask import current_app

    return current_app.extensions["search_service"]


def get_db():
    """This request's SQLite connection (opened on first use, closed at the end of the request)."""
    if "db" not in g:
        from kb import db

        g.db = db.connect(kb_config().db_path)
    return g.db


def _close_db(_exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


_asset_versions: dict[str, str] = {}


def asset_url(filename: str) -> str:
    """/static/<file>?v=<content hash>: browsers cache assets, and see a new version at once."""
    from flask import url_for

    version = _asset_versions.get(filename)
    if version is None:
        data = (STATIC / filename).read_bytes()
        version = _asset_versions[filename] = hashlib.sha256(data).hexdigest()[:10]
    return url_for("static", filename=filename, v=version)


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(clock=timecodes.clock, time_range=timecodes.time_range,
                                 snippet=formatting.snippet, plain_snippet=formatting.plain_snippet,
                                 with_query=urls.with_query)
    # Every link to a recording, moment, passage, meister or curriculum: {{ urls.moment(r.id, start) }}.
    app.jinja_env.globals.update(asset_url=asset_url, urls=urls)

    @app.context_processor
    def _locale_context():
        from flask_babel import get_locale

        locale = str(get_locale() or i18n.DEFAULT)
        here = request.full_path.rstrip("?") if request else "/"
        return {"locale": locale, "here": here}


# A plain sentence in the reader's language for an error that brought none of its own (Werkzeug's
# English default descriptions, kb's "no recording with id 5"), by status; any other status: _SERVER.
_STATUS_SENTENCES = {
    404: lazy_gettext("There is no page or recording at this address. It may have been deleted."),
    405: lazy_gettext("This address does not take this kind of request."),
    400: lazy_gettext("A value in the request is not valid."),
    401: lazy_gettext("Log in first."),
    403: lazy_gettext("You are not allowed to do this."),
    429: lazy_gettext("Too many requests at once. Wait a moment and try again."),
}
_SERVER = lazy_gettext("The server could not answer. Please try again.")


def _status_sentence(status: int) -> str:
    return str(_STATUS_SENTENCES.get(status, _SERVER))


def _register_errors(app: Flask) -> None:
    def respond(status: int, message: str, code: str | None = None, detail: str = ""):
        """JSON for scripts and /api/ (web.http.json_error: message in the caller's language, a stable code),
        the error page for browsers."""
        if http.answers_json():
            return http.json_error(status, message, code, **({"detail": detail} if detail else {}))
        return render_template("errors/error.html", status=status, message=message), status

    @app.errorhandler(NotFound)
    def _not_found(e):
        return respond(404, _status_sentence(404), detail=str(e))

    @app.errorhandler(BadRequest)
    def _bad_request(e):
        return respond(400, str(e), getattr(e, "code", None))

    @app.errorhandler(HTTPException)
    def _http(e):
        status = e.code or 500
        default = type(e).description  # Werkzeug's English words: said in the reader's language instead
        if not e.description or e.description == default:
            return respond(status, _status_sentence(status))
        return respond(status, e.description)

    def _disk_full(e):
        """A full disk (errno 28, SQLite's "database or disk is full") is the machine's passing state, not
        a bug: 507 with words a person can act on, never a 500 (issue 16, defect 5)."""
        from kb.errors import is_disk_full
        from web.uploads import storage_full_message

        if not is_disk_full(e):
            raise e
        current_app.logger.error("disk full: %s", e)
        return respond(507, storage_full_message())

    @app.errorhandler(RequestEntityTooLarge)
    def _body_too_large(e):
        """A body over max_request_bytes (web.bodylimit), refused before it was stored."""
        from flask_babel import gettext as _

        if e.description and e.description != RequestEntityTooLarge.description:
            return respond(413, e.description)
        return respond(413, _("The request is too large for this address (only uploads of logged-in meisters "
                              "may be large)."))

    @app.errorhandler(OverflowError)
    def _too_big(_e):
        """A number from a form or query too large for SQLite: the request is wrong, nothing broke."""
        from flask_babel import gettext as _

        return respond(400, _("A number in the request is too large."))

    app.register_error_handler(OSError, _disk_full)
    app.register_error_handler(sqlite3.OperationalError, _disk_full)
