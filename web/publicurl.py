"""The address QR codes and printed cards point at, and whether a phone can open it.

Why: a QR code is read by a phone, so it must carry an address the phone reaches.
The page's own address (``request.host_url``) is right when the page was opened from
the workshop network, but on the server PC it is usually http://127.0.0.1:5000 (the
default of `kb serve`), which every phone resolves to itself.  So:

- ``PUBLIC_URL`` (``--public-url`` / ``KB_PUBLIC_URL``) wins when it is set;
- `kb serve --host 0.0.0.0` without it offers this PC's LAN address (:func:`lan_address`),
  found without any network traffic, so it works offline and never waits;
- a page whose QR address is still a loopback one says so (:func:`is_loopback`).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

ANY_ADDRESS = ("0.0.0.0", "", "::")
# Connecting a UDP socket sends nothing: the kernel only picks the interface (and so the source
# address) it would route this private address through.  No packet, no DNS, no wait.
_PROBES = ("10.255.255.255", "192.168.255.255", "172.31.255.255")
_RESOLVE_SECONDS = 2.0


def is_loopback(url_or_host: str | None) -> bool:
    """True for an address only this computer reaches: localhost, 127.x.x.x, ::1 (or no address)."""
    if not url_or_host:
        return True
    host = urlsplit(url_or_host).hostname if "//" in url_or_host else url_or_host.strip("[]")
    if not host or host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name such as kb.local: reachable if the network resolves it
    return address.is_loopback or address.is_unspecified


def _usable(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast)


def _by_route() -> str | None:
    for probe in _PROBES:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 9))
                address = s.getsockname()[0]
            except OSError:
                continue  # no route to that network (offline, or no such interface)
        if _usable(address):
            return address
    return None


def _by_hostname(timeout: float = _RESOLVE_SECONDS) -> str | None:
    """This PC's name resolved (usually from /etc/hosts or the local resolver), in a thread with a
    timeout: a resolver that waits for an absent DNS server must not hold `kb serve` up."""
    found: list[str] = []

    def resolve():
        try:
            for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
                found.append(sockaddr[0])
        except OSError:
            pass

    worker = threading.Thread(target=resolve, name="lan-address", daemon=True)
    worker.start()
    worker.join(timeout)
    return next((a for a in list(found) if _usable(a)), None)


def lan_address() -> str | None:
    """This PC's IPv4 address on the workshop network (None when it has none but loopback)."""
    return _by_route() or _by_hostname()


def served_url(host: str, port: int, find_lan=lan_address) -> str | None:
    """The address phones can use for a server listening on host:port: the LAN address for 0.0.0.0,
    the host itself when it is a specific non-loopback one, None for a loopback-only server."""
    if host in ANY_ADDRESS:
        address = find_lan()
        return f"http://{address}:{port}" if address else None
    if is_loopback(host):
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def qr_base(config_url: str | None, host_url: str) -> str:
    """The start of every address a QR code or card carries (no trailing slash)."""
    return (config_url or host_url).rstrip("/")
