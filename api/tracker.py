"""GET /js/tracker.js: the website analytics script that other sites embed.

It is the hand-minified build assets/tracker/tracker.min.js (source: tracker.js beside
it). Public (web.auth lists the path with the static assets: no sign-in, no session
looked up), cacheable for an hour, loadable from any origin, and revalidated by ETag.
The folder is kept out of the app's own pages (``assets_path_ignore`` in app.py).
"""
from __future__ import annotations

import hashlib

import flask

from settings import PROJECT_ROOT

SCRIPT_PATH = PROJECT_ROOT / "assets" / "tracker" / "tracker.min.js"
MAX_AGE_SECONDS = 3600

blueprint = flask.Blueprint("tracker", __name__)


_cache: dict = {}  # (mtime, size) -> (bytes, etag): re-read only when the file changed


def _script() -> tuple[bytes, str]:
    """The script's bytes and their ETag."""
    stat = SCRIPT_PATH.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        body = SCRIPT_PATH.read_bytes()
        _cache.clear()
        _cache[key] = (body, hashlib.sha256(body).hexdigest()[:32])
    return _cache[key]


@blueprint.get("/js/tracker.js")
def tracker_script():
    body, etag = _script()
    response = flask.Response(body, mimetype="application/javascript")
    response.headers["Content-Type"] = "application/javascript; charset=utf-8"
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(etag)
    # 304 with no body when If-None-Match names this ETag; the headers above stay.
    return response.make_conditional(flask.request)
