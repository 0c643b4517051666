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
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from kb import timecodes, urls
from web import db, errors, formatting, http, i18n

STATIC = Path(__file__).parent / "static"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app over one knowledge base.

    ``config`` may hold Flask settings and: ``KB_CONFIG`` (a :class:`kb.settings.Config`) or ``KB_HOME``
    (a folder; default: the KB_HOME environment variable / ./kb-data), ``PUBLIC_URL`` (the address QR
    codes point at, e.g. http://192.168.1.10:5000; default: the public_url setting, else the address the page
    was asked for)."""
    app = Flask(__name__)
    app.url_map.converters["int"] = SqliteInt  # /r/<id> with an id SQLite cannot hold is a 404, not a 500
    app.config.update(SEND_FILE_MAX_AGE_DEFAULT=3600)
    app.config.update(dict(config or {}))
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    db.init_app(app)  # settings, database, search service, one connection per request (web.db)
    i18n.init_app(app)
    _register_template_helpers(app)
    from web import auth

    auth.init_app(app)  # who is asking, login required, CSRF: before any view runs
    from web import bodylimit

    bodylimit.install(app)  # bodies beyond max_request_bytes only for uploaders on the upload routes
    app.after_request(http.add_security_headers)
    errors.init_app(app)  # one error handler: the status page or the API's error shape (web.errors)

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
    from web.views import api_studio, studio as studio_views  # the studio and its upload API

    app.register_blueprint(studio_views.bp)
    app.register_blueprint(api_studio.bp, url_prefix="/api/v1")  # beside web.views.api
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
        super().__init__(
            map, fixed_digits=fixed_digits, min=min, max=SQLITE_MAX_INT if max is None else max, signed=signed
        )


SQLITE_MAX_INT = 2**63 - 1


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
    app.jinja_env.filters.update(
        clock=timecodes.clock,
        time_range=timecodes.time_range,
        snippet=formatting.snippet,
        plain_snippet=formatting.plain_snippet,
        with_query=urls.with_query,
    )
    # Every link to a recording, moment, passage, meister or curriculum: {{ urls.moment(r.id, start) }}.
    app.jinja_env.globals.update(asset_url=asset_url, urls=urls)

    @app.context_processor
    def _locale_context():
        from flask_babel import get_locale

        locale = str(get_locale() or i18n.DEFAULT)
        here = request.full_path.rstrip("?") if request else "/"
        return {"locale": locale, "here": here}
