"""The URL fields of one collected event: hostname, path, UTM tags, referring site.

A browser posts the page's ``location.href`` and ``document.referrer`` with each
event. We store grouped, bounded fields rather than the raw strings (which carry query
strings with session ids, e-mail addresses in ``?email=``, tokens in fragments, ...):
the hostname and path of the page, its five UTM tags, and the referring site's
hostname. The endpoint is public, so anything may arrive; these helpers never raise,
and return empty strings for what they cannot read. Pure: no Flask, no storage.

Decisions (following Plausible where it has one):

* Only absolute ``http``/``https`` URLs are pages. ``location.href`` is always
  absolute; a value without a scheme ("example.com/x", "/x", "//example.com/x"), or with
  another one (``javascript:``, ``data:``, ``file:``, ``about:``) gives ``("", "")``.
* Hostnames are lower-case, without port, user info or IPv6 brackets, and without a
  leading ``www.`` (Plausible strips it too: www.example.com and example.com are one
  site). Longer than 253 characters (DNS's limit) is no host. Internationalised names are kept in Unicode: punycode labels (``xn--...``, the
  form browsers send) are decoded, so ``xn--bcher-kva.example`` and ``bücher.example``
  group together.
* Paths are percent-decoded (``/caf%C3%A9`` and ``/café`` are one page; invalid UTF-8
  becomes U+FFFD), keep their trailing slash, lose query string and fragment, are ``/``
  when empty, and are cut at :data:`MAX_PATH` characters.
* UTM values are the first one given, trimmed and cut at :data:`MAX_UTM` characters.
  ``utm_source`` falls back to ``source`` then ``ref`` (Plausible's order:
  ``?ref=producthunt`` is a source). Parameter names match case-insensitively.
* The referrer is the referring site's hostname (same normalisation), or "" when it is
  missing, unreadable, or the page's own site (internal navigation is not a
  referral; a different subdomain is). ``android-app://com.google.android.gm/``
  referrers (Android apps opening a link) give the app id, ``com.google.android.gm``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["split_url", "utm", "referrer_host", "UTM_KEYS", "MAX_PATH", "MAX_UTM", "MAX_URL"]

MAX_URL = 8_192  # read at most this much of any URL (bounds parsing work)
MAX_PATH = 2_000
MAX_UTM = 200
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
_SOURCE_FALLBACKS = ("source", "ref")
_MAX_QUERY_FIELDS = 200

_MAX_HOST = 253  # DNS's limit; longer is not a host name
_WEB_SCHEMES = frozenset({"http", "https"})
# what may not appear in a host name once urlsplit has taken port and user info away
_BAD_HOST = re.compile(r"[\s/\\?#@<>\"'{}|^`%,;()\[\]]|\.\.|^\.|^-")


def split_url(url: str | None) -> tuple[str, str]:
    """``(hostname, path)`` of a page URL; ``("", "")`` when it is not a readable
    absolute http(s) URL."""
    parts = _split(url)
    if parts is None or parts.scheme not in _WEB_SCHEMES:
        return "", ""
    host = _hostname(parts.hostname)
    if not host:
        return "", ""
    path = unquote(parts.path, errors="replace") or "/"
    if not path.startswith("/"):
        path = "/" + path
    return host, path[:MAX_PATH]


def utm(url: str | None) -> dict[str, str]:
    """The five UTM tags of a page URL, each "" when absent (all "" for a bad URL)."""
    found = dict.fromkeys(UTM_KEYS, "")
    parts = _split(url)
    if parts is None or parts.scheme not in _WEB_SCHEMES or not parts.query:
        return found
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=False, errors="replace",
                          max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError:  # more fields than that: read the first ones only
        pairs = parse_qsl("&".join(parts.query.split("&")[:_MAX_QUERY_FIELDS]),
                          errors="replace")
    first: dict[str, str] = {}
    for key, value in pairs:
        value = value.strip()
        if value:
            first.setdefault(key.strip().lower(), value)
    for key in UTM_KEYS:
        found[key] = first.get(key, "")[:MAX_UTM]
    if not found["utm_source"]:
        for key in _SOURCE_FALLBACKS:
            if first.get(key):
                found["utm_source"] = first[key][:MAX_UTM]
                break
    return found


def referrer_host(referrer: str | None, own_hostname: str | None) -> str:
    """The referring site's hostname; "" for none, unreadable, or the same site."""
    parts = _split(referrer)
    if parts is None:
        return ""
    if parts.scheme == "android-app":
        return _hostname(parts.hostname)
    if parts.scheme not in _WEB_SCHEMES:
        return ""
    host = _hostname(parts.hostname)
    if not host:
        return ""
    own = _own_hostname(own_hostname)
    return "" if host == own else host


def _split(url: object):
    if not isinstance(url, str):
        return None
    url = url[:MAX_URL].strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 - raises ValueError for a bad IPv6 literal
    except ValueError:
        return None
    return parts


def _own_hostname(own: object) -> str:
    if not isinstance(own, str) or not own.strip():
        return ""
    own = own.strip()
    if "://" not in own:
        own = "http://" + own
    parts = _split(own)
    return _hostname(parts.hostname) if parts is not None else ""


def _hostname(host: str | None) -> str:
    if not host:
        return ""
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > _MAX_HOST or _BAD_HOST.search(host):
        return ""
    if "xn--" in host:
        host = ".".join(_decode_label(label) for label in host.split("."))
    if host.startswith("www.") and len(host) > 4:
        host = host[4:]
    return host


def _decode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        # the idna codec checks the label round-trips, unlike a bare punycode decode
        return label.encode("ascii").decode("idna").lower()
    except (UnicodeError, ValueError):
        return label
