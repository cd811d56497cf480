"""Cross-site request forgery: a state change carried by the session cookie must come from
one of our own pages.

A browser attaches the cookie to requests that any other site makes it send (a form post,
a fetch), so every request with a method other than GET/HEAD/OPTIONS that is not
authenticated by an ``Authorization`` header (which no other site can make a browser add)
must show that it comes from here: an ``Origin`` whose host is the host the request was
sent to (X-Forwarded-Host counts only from a trusted proxy, see web.proxies), or when
Origin is missing a ``Referer`` from that host, or the session's CSRF token in the
``X-CSRF-Token`` header (for scripts that use the cookie). Browsers send Origin on every
fetch and form post, the Dash renderer's included. A request with neither header is
refused when it carries our cookies and allowed otherwise: with no cookie there is nothing
to forge. Anonymous posts (the sign-in callback) are checked too, against login CSRF.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import urlsplit

import flask

from web.proxies import request_host

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_HEADER = "X-CSRF-Token"
DEFAULT_PORTS = {"http": "80", "https": "443"}


def csrf_token(session_key: str) -> str:
    """The token of one sign-in session (it dies with the session)."""
    secret = flask.current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, f"csrf:{session_key}".encode("utf-8"), hashlib.sha256).hexdigest()


def _host(netloc: str, scheme: str | None) -> str:
    netloc = netloc.strip().lower()
    host, sep, port = netloc.rpartition(":")
    if sep and "]" not in port and port in DEFAULT_PORTS.values() and (scheme is None or DEFAULT_PORTS.get(scheme) == port):
        return host
    return netloc


def same_host(source: str, host: str) -> bool:
    """Whether an Origin or Referer value names ``host`` (ports compared, defaults dropped)."""
    parts = urlsplit(source.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return False  # "null", file:, a browser extension...
    return _host(parts.netloc, parts.scheme) == _host(host, None)


def _carries_our_cookies(request, cookie_names: tuple[str, ...]) -> bool:
    return any(name in request.cookies for name in cookie_names)


def cross_site_refusal(session_key, cookie_names: tuple[str, ...]):
    """None when the request may go on, else the 403 answer. ``session_key`` is a
    callable giving the current session's key (or None), asked only when a token is sent."""
    request = flask.request
    if request.method in SAFE_METHODS or request.headers.get("Authorization", "").strip():
        return None
    source = request.headers.get("Origin")
    if source is None:
        source = request.headers.get("Referer")
    if source is not None:
        if same_host(source, request_host()):
            return None
    elif not _carries_our_cookies(request, cookie_names):
        return None
    token = request.headers.get(TOKEN_HEADER, "")
    key = session_key() if token else None
    if key and hmac.compare_digest(token, csrf_token(key)):
        return None
    # Operators behind a proxy that rewrites Host see here why every change is refused.
    log.warning("refused %s %s as cross-site: source %r, host %r", request.method, request.path,
                source, request_host())
    response = flask.jsonify({"error": {
        "code": "cross_site_request",
        "message": "This request did not come from DataInsight's own pages, so it was refused. "
                   "Reload the page and try again; scripts authenticate with an API token "
                   "(Authorization: Bearer ...) or send the session's X-CSRF-Token header.",
    }})
    response.status_code = 403
    return response
