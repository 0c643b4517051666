"""What a request reaches for: this request's SQLite connection, the knowledge base's settings, the app's
search service (flaskr's db.py: ``get_db`` and ``init_app``).

Why a module of its own: views and web modules import these from here, and only the factory
(web.app.create_app) imports the views, so nothing imports back up into web.app (an import cycle through
every blueprint before).  ``init_app`` is what the factory calls: it loads the settings, creates or
migrates the database once, keeps one :class:`web.searching.SearchService` for the app's whole life (the
embedder and the index are loaded on the first search), and closes each request's connection at its end.
"""

from __future__ import annotations

from flask import Flask, current_app, g

from kb.settings import Config, load_config
from web.searching import SearchService


def init_app(app: Flask) -> None:
    """Settings (``KB_CONFIG``, else ``KB_HOME`` / the environment; ``PUBLIC_URL`` else the public_url setting),
    the database, the search service."""
    config: Config = app.config.get("KB_CONFIG") or load_config(app.config.get("KB_HOME"))
    app.config["KB_CONFIG"] = config
    if not app.config.get("PUBLIC_URL"):
        app.config["PUBLIC_URL"] = config.get("public_url") or None
    _ensure_database(config)
    app.extensions["search_service"] = SearchService(config)
    app.teardown_appcontext(close_db)


def _ensure_database(config: Config) -> None:
    """Create or migrate the database once, at start (page views then only open connections)."""
    from kb.home import open_db

    open_db(config, create=True).close()


def kb_config() -> Config:
    """The knowledge base's settings (kb.settings.Config) of the app serving this request."""
    return current_app.config["KB_CONFIG"]


def search_service() -> SearchService:
    return current_app.extensions["search_service"]


def get_db():
    """This request's SQLite connection (opened on first use, closed at the end of the request)."""
    if "db" not in g:
        from kb import db

        g.db = db.connect(kb_config().db_path)
    return g.db


def close_db(_exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()
