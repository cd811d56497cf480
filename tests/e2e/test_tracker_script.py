"""The website tracker (assets/tracker/) in Chromium, against two tiny local servers and
no DataInsight server: "site" serves the tracked pages, "analytics" serves the tracker
script and records what is POSTed to /api/collect (as the real endpoint would receive it).
They listen on different ports, so the tracker is a cross-origin script that must find its
endpoint from its own src, not from the page.

Every check runs against both the minified build that /js/tracker.js serves and the
readable source, which keeps the two in step.
"""
from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import EXPECT_TIMEOUT_MS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TRACKER_DIR = Path(__file__).resolve().parents[2] / "assets" / "tracker"
WAIT_SECONDS = 10.0
SITE_KEY = "pk_test_site"

STUB = ("<script>window.datainsight=window.datainsight||function(){"
        "(window.datainsight.q=window.datainsight.q||[]).push(arguments)}</script>")


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path):
        self.root = root
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def recorded(self) -> list[dict]:
        with self.lock:
            return list(self.posts)


class _Handler(SimpleHTTPRequestHandler):
    """Static files from the server's root, and POST /api/collect recorded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(args[2].root), **kwargs)

    def log_message(self, *args):  # quiet
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        with self.server.lock:
            self.server.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                      "origin": self.headers.get("Origin"), "cookie": self.headers.get("Cookie"),
                                      "body": body})
        self.send_response(202)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_OPTIONS(self):  # a preflight would be recorded as a failure of the tracker
        with self.server.lock:
            self.server.posts.append({"path": self.path, "preflight": True})
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "content-type")
        self.end_headers()


def _page(title: str, tag: str, body: str = "", head: str = "") -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{head}{tag}</head>"
            f"<body><h1>{title}</h1>{body}</body></html>")


def _write_site(root: Path, analytics: str, script: str) -> None:
    src = f"{analytics}/{script}"
    tag = f'<script defer data-site="{SITE_KEY}" data-allow-localhost src="{src}"></script>'
    pages = {
        "index.html": _page("Home", tag, '<a id="about" href="about.html?from=home">About</a>'),
        "about.html": _page("About us", tag),
        "spa.html": _page("Shop", tag, """
            <button id="go" onclick="history.pushState({}, '', '/shop/pricing'); document.title='Pricing'">go</button>
            <button id="same" onclick="history.replaceState({n: 1}, '', location.href);
                                       history.pushState({}, '', location.pathname + '#plans')">same</button>
            <button id="back" onclick="history.back()">back</button>"""),
        "signup.html": _page("Sign up", tag, """
            <button id="buy" onclick="datainsight.track('Signup', {plan: 'pro', seats: 3})">buy</button>
            <button id="odd" onclick="datainsight.track('Odd', {ok: true, nested: {a: 1}, list: [1], n: NaN})">odd</button>""",
                             head=STUB + '<script>datainsight("Signup", {plan: "pro", seats: 3})</script>'),
        "dnt.html": _page("Private", tag.replace("data-allow-localhost", "data-allow-localhost data-respect-dnt"),
                          '<button id="buy" onclick="datainsight.track(\'Signup\', {plan: \'pro\'})">buy</button>'),
        "local.html": _page("Local", tag.replace(" data-allow-localhost", ""),
                            '<button id="buy" onclick="datainsight.track(\'Signup\')">buy</button>'),
        "override.html": _page("Override", tag.replace("data-allow-localhost",
                                                       'data-allow-localhost data-api="/api/collect"')),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, html in pages.items():
        (root / name).write_text(html, encoding="utf-8")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    site_root = tmp_path_factory.mktemp("tracked-site")
    analytics_root = tmp_path_factory.mktemp("analytics")
    for name in ("tracker.js", "tracker.min.js"):
        shutil.copy(TRACKER_DIR / name, analytics_root / name)
    site, analytics = _Recorder(site_root), _Recorder(analytics_root)
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
               for s in (site, analytics)]
    for thread in threads:
        thread.start()
    try:
        yield site, analytics
    finally:
        for s in (site, analytics):
            s.shutdown()
            s.server_close()


@pytest.fixture(params=["tracker.min.js", "tracker.js"])
def tracked(request, servers, browser):
    """(site, analytics, new_page): the pages under /<variant>/ load that tracker file."""
    site, analytics = servers
    variant = request.param.replace(".", "-")
    _write_site(site.root / variant, analytics.origin, request.param)
    for s in servers:
        with s.lock:
            s.posts.clear()
    contexts = []

    def new_page(init_script: str | None = None):
        context = browser.new_context()
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        if init_script:
            context.add_init_script(init_script)
        contexts.append(context)
        return context.new_page()

    base = f"{site.origin}/{variant}"
    yield site, analytics, base, new_page
    for context in contexts:
        context.close()


def _events(recorder: _Recorder, count: int) -> list[dict]:
    """The first ``count`` POSTs, waiting for them (they leave the page asynchronously)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        posts = recorder.recorded()
        if len(posts) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(posts) >= count, f"expected {count} requests, got {posts}"
    return posts


def _bodies(posts: list[dict]) -> list[dict]:
    return [p["body"] for p in posts]


def _settle():
    """A short grace for anything that should NOT arrive (asserted as absent after)."""
    time.sleep(0.5)


def test_pageviews_on_load_and_link_navigation(tracked):
    site, analytics, base, new_page = tracked
    page = new_page()
    page.goto(f"{base}/index.html")
    _events(analytics, 1)
    page.click("#about")
    page.wait_for_url("**/about.html?from=home")
    _events(analytics, 2)
    _settle()
    posts = analytics.recorded()
    assert _bodies(posts) == [
        {"site": SITE_KEY, "type": "pageview", "url": f"{base}/index.html", "referrer": "", "title": "Home"},
        {"site": SITE_KEY, "type": "pageview", "url": f"{base}/about.html?from=home",
         "referrer": f"{base}/index.html", "title": "About us"},
    ]
    for post in posts:
        assert post["path"] == "/api/collect"
        assert post["content_type"].startswith("text/plain")  # sendBeacon's Blob: no preflight
        assert post["origin"] == site.origin  # a cross-origin request from the tracked site
        assert post["cookie"] is None
    assert site.recorded() == []  # nothing went to the page's own origin


def test_single_page_navigation_counts_each_new_url_once(tracked):
    site, analytics, base, new_page = tracked
    page = new_page()
    page.goto(f"{base}/spa.html")
    _events(analytics, 1)
    page.click("#go")
    _events(analytics, 2)
    page.click("#same")  # replaceState to the same URL, then pushState of a #fragment only
    _settle()
    assert len(analytics.recorded()) == 2
    page.click("#back")  # popstate to /shop/pricing from its #plans: the same page
    page.wait_for_function("location.hash === ''")
    page.click("#back")  # popstate to the first URL: a view again
    page.wait_for_url("**/spa.html")
    posts = _events(analytics, 3)
    _settle()
    bodies = _bodies(analytics.recorded())
    assert [(b["type"], b["url"]) for b in bodies] == [
        ("pageview", f"{base}/spa.html"),
        ("pageview", f"{site.origin}/shop/pricing"),
        ("pageview", f"{base}/spa.html"),
    ]
    assert bodies[1]["title"] == "Shop"  # recorded as pushState returned, before the page renamed itself
    assert all(b["referrer"] == "" for b in bodies)
    assert posts[1]["path"] == "/api/collect"


def test_custom_events_queued_and_direct(tracked):
    _site, analytics, base, new_page = tracked
    page = new_page()
    page.goto(f"{base}/signup.html")
    _events(analytics, 2)  # the pageview, then the call queued before the script loaded
    page.click("#buy")
    page.click("#odd")
    _events(analytics, 4)
    _settle()
    bodies = _bodies(analytics.recorded())
    url = f"{base}/signup.html"
    signup = {"site": SITE_KEY, "type": "event", "name": "Signup", "url": url, "referrer": "",
              "title": "Sign up", "props": {"plan": "pro", "seats": 3}}
    assert bodies == [
        {"site": SITE_KEY, "type": "pageview", "url": url, "referrer": "", "title": "Sign up"},
        signup,  # queued with datainsight(...) before the tracker loaded
        signup,  # datainsight.track(...) after
        {"site": SITE_KEY, "type": "event", "name": "Odd", "url": url, "referrer": "",
         "title": "Sign up", "props": {"ok": True}},  # nested, list and NaN values left out
    ]


def test_fetch_with_keepalive_when_there_is_no_send_beacon(tracked):
    site, analytics, base, new_page = tracked
    page = new_page("delete Navigator.prototype.sendBeacon;")
    page.goto(f"{base}/signup.html")
    posts = _events(analytics, 2)
    assert page.evaluate("typeof navigator.sendBeacon") == "undefined"
    assert [p["body"]["type"] for p in posts] == ["pageview", "event"]
    assert all(p["content_type"].startswith("text/plain") and p["cookie"] is None for p in posts)
    assert not any(p.get("preflight") for p in analytics.recorded())


def test_data_api_overrides_the_endpoint(tracked):
    site, analytics, base, new_page = tracked
    page = new_page()
    page.goto(f"{base}/override.html")
    posts = _events(site, 1)
    assert posts[0]["path"] == "/api/collect" and posts[0]["body"]["title"] == "Override"
    _settle()
    assert analytics.recorded() == []


def test_do_not_track_and_localhost_send_nothing(tracked):
    site, analytics, base, new_page = tracked
    dnt = new_page("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});")
    dnt.goto(f"{base}/dnt.html")
    dnt.wait_for_function("typeof window.datainsight === 'function' && !!window.datainsight.track")
    dnt.click("#buy")  # the API is there, and silent
    local = new_page()
    local.goto(f"{base}/local.html")  # 127.0.0.1 without data-allow-localhost
    local.wait_for_function("typeof window.datainsight === 'function' && !!window.datainsight.track")
    local.click("#buy")
    # DNT is respected only when the site asks: without data-respect-dnt the same browser counts.
    counted = new_page("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});")
    counted.goto(f"{base}/about.html")
    _events(analytics, 1)
    _settle()
    posts = analytics.recorded()
    assert [p["body"]["url"] for p in posts] == [f"{base}/about.html"]
    assert site.recorded() == []
