"""GET /js/tracker.js: the website tracker other sites embed. Public, cacheable, open to
every origin, revalidated by ETag; and the app's own pages never load it."""
from __future__ import annotations

from pathlib import Path

MIN_JS = Path(__file__).resolve().parents[2] / "assets" / "tracker" / "tracker.min.js"


def test_the_script_is_served_to_anyone(app):
    anonymous = app.server.test_client()  # no cookie, no token, no Origin of ours
    answer = anonymous.get("/js/tracker.js", headers={"Origin": "https://shop.example"})
    assert answer.status_code == 200
    assert answer.data == MIN_JS.read_bytes()
    assert answer.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert answer.headers["Cache-Control"] == "public, max-age=3600"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["ETag"].startswith('"') and len(answer.headers["ETag"]) > 10
    assert "Set-Cookie" not in answer.headers


def test_a_known_etag_gets_304_without_a_body(app):
    client = app.server.test_client()
    etag = client.get("/js/tracker.js").headers["ETag"]
    again = client.get("/js/tracker.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=3600"
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    changed = client.get("/js/tracker.js", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.data == MIN_JS.read_bytes()


def test_served_before_the_first_account_exists(app, app_storage):
    # Every page redirects to /setup then; the script must not.
    assert app_storage.users.needs_setup()
    answer = app.server.test_client().get("/js/tracker.js")
    assert answer.status_code == 200 and answer.data == MIN_JS.read_bytes()


def test_head_answers_like_get(app):
    answer = app.server.test_client().head("/js/tracker.js")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert int(answer.headers["Content-Length"]) == MIN_JS.stat().st_size


def test_the_minified_script_stays_small():
    assert MIN_JS.stat().st_size < 2048


def test_the_apps_own_pages_do_not_load_the_tracker(app):
    client = app.server.test_client()
    page = client.get("/setup").get_data(as_text=True)  # no account yet: the first page
    assert "/assets/grid.js" in page  # Dash includes the scripts under assets/...
    assert "tracker" not in page  # ...but not assets/tracker/ (app.py: assets_path_ignore)
