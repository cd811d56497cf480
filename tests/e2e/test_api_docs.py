"""Issue 15's API documentation, as a person uses it on a server without internet:
/api/docs (Swagger UI) lists every operation; they authorize with their API token and
try GET /api/v1/me; /api/redoc shows the same document. Every request the pages make
goes to the server itself (anything else is aborted and would fail the test)."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server
from tests.e2e.test_main_flow import ensure_account, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server():
    """A server of this module's own: the session's is kept fresh for the first-run test."""
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url

EMAIL, PASSWORD, NAME = "dora@example.com", "dora's long password", "Dora Docs"


def offline(page: Page, base_url: str) -> list[str]:
    """Abort every request that leaves the server; returns the list of those asked for."""
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(base_url) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return outside


def test_swagger_ui_tries_a_route_with_a_token_and_redoc_reads_the_same(new_page, live_server, base_url):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, EMAIL, PASSWORD)
    made = page.request.post("/api/v1/tokens", data={"name": "docs"})
    assert made.status == 201, made.text()
    token = made.json()["token"]

    docs: Page = new_page()  # a fresh browser: the token is the only credential
    outside = offline(docs, base_url)
    docs.goto("/api/docs")
    expect(docs.locator(".opblock").first).to_be_visible()
    assert docs.locator(".opblock").count() >= 85
    docs.locator("button.authorize").click()
    docs.locator("input[type=text], input[type=password]").first.fill(token)
    docs.locator(".auth-btn-wrapper button.authorize").first.click()
    docs.locator(".btn-done").first.click()
    me = docs.locator("#operations-Account-api_v1_me")
    me.locator(".opblock-summary").click()
    me.locator("button.try-out__btn").click()
    me.locator("button.execute").click()
    expect(me.locator(".responses-wrapper .live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(me.locator(".responses-wrapper .live-responses-table tbody .response-col_description").first).to_contain_text(EMAIL)
    docs.screenshot(path=str(ARTIFACTS / "api-docs-swagger.png"), full_page=False)

    docs.goto("/api/redoc")
    expect(docs.get_by_text("DataInsight API").first).to_be_visible()
    expect(docs.get_by_text("Tell people when a widget's number crosses a line").first).to_be_attached()
    docs.screenshot(path=str(ARTIFACTS / "api-docs-redoc.png"), full_page=False)
    assert outside == []
