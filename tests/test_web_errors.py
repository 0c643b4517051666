"""The web app's one error path (web.errors.handle_exception): typed exceptions in, the API's one error shape
or the status page out, chosen in one place (web.http.answers_json).

Over a real app on an empty knowledge base (real SQLite, no demo), with a few routes added here that raise
what views raise."""

from __future__ import annotations

import sqlite3

import pytest

from kb.errors import InputError, NotFound


class _MissingThing(NotFound):
    """A domain error of its own class: found by isinstance, never by its name."""


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from web import auth
    from web.app import create_app
    from web.errors import BEARER, ApiRefused, BadRequest, Refused

    app = create_app({"KB_HOME": str(tmp_path_factory.mktemp("kb")), "TESTING": True})

    def raising(exc_factory):
        def view():
            raise exc_factory()

        return auth.public(view)

    routes = {
        "/t/refused": lambda: Refused(
            409, "Only a failed recording can be tried again.", "not_failed", page="studio/problem.html"
        ),
        "/t/refused-plain": lambda: Refused(403, "Not yours.", headers=BEARER),
        "/t/api-refused": lambda: ApiRefused(401, "a worker token is needed", "worker_token_required", headers=BEARER),
        "/t/not-found": lambda: _MissingThing("no thing with id 5"),
        "/t/bad-request": lambda: BadRequest("The limit must be a whole number.", "invalid_limit"),
        "/t/overflow": lambda: OverflowError("Python int too large to convert to SQLite INTEGER"),
        "/t/disk-full": lambda: sqlite3.OperationalError("database or disk is full"),
        "/t/input": lambda: InputError("a KBError no handler names"),
    }
    for path, factory in routes.items():
        app.add_url_rule(path, path.strip("/").replace("/", "_"), raising(factory))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an unhandled error is the 500 page, as in production
    with app.test_client() as c:
        yield c
    app.extensions["search_service"].close()


JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def test_a_refusal_is_the_apis_one_shape_in_json_and_its_own_page_in_html(client):
    r = client.get("/t/refused", headers=JSON)
    assert r.status_code == 409
    assert r.get_json() == {"error": "Only a failed recording can be tried again.", "code": "not_failed", "status": 409}
    r = client.get("/t/refused", headers=HTML)
    assert r.status_code == 409 and r.mimetype == "text/html"
    assert "Only a failed recording can be tried again." in r.get_data(as_text=True)
    assert 'class="studio-error"' in r.get_data(as_text=True)  # the page the refusal named


def test_a_refusal_without_a_code_gets_its_statuss_code_and_keeps_its_headers(client):
    r = client.get("/t/refused-plain", headers=JSON)
    assert r.get_json() == {"error": "Not yours.", "code": "forbidden", "status": 403}
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = client.get("/t/refused-plain", headers=HTML)
    assert r.status_code == 403 and "Not yours." in r.get_data(as_text=True)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_api_refusal_is_json_whatever_the_request_asks(client):
    r = client.get("/t/api-refused", headers=HTML)
    assert r.status_code == 401 and r.mimetype == "application/json"
    assert r.get_json()["code"] == "worker_token_required"
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="takumi-kb"'


def test_a_subclass_of_not_found_is_a_404_with_its_detail(client):
    r = client.get("/t/not-found", headers=JSON)
    assert r.status_code == 404
    body = r.get_json()
    assert body["code"] == "not_found" and body["detail"] == "no thing with id 5"
    assert client.get("/t/not-found", headers=HTML).status_code == 404


def test_bad_request_overflow_and_a_full_disk(client):
    r = client.get("/t/bad-request", headers=JSON)
    assert (r.status_code, r.get_json()["code"]) == (400, "invalid_limit")
    r = client.get("/t/overflow", headers=JSON)
    assert (r.status_code, r.get_json()["code"]) == (400, "bad_request")
    r = client.get("/t/disk-full", headers=JSON)
    assert (r.status_code, r.get_json()["code"]) == (507, "storage_full")


def test_an_error_no_handler_names_is_a_500_in_the_same_shape(client):
    r = client.get("/t/input", headers=JSON)
    assert r.status_code == 500
    assert r.get_json()["code"] == "server_error"


def test_an_api_address_answers_json_and_a_page_html(client):
    r = client.get("/api/v1/no-such-thing", headers=HTML)
    assert r.status_code == 404 and r.get_json()["code"] == "not_found"
    r = client.get("/no-such-page", headers=HTML)
    assert r.status_code == 404 and r.mimetype == "text/html"
