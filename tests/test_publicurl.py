"""The address QR codes point at (web.publicurl, web.serve.choose_public_url) and the editor's times
(kb.timecodes.clock / parse_clock): unit tests, plus `kb serve --host 0.0.0.0` run for real."""

from __future__ import annotations

import ipaddress
import socket
import threading

import pytest

from web import publicurl


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("http://127.0.0.1:5000", True),
        ("http://localhost:5000/", True),
        ("http://[::1]:5000", True),
        ("127.0.0.2", True),
        ("http://0.0.0.0:5000", True),
        (None, True),
        ("http://app.localhost", True),
        ("http://192.168.1.10:5000", False),
        ("http://kb.local:5000", False),
        ("10.0.0.5", False),
    ],
)
def test_loopback_addresses_are_recognised(address, loopback):
    assert publicurl.is_loopback(address) is loopback


def test_served_url_offers_the_lan_address_for_every_interface():
    assert publicurl.served_url("0.0.0.0", 5000, lambda: "192.168.1.23") == "http://192.168.1.23:5000"
    assert publicurl.served_url("0.0.0.0", 5000, lambda: None) is None  # no network: nothing made up
    assert publicurl.served_url("127.0.0.1", 5000, lambda: "192.168.1.23") is None  # only this PC listens
    assert publicurl.served_url("192.168.1.7", 8080, lambda: "x") == "http://192.168.1.7:8080"


def test_lan_address_is_a_real_non_loopback_ipv4_of_this_machine_or_none():
    found = publicurl.lan_address()
    if found is not None:
        ip = ipaddress.ip_address(found)
        assert ip.version == 4 and not ip.is_loopback
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((found, 0))  # it is one of this machine's own addresses


def test_no_network_gives_none_without_waiting_on_a_resolver(monkeypatch):
    """Offline: the route probe fails and a resolver that never answers is abandoned (a thread with a timeout)."""
    hang = threading.Event()

    class NoRoute(socket.socket):
        def connect(self, address):
            raise OSError("Network is unreachable")

    def never(*args, **kwargs):
        hang.wait(30)
        raise OSError("gave up")

    monkeypatch.setattr(publicurl.socket, "socket", NoRoute)
    monkeypatch.setattr(publicurl.socket, "getaddrinfo", never)
    assert publicurl._by_route() is None
    assert publicurl._by_hostname(timeout=0.2) is None
    hang.set()


def test_the_hostname_fallback_skips_loopback_addresses(monkeypatch):
    monkeypatch.setattr(
        publicurl.socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, 0, 0, "", ("127.0.1.1", 0)), (socket.AF_INET, 0, 0, "", ("192.168.5.9", 0))],
    )
    assert publicurl._by_hostname() == "192.168.5.9"


def test_kb_serve_sets_the_qr_address_unless_one_is_given():
    from flask import Flask

    from web.serve import choose_public_url

    app = Flask("t")
    lines = choose_public_url(app, "0.0.0.0", 5000, find_lan=lambda: "192.168.1.23")
    assert app.config["PUBLIC_URL"] == "http://192.168.1.23:5000" and "http://192.168.1.23:5000" in lines[0]
    given = Flask("t")
    given.config["PUBLIC_URL"] = "http://kb.local:5000"
    choose_public_url(given, "0.0.0.0", 5000, find_lan=lambda: "192.168.1.23")
    assert given.config["PUBLIC_URL"] == "http://kb.local:5000"
    local = Flask("t")
    lines = choose_public_url(local, "127.0.0.1", 5000, find_lan=lambda: "192.168.1.23")
    assert not local.config.get("PUBLIC_URL") and "--host 0.0.0.0" in lines[0] and "--public-url" in lines[0]


@pytest.mark.slow
def test_kb_serve_on_every_interface_announces_the_lan_address(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, KB_HOME=str(tmp_path / "kb"), PYTHONUNBUFFERED="1", KB_SERVE_WORKER="0")
    env.pop("KB_PUBLIC_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "serve", "--host", "0.0.0.0", "--port", str(port), "--no-warm"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f":{port}/" in first
    lan = publicurl.lan_address()
    if lan:
        assert f"http://{lan}:{port}" in second and "QR" in second
    else:
        assert "--public-url" in second


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("01:05", 65.0),
        ("1:05.5", 65.5),
        ("1:02:15", 3735.0),
        ("65", 65.0),
        ("０１：０５", 65.0),
        ("00:05,5", 5.5),
        ("", None),
        ("abc", None),
        ("1:60", None),
        ("-1", None),
        ("1::2", None),
        ("1:2:3:4", None),
        ("1:61:00", None),
    ],
)
def test_typed_times_are_read_as_a_person_writes_them(text, seconds):
    from kb.timecodes import parse_clock

    assert parse_clock(text) == seconds


def test_times_are_written_as_minutes_and_seconds_and_hours_past_an_hour():
    from kb.timecodes import clock, parse_clock

    assert clock(5.06) == "00:05" and clock(0.0) == "00:00" and clock(3725) == "1:02:05"
    assert all(parse_clock(clock(t)) == int(t) for t in (0, 5.06, 59.9, 61, 3599, 3600, 7325.5))
