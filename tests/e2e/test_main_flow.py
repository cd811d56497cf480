"""The main flow of DataInsight in a real browser against a real server.

The tests share one server (see conftest.py) and run in file order: the first one does
the first-run setup through the UI, a later one creates the second account through the
admin page. Each test opens its own fresh browser context and signs in itself. When a
test is run on its own (``-k``), the ``admin``/``second_user`` fixtures make the
accounts it needs with the operator's command line instead.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import EXPECT_TIMEOUT_MS, same_origin_context

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]

ADMIN_NAME = "Ada Admin"
ADMIN_EMAIL = "ada@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
ADMIN_WORKSPACE = "Ada Admin's workspace"

BOB_NAME = "Bob Viewer"
BOB_EMAIL = "bob@example.com"
BOB_PASSWORD = "bob's long enough password"
BOB_WORKSPACE = "Bob Viewer's workspace"

# An account of its own for the password test, so nobody else's password changes.
PAT_NAME = "Pat Rotate"
PAT_EMAIL = "pat@example.com"
PAT_PASSWORD = "pat's first password"
PAT_NEW_PASSWORD = "pat's second password"
SAM_NAME = "Sam Everywhere"
SAM_EMAIL = "sam@example.com"
SAM_PASSWORD = "sam's long enough password"
ENTER_PASSWORD = "enter's long enough password"

# Accounts this run has already made (through the UI or the CLI).
# Keyed by the server's URL: modules with a server of their own start with no accounts.
_accounts_made: set[tuple[str, str]] = set()


# --- helpers ------------------------------------------------------------------------------


def ensure_account(live_server, email: str, password: str, name: str, admin: bool = False) -> None:
    """Make the account with ``python app.py create-user`` unless this run already has it."""
    if (live_server.url, email) in _accounts_made:
        return
    env = dict(os.environ, DATAINSIGHT_DATA_DIR=str(live_server.data_dir))
    env.pop("DATAINSIGHT_DATABASE_URL", None)
    command = [sys.executable, "app.py", "create-user", "--email", email, "--password", password, "--name", name]
    if admin:
        command.append("--admin")
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0 and "already exists" not in result.stderr:
        pytest.fail(f"create-user {email} failed: {result.stdout}{result.stderr}")
    _accounts_made.add((live_server.url, email))


@pytest.fixture
def admin(live_server):
    ensure_account(live_server, ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_NAME, admin=True)


@pytest.fixture
def second_user(live_server, admin):
    ensure_account(live_server, BOB_EMAIL, BOB_PASSWORD, BOB_NAME)


def heading(page: Page):
    """The page's title (every page has exactly one h1)."""
    return page.locator("h1")


def sign_in(page: Page, email: str, password: str, next_path: str | None = None, remember: bool = False) -> None:
    """Sign in through the login form and wait until the app has taken us in."""
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    expect(heading(page)).to_have_text("Sign in")
    page.fill("#public-login-email", email)
    page.fill("#public-login-password", password)
    if remember:
        page.check("#public-login-remember")
    page.click("#public-login-submit")
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("#nav-user-menu")).to_be_visible()
    expect(page.locator("#page-body h1")).to_be_visible()  # the page itself has rendered too


def signed_in_state(browser, base_url: str, live_server, email: str, password: str, name: str) -> dict:
    """The browser state (cookies) of ``email`` signed in through the login form once, made
    with create-user first; modules start each test's context from it."""
    ensure_account(live_server, email, password, name)
    context = same_origin_context(browser, base_url)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        sign_in(context.new_page(), email, password)
        return context.storage_state()
    finally:
        context.close()


def open_user_menu(page: Page):
    """Open the user dropdown in the navbar; returns the locator of its items."""
    page.locator("#nav-user-menu .dropdown-toggle").click()
    items = page.locator("#nav-user-menu .dropdown-item")
    expect(items.first).to_be_visible()
    return items


def choose_from_user_menu(page: Page, label: str) -> None:
    open_user_menu(page)
    page.locator("#nav-user-menu .dropdown-item", has_text=label).click()


def api_get(base_url: str, path: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# --- tests --------------------------------------------------------------------------------


def test_first_run_setup_creates_the_admin_and_signs_in(page: Page, base_url):
    page.goto("/")
    expect(page).to_have_url(base_url + "/setup")
    expect(heading(page)).to_have_text("Set up DataInsight")
    expect(page.locator(".app-navbar")).to_have_count(0)  # nobody is signed in yet

    page.fill("#public-setup-name", ADMIN_NAME)
    page.fill("#public-setup-email", ADMIN_EMAIL)
    page.fill("#public-setup-password", ADMIN_PASSWORD)
    page.fill("#public-setup-password2", ADMIN_PASSWORD + " typo")
    page.click("#public-setup-submit")
    expect(page.locator("#public-setup-feedback .alert-danger")).to_have_text("The two passwords are not the same")
    expect(page).to_have_url(base_url + "/setup")

    page.fill("#public-setup-password2", ADMIN_PASSWORD)
    page.click("#public-setup-submit")
    expect(page).to_have_url(base_url + "/")
    expect(heading(page)).to_have_text(f"Welcome, {ADMIN_NAME}")
    expect(page.locator("#page-body")).to_contain_text("Start by adding data: a file of your own or one of the samples.")
    expect(page.locator("#home-upload-zone")).to_be_visible()
    _accounts_made.add((base_url, ADMIN_EMAIL))
    expect(page.locator("#nav-user-menu .dropdown-toggle")).to_have_text(ADMIN_NAME)
    personal_id = page.locator("#nav-workspace option", has_text=ADMIN_WORKSPACE).get_attribute("value")
    expect(page.locator("#nav-workspace")).to_have_value(personal_id)

    # Setup happens once: the setup page now sends a signed-in person home.
    page.goto("/setup")
    expect(page).to_have_url(base_url + "/")
    expect(heading(page)).to_have_text(f"Welcome, {ADMIN_NAME}")


def test_navbar_reaches_every_page(page: Page, base_url, admin):
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page).to_have_url(base_url + "/")
    body = page.locator("#page-body")

    sections = [
        ("nav-link-datasets", "/datasets", "Datasets", f"No datasets in {ADMIN_WORKSPACE} yet"),
        ("nav-link-dashboards", "/dashboards", "Dashboards", "No dashboards here yet"),
        ("nav-link-analyze", "/analyze", "Analyze", "Nothing to analyze yet"),
        ("nav-link-settings", "/settings", "Settings", "API tokens"),
    ]
    for link_id, path, title, text in sections:
        page.click(f"#{link_id}")
        expect(page).to_have_url(base_url + path)
        expect(heading(page)).to_have_text(title)
        expect(body).to_contain_text(text)
        expect(page.locator(f"#{link_id}")).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#settings-email")).to_have_text(ADMIN_EMAIL)
    expect(page.locator("#settings-name")).to_have_text(ADMIN_NAME)

    choose_from_user_menu(page, "Workspaces & members")
    expect(page).to_have_url(base_url + "/settings/workspaces")
    expect(heading(page)).to_have_text("Workspaces")
    expect(page.locator("#workspace-list")).to_contain_text(ADMIN_WORKSPACE)
    expect(body).to_contain_text(f"Members of {ADMIN_WORKSPACE}")
    expect(page.locator("#member-list tbody tr")).to_have_count(1)
    expect(page.locator("#member-list tbody tr").first).to_contain_text(ADMIN_EMAIL)

    choose_from_user_menu(page, "Users")
    expect(page).to_have_url(base_url + "/admin/users")
    expect(heading(page)).to_have_text("Users")
    admin_row = page.locator("#users-list tbody tr", has_text=ADMIN_EMAIL)
    expect(admin_row).to_contain_text("admin")
    expect(admin_row).to_contain_text("active")

    choose_from_user_menu(page, "Account & API tokens")
    expect(page).to_have_url(base_url + "/settings")
    expect(heading(page)).to_have_text("Settings")

    page.click(".navbar-brand")
    expect(page).to_have_url(base_url + "/")
    expect(heading(page)).to_have_text(f"Welcome, {ADMIN_NAME}")


def test_sign_out_protected_pages_and_sign_in_with_next(page: Page, base_url, admin):
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)

    choose_from_user_menu(page, "Sign out")
    expect(page).to_have_url(base_url + "/login")
    expect(heading(page)).to_have_text("Sign in")
    expect(page.locator(".app-navbar")).to_have_count(0)

    # The session is really gone: a protected page sends us to sign in, remembering where.
    page.goto("/datasets")
    expect(page).to_have_url(base_url + "/login?next=%2Fdatasets")
    expect(heading(page)).to_have_text("Sign in")

    page.fill("#public-login-email", ADMIN_EMAIL)
    page.fill("#public-login-password", "not the password at all")
    page.click("#public-login-submit")
    expect(page.locator("#public-login-feedback .alert-danger")).to_have_text("The email or password is not right")
    expect(page).to_have_url(base_url + "/login?next=%2Fdatasets")
    expect(page.locator(".app-navbar")).to_have_count(0)

    page.fill("#public-login-password", ADMIN_PASSWORD)
    page.click("#public-login-submit")
    expect(page).to_have_url(base_url + "/datasets")
    expect(heading(page)).to_have_text("Datasets")
    expect(page.locator("#page-body")).to_contain_text(f"No datasets in {ADMIN_WORKSPACE} yet")
    expect(page.locator("#nav-user-menu .dropdown-toggle")).to_have_text(ADMIN_NAME)

    # A fresh sign-in with ?next= typed by hand goes there too.
    choose_from_user_menu(page, "Sign out")
    expect(page).to_have_url(base_url + "/login")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/settings")
    expect(page).to_have_url(base_url + "/settings")
    expect(heading(page)).to_have_text("Settings")


def test_api_token_works_until_revoked(page: Page, base_url, admin):
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/settings")
    expect(page.locator("#token-list")).to_be_visible()

    page.fill("#token-name", "e2e export script")
    page.select_option("#token-scope", "read")
    page.click("#token-create")
    plaintext_el = page.locator("#token-plaintext")
    expect(plaintext_el).to_have_text(re.compile(r"^dit_\S{20,}$"))
    token = plaintext_el.inner_text().strip()
    expect(page.locator("#token-feedback")).to_contain_text("Token “e2e export script” created")
    expect(page.locator("#token-name")).to_have_value("")
    row = page.locator("#token-list tbody tr", has_text="e2e export script")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("read")
    expect(row.locator(".badge")).to_have_text("active")
    # The list shows only a prefix, never the whole secret.
    expect(page.locator("#token-list")).not_to_contain_text(token)

    status, body = api_get(base_url, "/api/v1/me", token)
    assert status == 200, body
    assert body["user"]["email"] == ADMIN_EMAIL
    assert body["auth"] == {"via": "token", "scope": "read"}
    assert ADMIN_WORKSPACE in [w["name"] for w in body["workspaces"]]

    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#token-feedback")).to_contain_text("Token “e2e export script” was revoked.")
    expect(row.locator(".badge")).to_have_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)

    status, body = api_get(base_url, "/api/v1/me", token)
    assert status == 401, body
    assert body["error"]["code"] == "unauthenticated"


def test_admin_creates_a_user_who_is_not_an_admin(new_page, base_url, admin):
    admin_page = new_page()
    sign_in(admin_page, ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/admin/users")
    expect(heading(admin_page)).to_have_text("Users")

    admin_page.fill("#user-new-email", BOB_EMAIL)
    admin_page.fill("#user-new-name", BOB_NAME)
    admin_page.fill("#user-new-password", BOB_PASSWORD)
    admin_page.click("#user-create")
    expect(admin_page.locator("#user-create-feedback")).to_have_text(f"{BOB_EMAIL} can now sign in.")
    _accounts_made.add((base_url, BOB_EMAIL))
    expect(admin_page.locator("#user-new-password")).to_have_value("")
    bob_row = admin_page.locator("#users-list tbody tr", has_text=BOB_EMAIL)
    expect(bob_row).to_contain_text(BOB_NAME)
    expect(bob_row.locator("td").nth(2)).to_have_text("user")
    expect(bob_row.locator(".badge")).to_have_text("active")
    expect(bob_row.locator("td").nth(4)).to_have_text("never")  # has not signed in yet

    # Bob, in a browser of his own.
    bob_page = new_page()
    sign_in(bob_page, BOB_EMAIL, BOB_PASSWORD, remember=True)
    expect(bob_page).to_have_url(base_url + "/")
    expect(heading(bob_page)).to_have_text(f"Welcome, {BOB_NAME}")
    expect(bob_page.locator("#page-body")).to_contain_text("Start by adding data")
    cookies = {c["name"]: c for c in bob_page.context.cookies()}
    assert "datainsight_remember" in cookies, "'Keep me signed in' should set the remember cookie"
    assert cookies["datainsight_session"]["httpOnly"]

    items = open_user_menu(bob_page)
    expect(items).to_have_text(["Account & API tokens", "Workspaces & members", "Audit log", "Sign out"])
    expect(bob_page.locator("#nav-admin-users")).to_have_count(0)
    # The audit log shows Bob his own workspace only: no "everything", no account events.
    bob_page.goto("/audit")
    expect(bob_page.locator("#audit-workspace")).to_contain_text(BOB_WORKSPACE)
    expect(bob_page.locator("#audit-workspace")).not_to_contain_text("Everything")

    bob_page.goto("/admin/users")
    expect(bob_page).to_have_url(base_url + "/admin/users")
    expect(bob_page.locator("#page-body")).to_contain_text("Administrators only")
    expect(bob_page.locator("#user-create")).to_have_count(0)
    expect(bob_page.locator("#users-list")).to_have_count(0)
    expect(bob_page.locator("#page-body")).not_to_contain_text(ADMIN_EMAIL)


def test_owner_adds_a_viewer_who_can_switch_to_the_workspace(new_page, base_url, admin, second_user):
    admin_page = new_page()
    sign_in(admin_page, ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/settings/workspaces")
    expect(heading(admin_page)).to_have_text("Workspaces")

    admin_page.fill("#member-email", BOB_EMAIL)
    admin_page.select_option("#member-role-new", "viewer")
    admin_page.click("#member-add")
    expect(admin_page.locator("#member-feedback")).to_have_text(f"{BOB_EMAIL} is now a viewer of {ADMIN_WORKSPACE}.")
    rows = admin_page.locator("#member-list tbody tr")
    expect(rows).to_have_count(2)
    bob_row = rows.filter(has_text=BOB_EMAIL)
    expect(bob_row.locator("td").first).to_have_text(BOB_NAME)
    expect(bob_row.locator("select")).to_have_value("viewer")
    expect(rows.filter(has_text=ADMIN_EMAIL).locator("select")).to_have_value("owner")

    # What the admin sees survives a reload: it was stored, not just drawn.
    admin_page.reload()
    expect(admin_page.locator("#member-list tbody tr", has_text=BOB_EMAIL).locator("select")).to_have_value("viewer")

    # Bob now has the admin's workspace in his switcher, and is a viewer there.
    bob_page = new_page()
    sign_in(bob_page, BOB_EMAIL, BOB_PASSWORD, next_path="/settings/workspaces")
    switcher = bob_page.locator("#nav-workspace")
    expect(switcher.locator("option", has_text=ADMIN_WORKSPACE)).to_have_count(1)
    expect(bob_page.locator("#workspace-list")).to_contain_text(ADMIN_WORKSPACE)
    admin_workspace_id = switcher.locator("option", has_text=ADMIN_WORKSPACE).get_attribute("value")
    bob_page.select_option("#nav-workspace", label=ADMIN_WORKSPACE)
    expect(bob_page.locator("#page-body")).to_contain_text(f"Members of {ADMIN_WORKSPACE}")
    expect(switcher).to_have_value(admin_workspace_id)
    expect(bob_page).to_have_url(base_url + "/settings/workspaces")
    expect(bob_page.locator("#page-body")).to_contain_text("You are a viewer here; only owners manage members.")
    expect(bob_page.locator("#member-add")).to_have_count(0)
    expect(bob_page.locator("#member-list tbody tr", has_text=BOB_EMAIL).locator("td").nth(2)).to_have_text("viewer")

    bob_page.click("#nav-link-datasets")
    expect(bob_page.locator("#page-body")).to_contain_text(f"No datasets in {ADMIN_WORKSPACE} yet")


def test_changing_the_password_ends_the_other_sessions(new_page, base_url, live_server, admin):
    ensure_account(live_server, PAT_EMAIL, PAT_PASSWORD, PAT_NAME)
    laptop, phone = new_page(extra_http_headers={}), new_page()
    sign_in(laptop, PAT_EMAIL, PAT_PASSWORD, next_path="/settings")
    sign_in(phone, PAT_EMAIL, PAT_PASSWORD, next_path="/settings")
    expect(heading(phone)).to_have_text("Settings")

    laptop.fill("#password-current", "this is not it at all")
    laptop.fill("#password-new", PAT_NEW_PASSWORD)
    laptop.fill("#password-new2", PAT_NEW_PASSWORD)
    laptop.click("#password-submit")
    expect(laptop.locator("#password-feedback .alert-danger")).to_have_text("The current password is not right")

    laptop.fill("#password-current", PAT_PASSWORD)
    laptop.click("#password-submit")
    expect(laptop.locator("#password-feedback .alert-success")).to_have_text(
        "Your password was changed; other sessions were signed out."
    )
    expect(laptop.locator("#password-current")).to_have_value("")
    expect(laptop.locator("#password-new")).to_have_value("")
    # The session that changed it goes on working.
    laptop.click("#nav-link-datasets")
    expect(heading(laptop)).to_have_text("Datasets")
    expect(laptop.locator("#nav-user-menu .dropdown-toggle")).to_have_text(PAT_NAME)

    # The other one is sent to sign in at its next step, and only the new password
    # lets it in.
    phone.click("#nav-link-dashboards")
    phone.wait_for_url(re.compile(r"/login(\?.*)?$"))
    expect(heading(phone)).to_have_text("Sign in")
    expect(phone.locator(".app-navbar")).to_have_count(0)
    phone.fill("#public-login-email", PAT_EMAIL)
    phone.fill("#public-login-password", PAT_PASSWORD)
    phone.click("#public-login-submit")
    expect(phone.locator("#public-login-feedback .alert-danger")).to_have_text("The email or password is not right")
    phone.fill("#public-login-password", PAT_NEW_PASSWORD)
    phone.click("#public-login-submit")
    phone.wait_for_url(lambda url: "/login" not in url)
    expect(phone.locator("#nav-user-menu .dropdown-toggle")).to_have_text(PAT_NAME)


def test_sign_out_everywhere_ends_the_other_browsers_session(new_page, base_url, live_server, admin):
    ensure_account(live_server, SAM_EMAIL, SAM_PASSWORD, SAM_NAME)
    laptop, phone = new_page(extra_http_headers={}), new_page()
    # The same-origin check (web/csrf.py) relies on the browser sending Origin with the
    # Dash renderer's POSTs; record what it sends.
    posts = []
    laptop.on("request", lambda r: posts.append(r)
              if r.method == "POST" and "/_dash-update-component" in r.url else None)
    sign_in(laptop, SAM_EMAIL, SAM_PASSWORD, next_path="/settings")
    assert posts and {r.all_headers().get("origin") for r in posts} == {base_url}
    sign_in(phone, SAM_EMAIL, SAM_PASSWORD, next_path="/settings", remember=True)
    laptop.reload()  # the list was drawn before the phone signed in
    expect(laptop.locator("#sessions-table tbody tr")).to_have_count(2)
    expect(laptop.locator("#sessions-table")).to_contain_text("this browser")

    laptop.click("#sessions-revoke-all")
    laptop.wait_for_url(re.compile(r"/login(\?.*)?$"))
    expect(heading(laptop)).to_have_text("Sign in")
    # The phone's session and its remember-me cookie ended with it.
    phone.click("#nav-link-datasets")
    phone.wait_for_url(re.compile(r"/login(\?.*)?$"))
    phone.goto("/datasets")
    expect(phone).to_have_url(base_url + "/login?next=%2Fdatasets")


def test_an_ended_session_sends_to_sign_in_and_remembers_the_page(page: Page, base_url, admin):
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/settings")
    expect(heading(page)).to_have_text("Settings")
    page.context.clear_cookies()  # the session ends: it expired, or was signed out elsewhere

    page.click("#nav-link-datasets")
    page.wait_for_url(re.compile(r"/login(\?.*)?$"))
    expect(heading(page)).to_have_text("Sign in")
    assert page.url == base_url + "/login?next=%2Fdatasets"


def test_enter_in_the_sign_in_form_signs_in_once(new_page, base_url, live_server):
    """Enter in the password field: one sign-in request, one session (listening to the
    field's n_submit besides the button's clicks signed in twice on desktop Chromium, and
    counted a wrong password twice)."""
    ensure_account(live_server, "enter@example.com", ENTER_PASSWORD, "Enter Key")
    page = new_page()
    sign_ins = []
    page.on("request", lambda r: sign_ins.append(r) if "update-component" in r.url
            and "public-login-feedback" in (r.post_data or "") else None)
    page.goto("/login")
    page.fill("#public-login-email", "enter@example.com")
    page.fill("#public-login-password", ENTER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("#nav-user-menu")).to_be_visible()
    assert len(sign_ins) == 1
    sessions = page.request.get("/api/v1/me/sessions").json()["sessions"]
    assert len(sessions) == 1
