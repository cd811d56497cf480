"""Issue 15's open sign-up, as a person does it on a server with DATAINSIGHT_SIGNUP=open:
from the sign-in page to the sign-up form, the email (aiosmtpd) with its link, the
confirmation, a refused sign-in before it and a working one after; then a forgotten
password chosen again from its emailed link."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server_with
from tests.e2e.test_main_flow import ensure_account
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD, NAME = "sam@example.com", "sam's long password", "Sam Signup"


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def live_server(smtp):
    wanted = {"DATAINSIGHT_SIGNUP": "open", "DATAINSIGHT_SIGNUP_DOMAINS": "example.com",
              "DATAINSIGHT_SMTP_HOST": "127.0.0.1", "DATAINSIGHT_SMTP_PORT": str(smtp.port),
              "DATAINSIGHT_SMTP_FROM": "accounts@example.com"}
    with run_live_server_with(wanted) as server:
        ensure_account(server, "admin@example.com", "the admin's long password", "Admin", admin=True)
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


def link_of(message, path: str, base_url: str) -> str:
    text = message["message"].get_body(preferencelist=("plain",)).get_content()
    found = re.search(rf"{re.escape(base_url)}{re.escape(path)}\?token=[A-Za-z0-9_-]+", text)
    assert found, text
    return found.group(0)


def sign_in_form(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.locator("#public-login-email").fill(email)
    page.locator("#public-login-password").fill(password)
    page.locator("#public-login-submit").click()


def test_sign_up_confirm_sign_in_and_forget_the_password(new_page, base_url, smtp):
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    page.goto("/login")
    page.locator("#public-login-signup").click()
    expect(page).to_have_url(f"{base_url}/signup")
    page.locator("#public-signup-name").fill(NAME)
    page.locator("#public-signup-email").fill("sam@elsewhere.net")
    page.locator("#public-signup-password").fill(PASSWORD)
    page.locator("#public-signup-submit").click()
    expect(page.locator("#public-signup-feedback")).to_contain_text("Sign-up here is for addresses at example.com")
    page.locator("#public-signup-email").fill(EMAIL)
    page.locator("#public-signup-submit").click()
    expect(page.locator("#public-signup-feedback")).to_contain_text(f"a link to confirm {EMAIL} is on its way")
    page.screenshot(path=str(ARTIFACTS / "signup-sent.png"), full_page=True)
    assert [m["to"] for m in smtp.inbox.messages] == [[EMAIL]]

    # Before confirming: the sign-in says why not, and where to get a new link.
    sign_in_form(page, EMAIL, PASSWORD)
    expect(page.locator("#public-login-feedback")).to_contain_text("Confirm your email address first")
    expect(page.locator("#public-login-feedback a", has_text="Send the link again")).to_be_visible()

    page.goto(link_of(smtp.inbox.messages[0], "/verify", base_url))
    page.locator("#public-verify-submit").click()
    expect(page.locator("#public-verify-feedback")).to_contain_text(f"{EMAIL} is confirmed")
    page.screenshot(path=str(ARTIFACTS / "signup-confirmed.png"), full_page=True)
    sign_in_form(page, EMAIL, PASSWORD)
    expect(page).to_have_url(f"{base_url}/", timeout=EXPECT_TIMEOUT_MS)
    me = page.request.get("/api/v1/me").json()
    assert me["user"]["email"] == EMAIL and me["user"]["name"] == NAME and not me["user"]["is_admin"]

    # A forgotten password, from another browser.
    other: Page = new_page(viewport={"width": 390, "height": 844})
    other.goto("/login")
    other.locator("#public-login-forgot").click()
    other.locator("#public-forgot-email").fill(EMAIL)
    other.locator("#public-forgot-submit").click()
    expect(other.locator("#public-forgot-feedback")).to_contain_text(f"If an account uses {EMAIL}")
    other.screenshot(path=str(ARTIFACTS / "forgot-password-phone.png"), full_page=True)
    assert other.evaluate("document.documentElement.scrollWidth") <= 390
    other.goto(link_of(smtp.inbox.messages[-1], "/reset-password", base_url))
    other.locator("#public-reset-password").fill("sam's brand new password")
    other.locator("#public-reset-password2").fill("sam's brand new password")
    other.locator("#public-reset-submit").click()
    expect(other.locator("#public-reset-feedback")).to_contain_text("is changed")
    # The first browser's session ended with the new password.
    assert page.request.get("/api/v1/me").status == 401
    sign_in_form(other, EMAIL, "sam's brand new password")
    expect(other).to_have_url(f"{base_url}/", timeout=EXPECT_TIMEOUT_MS)
