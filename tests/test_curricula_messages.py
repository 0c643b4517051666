"""Curricula's refusals reach a Japanese coordinator in Japanese, and the CLI/API keep the English text."""

from __future__ import annotations

import sqlite3

import pytest

from kb import curricula
from kb.db import migrate
from kb.errors import InputError


@pytest.fixture
def conn():
    c = sqlite3.connect(":memory:")
    c.row_factory = sqlite3.Row
    c.execute("PRAGMA foreign_keys = ON")
    migrate(c)
    yield c
    c.close()


@pytest.mark.parametrize(
    "locale, expected",
    [
        ("ja", "期限「4月末」は日付として読めません"),
        ("en", "The due date 4月末 is not a date"),
    ],
)
def test_a_bad_due_date_is_explained_in_the_users_language(locale, expected):
    from flask import Flask
    from flask_babel import Babel, force_locale

    from web.catalog import TRANSLATIONS
    from web.curricula_messages import error_message

    with pytest.raises(InputError) as caught:
        curricula.check_date("4月末")
    assert "is not a date" in str(caught.value)  # what the command line prints
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    with app.test_request_context(), force_locale(locale):
        assert error_message(caught.value).startswith(expected)


def test_a_missing_title_names_the_field_in_japanese(conn):
    from flask import Flask
    from flask_babel import Babel, force_locale

    from web.catalog import TRANSLATIONS
    from web.curricula_messages import error_message

    with pytest.raises(InputError) as caught:
        curricula.create(conn, title="  ", goal="", level="basic", description="", created_by=None)
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    with app.test_request_context(), force_locale("ja"):
        assert error_message(caught.value) == "題名を入力してください。"
    assert error_message(InputError("plain")) == "plain"  # no code: the message as it is
