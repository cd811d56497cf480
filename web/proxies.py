"""Who is asking, behind a reverse proxy: the client's address and the host it asked for.

X-Forwarded-For and X-Forwarded-Host are written by whoever sends the request, so they are
believed only when the peer that connected to us is a proxy named in
``DATAINSIGHT_TRUSTED_PROXIES``. The X-Forwarded-For chain is walked from the right (the
hop our proxy appended) past every trusted hop; the first address that is not a trusted
proxy is the client. Whatever the client put further left is its own claim and ignored.
Every place that needs the client's address calls ``request_client_address``.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

import flask

from web.context import current_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _is_trusted(address: str | None, trusted: tuple[Network, ...]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str | None:
    """The client's address from the peer and the X-Forwarded-For header."""
    address = peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    while hops and _is_trusted(address, trusted):
        hop = hops.pop()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed hop: keep the last address a trusted proxy vouched for
        address = hop
    return address


def forwarded_host(host: str, forwarded: str | None, peer: str | None, trusted: tuple[Network, ...]) -> str:
    """The host the client asked for: X-Forwarded-Host (its last value, the one our proxy
    wrote) when the peer is a trusted proxy, else the Host header."""
    if forwarded and _is_trusted(peer, trusted):
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return host


def _trusted() -> tuple[Network, ...]:
    return networks(tuple(current_settings().trusted_proxies))


def request_client_address() -> str | None:
    request = flask.request
    return client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), _trusted())


def peer_is_trusted_proxy() -> bool:
    """Whether the request's peer is a proxy named in DATAINSIGHT_TRUSTED_PROXIES."""
    return is_trusted_proxy(flask.request.remote_addr, current_settings().trusted_proxies)


def is_trusted_proxy(address: str | None, cidrs: tuple[str, ...]) -> bool:
    """Whether ``address`` is a proxy named in ``cidrs``, outside a Flask request (a job
    worker's metrics server)."""
    return _is_trusted(address, networks(tuple(cidrs)))


def request_host() -> str:
    request = flask.request
    return forwarded_host(request.host, request.headers.get("X-Forwarded-Host"), request.remote_addr, _trusted())
