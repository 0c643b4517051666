"""End to end in headless Chromium: a meister logs a coaching session, a coordinator confirms it,
and the programme dashboard's figures move by exactly that session.

Over a private copy of the demo knowledge base, served by the real server:

1. the coordinator opens the dashboard (/programme, this fiscal year, every organisation) and
   reads coaching_sessions and coaching_hours;
2. the meister logs in through the login page, on a phone, and logs a session through the form
   (a Japanese technique, 2.5 hours, one technician); the page fits the phone's screen;
3. the coordinator's dashboard shows the same figures (the session is not confirmed yet);
   the coordinator confirms it from the "waiting for confirmation" list;
4. the dashboard now shows one session and 2.5 hours more, and the coaching_sessions figure
   opens its trace, which lists the new session.

The dashboard's contract (web/views/programme.py): every figure is an element with
data-figure="<name>" holding an element of class "figure-value" whose text is the number,
and a link to the figure's trace.  Console errors (CSP violations show up there) fail the test.
"""

from __future__ import annotations

import re

import pytest

from helpers.web import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
)

TECHNIQUE = "E2E 精密研削の段取り"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def server(own, users):
    from web.serve import background_server

    app, conn = own
    with background_server(app) as running:
        yield running, conn, users


def open_as(playwright, running, login: str, password: str, errors: list, options: dict = DESKTOP):
    from helpers.web import open_logged_in

    return open_logged_in(playwright, running.url, login, password, errors, **options)


def figures(page, url: str) -> tuple[int, float]:
    """(coaching_sessions, coaching_hours) as the dashboard shows them."""
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"

    def value(name: str) -> float:
        text = page.locator(f'[data-figure="{name}"] .figure-value').first.inner_text()
        return float(text.strip().replace(",", ""))

    return int(value("coaching_sessions")), value("coaching_hours")


def test_a_logged_session_counts_once_a_coordinator_confirms_it(server, playwright):
    from kb import coaching, programme

    running, conn, users = server
    errors: list[str] = []
    fy = programme.current_fiscal_year()
    dashboard = f"{running.url}/programme?fy={fy}&org="
    apprentice = conn.execute("SELECT id FROM users WHERE login = ?", (users["apprentice"][0],)).fetchone()[0]

    # 1. The coordinator reads the figures before.
    coordinator, c_page = open_as(playwright, running, *users["coordinator"], errors)
    sessions_before, hours_before = figures(c_page, dashboard)

    # 2. The meister logs a session on a phone, through the form.
    meister, m_page = open_as(playwright, running, *users["meister"], errors, PHONE)
    m_page.goto(running.url + "/coaching")
    m_page.click("#log-session")
    m_page.wait_for_url(re.compile(r"/coaching/new$"))
    assert m_page.input_value("#cs-date") == coaching_today()
    m_page.fill("#cs-technique", TECHNIQUE)
    m_page.fill("#cs-hours", "2.5")
    m_page.check(f"#cs-technicians input[name=technicians][value='{apprentice}']")
    m_page.fill("#cs-notes", "芯出しを一緒に三回やった")
    assert m_page.evaluate("() => document.documentElement.scrollWidth") <= 360
    m_page.click("#save-session")
    m_page.wait_for_url(re.compile(r"/coaching/\d+\?saved=1$"))
    sid = int(re.search(r"/coaching/(\d+)", m_page.url).group(1))
    assert m_page.locator("#session-technique").inner_text() == TECHNIQUE
    assert m_page.locator("#session-status").get_attribute("data-confirmed") == "0"
    assert m_page.evaluate("() => document.documentElement.scrollWidth") <= 360
    meister.close()
    s = coaching.get_session(conn, sid)
    assert (s["technique"], s["hours"], [t["id"] for t in s["technicians"]], s["confirmed"]) == (
        TECHNIQUE,
        2.5,
        [apprentice],
        False,
    )

    # 3. Not confirmed yet: the figures have not moved.  The coordinator confirms it from the queue.
    assert figures(c_page, dashboard) == (sessions_before, hours_before)
    c_page.goto(running.url + "/coaching")
    c_page.click("#show-waiting")
    c_page.wait_for_url(re.compile(r"status=waiting"))
    row = c_page.locator(f"#session-{sid}")
    assert TECHNIQUE in row.inner_text()
    row.locator("button.confirm-session").click()
    c_page.wait_for_load_state()
    c_page.wait_for_selector(f"#session-{sid}", state="detached")
    assert coaching.get_session(conn, sid)["confirmed"]
    assert "確認しました。" in c_page.locator("#confirmed-notice").inner_text()  # it says so (issue 14, item 10)

    # 4. Confirmed: one session and 2.5 hours more; the figure's trace lists the session.
    sessions_after, hours_after = figures(c_page, dashboard)
    assert sessions_after == sessions_before + 1
    assert hours_after == pytest.approx(hours_before + 2.5)
    c_page.locator('[data-figure="coaching_sessions"] a').first.click()
    c_page.wait_for_load_state()
    assert TECHNIQUE in c_page.locator("main").inner_text()
    # 5. The month's bars (issue 14, item 9): the technician coached this month is in this month's bar of
    # 指導を受けた技術者数 however early in the year he was first coached; clicking the bar lists him.
    month = coaching_today()[:7]
    c_page.goto(dashboard)
    card = c_page.locator('[data-figure="technicians_reached"]')
    assert "各棒:その月に指導を受けた技術者の人数" in card.locator(".chart-help").inner_text()
    card.locator(f'a.chart-link[data-month="{month}"]').click()
    c_page.wait_for_url(re.compile(rf"/programme/figures/technicians_reached\?.*month={month}"))
    assert c_page.locator(f'tr[data-kind="user"][data-id="{apprentice}"]').count() == 1
    assert c_page.locator(f'tr[data-id="{apprentice}"] td').nth(1).inner_text().startswith(month)
    coordinator.close()

    assert errors == []


def coaching_today() -> str:
    from web.coaching_form import today

    return today()
