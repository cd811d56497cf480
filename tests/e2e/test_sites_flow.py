"""Issue 13's website analytics as a person uses them: on /sites they add a site, open it and
copy its snippet into a static page served on 127.0.0.1 (with ``data-allow-localhost``,
which the tracker needs there); Chromium visits that page, follows a link to a second one,
navigates inside it with pushState and sends a custom event with
``datainsight.track("Signup", {plan: "pro"})``, the tracker loading from the app server's
/js/tracker.js and posting to its /api/collect. The site's page (period "Today") then
shows one visitor and three pageviews, the pages, the event with its property and the
realtime box: on its own within one refresh, and within 5 seconds of opening the page.
Screenshots at a desktop's and a phone's width go to tests/e2e/artifacts/, and at 375 px
nothing scrolls sideways (tables scroll inside their cards)."""
from __future__ import annotations

import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS
from tests.e2e.test_main_flow import ensure_account, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

EMAIL, PASSWORD, NAME = "sita@example.com", "sita's long password", "Sita Sites"
SITE_NAME, DOMAIN = "Demo shop", "demo-shop.example.com"
REFRESH_SECONDS = 10
WIDTHS = {"desktop": (1280, 900), "phone": (375, 812)}
# Headless Chromium names itself HeadlessChrome, which collection drops as a bot: the
# visitor's browser says what a person's Chrome says.
VISITOR_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                 "Safari/537.36")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@pytest.fixture
def static_site(tmp_path):
    """A tiny static web server on 127.0.0.1 serving ``tmp_path``: (root, origin)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _write_pages(root: Path, tag: str) -> None:
    def page(title: str, body: str) -> str:
        return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{tag}</head>"
                f"<body><h1>{title}</h1>{body}</body></html>")

    (root / "index.html").write_text(page("Home", '<a id="next" href="/pricing.html">Pricing</a>'), encoding="utf-8")
    (root / "pricing.html").write_text(page("Pricing", """
        <button id="plans" onclick="history.pushState({}, '', '/pricing/plans'); document.title='Plans'">plans</button>
        <button id="signup" onclick="datainsight.track('Signup', {plan: 'pro'})">sign up</button>"""),
        encoding="utf-8")


def _stats(page: Page, site_id: int) -> dict:
    answer = page.request.get(f"/api/v1/sites/{site_id}/stats/overview?period=day")
    assert answer.ok, answer.text()
    return answer.json()


def _wait_for(page: Page, site_id: int, pageviews: int) -> None:
    """Until the site's stats count ``pageviews`` (each beacon leaves the page on its own)."""
    deadline = time.monotonic() + EXPECT_TIMEOUT_MS / 1000
    while _stats(page, site_id)["pageviews"]["value"] < pageviews:
        assert time.monotonic() < deadline, f"the stats never counted {pageviews} pageviews"
        time.sleep(0.2)


def _shots(page: Page, name: str) -> None:
    """Full-page screenshots at a desktop's and a phone's width; nothing scrolls sideways."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the layout settles, and plotly redraws for its width
        page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .main-svg')].every(svg => "
                               "svg.getBoundingClientRect().width <= svg.closest('.js-plotly-plot')"
                               ".parentElement.getBoundingClientRect().width + 1)")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}"
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["desktop"])))


def test_a_site_counts_the_visits_of_its_snippet(new_page, browser, live_server, base_url, static_site):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page: Page = new_page()
    sign_in(page, EMAIL, PASSWORD)

    # Add the site on /sites, and open it.
    page.locator("#nav-link-sites").click()
    expect(page.locator("#page-body h1")).to_have_text("Sites")
    expect(page.locator("#sites-none")).to_be_visible()
    page.fill("#sites-name", SITE_NAME)
    page.fill("#sites-domain", "not a domain")
    page.click("#sites-add")
    expect(page.locator("#sites-form-feedback")).to_contain_text("is not a domain name such as example.com")
    page.fill("#sites-domain", f"https://www.{DOMAIN}/")
    page.click("#sites-add")
    expect(page.locator("#sites-form-feedback")).to_contain_text(f"Added {SITE_NAME}")
    row = page.locator(".site-row", has_text=SITE_NAME)
    expect(row).to_contain_text(DOMAIN)
    expect(row).to_contain_text("0visitors today")
    _shots(page, "sites-list")
    page.click("#sites-added-link")
    page.wait_for_url("**/sites/*")
    site_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#page-body h1")).to_have_text(SITE_NAME)
    expect(page.locator("#site-metric-pageviews")).to_have_text("0")
    expect(page.locator("#site-realtime-visitors")).to_have_text("0")

    # The snippet, as the person copies it, with data-allow-localhost for 127.0.0.1.
    snippet = page.locator("#site-snippet").inner_text().strip()
    assert snippet.startswith(f'<script defer src="{base_url}/js/tracker.js" data-site="site_')
    expect(page.locator("#site-snippet-copy")).to_be_visible()
    root, origin = static_site
    _write_pages(root, snippet.replace("<script defer", "<script defer data-allow-localhost", 1))

    # A visitor: two pages, a pushState navigation, a custom event.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, user_agent=VISITOR_AGENT)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        visitor = context.new_page()
        loaded = []
        visitor.on("response", lambda r: loaded.append((r.url, r.status)) if "tracker.js" in r.url else None)
        visitor.goto(f"{origin}/index.html")
        _wait_for(page, site_id, 1)
        assert (f"{base_url}/js/tracker.js", 200) in loaded  # from the app server, not the static site
        visitor.click("#next")
        visitor.wait_for_url("**/pricing.html")
        _wait_for(page, site_id, 2)
        visitor.click("#plans")
        visitor.wait_for_url("**/pricing/plans")
        _wait_for(page, site_id, 3)
        visitor.click("#signup")
        deadline = time.monotonic() + EXPECT_TIMEOUT_MS / 1000
        while not page.request.get(f"/api/v1/sites/{site_id}/stats/events?period=day").json()["events"]:
            assert time.monotonic() < deadline, "the custom event never arrived"
            time.sleep(0.2)
    finally:
        context.close()

    # The open page draws them on its next refresh...
    metric = page.locator("#site-metric-pageviews")
    expect(metric).to_have_text("3", timeout=(REFRESH_SECONDS + 5) * 1000)
    expect(page.locator("#site-realtime-visitors")).to_have_text("1")
    # ... and a page opened now shows them within 5 seconds.
    page.goto(f"/sites/{site_id}")
    expect(page.locator("#site-period")).to_have_value("day")
    expect(metric).to_have_text("3", timeout=5000)
    expect(page.locator("#site-metric-visitors")).to_have_text("1", timeout=5000)
    expect(page.locator("#site-metric-visits")).to_have_text("1")
    expect(page.locator("#site-metric-bounce_rate")).to_have_text("0%")
    events = page.locator("#site-events-table")
    expect(events).to_contain_text("Signup", timeout=5000)
    expect(events).to_contain_text("plan: pro (1)")
    pages = page.locator("#site-top-pages")
    for path in ("/index.html", "/pricing.html", "/pricing/plans"):
        expect(pages).to_contain_text(path)
    expect(page.locator("#site-entry-pages")).to_contain_text("/index.html")
    expect(page.locator("#site-exit-pages")).to_contain_text("/pricing/plans")
    expect(page.locator("#site-browsers")).to_contain_text("Chrome")
    expect(page.locator("#site-realtime")).to_contain_text("1visitor in the last 5 minutes")
    drawn = page.locator("#site-timeseries .js-plotly-plot").evaluate(
        "g => g.data.map(t => Array.from(t.y).reduce((a, b) => a + b, 0))")
    assert drawn == [1, 3]  # visitors, pageviews
    expect(page.locator("#site-open-dataset")).to_have_attribute("href", f"/datasets/{_dataset(page, site_id)}")
    _shots(page, "sites-site")

    # Another period keeps them (today is inside the last 7 days).
    page.select_option("#site-period", "7d")
    expect(metric).to_have_text("3")

    # Open as dashboard: the web-analytics dashboard of the site's events.
    page.click("#site-dashboard")
    page.wait_for_url("**/dashboards/*")
    expect(page.locator(".widget-card").first).to_be_visible()

    # The list counts today's visitor; Delete asks first, then the site is gone.
    page.locator("#nav-link-sites").click()
    row = page.locator(".site-row", has_text=SITE_NAME)
    expect(row).to_contain_text("1visitor today")
    page.click(f"[id='{{\"index\":{site_id},\"type\":\"site-delete-open\"}}']")
    confirm = page.locator(f"[id='{{\"index\":{site_id},\"type\":\"site-delete\"}}']")
    expect(confirm).to_be_visible()
    expect(row).to_contain_text(f"Delete the site “{SITE_NAME}”?")
    confirm.click()
    expect(page.locator("#sites-action-feedback")).to_contain_text("Deleted")
    expect(page.locator("#sites-none")).to_be_visible()
    assert page.request.get(f"/api/v1/sites/{site_id}").status == 404


def _dataset(page: Page, site_id: int) -> int:
    return page.request.get(f"/api/v1/sites/{site_id}").json()["dataset_id"]
