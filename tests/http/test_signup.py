"""Open sign-up and forgotten passwords (issue 15, point 5) through the API and the pages,
with the mail going to a local SMTP server (aiosmtpd): the link verifies once, an expired
or reused link is refused, an unverified account cannot sign in and is told why, a
domain not allowed is refused, asking for links is limited per address, and the
forgotten-password answer is the same for every address."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import update

from storage.tables import account_links
from tests.conftest import PASSWORD as ADMIN_PASSWORD
from tests.conftest import login_body, render_page
from tests.smtp_server import SmtpServer

PASSWORD = "a long enough password"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    return settings.with_overrides(smtp_host="127.0.0.1", smtp_port=smtp.port, signup="open",
                                   signup_domains=("example.com", "example.org"))


def link_in(message, path: str) -> str:
    text = message["message"].get_body(preferencelist=("plain",)).get_content()
    found = re.search(rf"http://localhost{re.escape(path)}\?token=([A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


def sign_in_answer(client, email, password=PASSWORD) -> str:
    return json.dumps(client.post("/_dash-update-component", json=login_body(email, password)).get_json())


def test_the_whole_sign_up_flow(client, admin, smtp, app_storage):
    made = client.post("/api/v1/signup", json={"email": "Newcomer@Example.com", "password": PASSWORD,
                                               "name": "New Comer"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["status"] == "verification_sent" and made.get_json()["email"] == "newcomer@example.com"
    assert len(smtp.inbox.messages) == 1 and smtp.inbox.messages[0]["to"] == ["newcomer@example.com"]
    token = link_in(smtp.inbox.messages[0], "/verify")
    # Not yet verified: the right password is told why it cannot sign in; a wrong one is not.
    assert "Confirm your email address first" in sign_in_answer(client, "newcomer@example.com")
    assert "Confirm your email" not in sign_in_answer(client, "newcomer@example.com", "wrong password here")
    verified = client.post("/api/v1/signup/verify", json={"token": token})
    assert verified.status_code == 200 and verified.get_json() == {"status": "verified",
                                                                   "email": "newcomer@example.com"}
    again = client.post("/api/v1/signup/verify", json={"token": token})
    assert again.status_code == 400 and "already used" in again.get_json()["error"]["message"]
    assert "public-login-redirect" in sign_in_answer(client, "newcomer@example.com")
    user = app_storage.users.get_by_email("newcomer@example.com")
    assert user.email_verified and user.name == "New Comer" and not user.is_admin
    actions = [e["action"] for e in app_storage.audit.entries(admin.principal())["entries"]]
    assert "account.signed_up" in actions and "account.email_verified" in actions


def test_an_expired_link_is_refused_and_a_new_one_works(client, smtp, app_storage):
    client.post("/api/v1/signup", json={"email": "late@example.com", "password": PASSWORD})
    token = link_in(smtp.inbox.messages[-1], "/verify")
    with app_storage.engine.begin() as conn:
        conn.execute(update(account_links).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)))
    expired = client.post("/api/v1/signup/verify", json={"token": token})
    assert expired.status_code == 400 and "expired" in expired.get_json()["error"]["message"]
    assert expired.get_json()["error"]["details"] == {"field": "token"}
    assert client.post("/api/v1/signup/resend", json={"email": "late@example.com"}).status_code == 429  # 1 a minute
    app_storage.signup._limiter.storage.reset()  # a minute later
    resent = client.post("/api/v1/signup/resend", json={"email": "late@example.com"})
    assert resent.status_code == 202 and len(smtp.inbox.messages) == 2
    fresh = link_in(smtp.inbox.messages[-1], "/verify")
    assert client.post("/api/v1/signup/verify", json={"token": fresh}).status_code == 200


@pytest.mark.parametrize("body, status, words", [
    ({"email": "someone@elsewhere.net", "password": PASSWORD}, 400, "example.com, example.org"),
    ({"email": "not an address", "password": PASSWORD}, 400, "email"),
    ({"email": "short@example.com", "password": "short"}, 400, "at least"),
    ({"email": ["x"], "password": PASSWORD}, 400, "email"),
])
def test_bad_sign_ups_are_refused_and_nothing_is_made(client, smtp, app_storage, body, status, words):
    answer = client.post("/api/v1/signup", json=body)
    assert answer.status_code == status, answer.get_json()
    assert words in answer.get_json()["error"]["message"]
    assert smtp.inbox.messages == [] and app_storage.users.count() == 0


def test_signing_up_with_a_taken_address_says_nothing_new(client, admin, smtp):
    answer = client.post("/api/v1/signup", json={"email": admin.email, "password": PASSWORD})
    assert answer.status_code == 201 and answer.get_json()["status"] == "verification_sent"
    (note,) = smtp.inbox.messages
    assert note["message"]["Subject"] == "Someone tried to sign up with your address"


def test_invite_only_servers_refuse_sign_up(client, app_storage):
    app_storage.signup.mode = "invite"
    answer = client.post("/api/v1/signup", json={"email": "x@example.com", "password": PASSWORD})
    assert answer.status_code == 403 and "invitation" in answer.get_json()["error"]["message"]
    page = json.dumps(render_page(client, "/signup").get_json())
    assert "made by invitation" in page and "public-signup-submit" not in page


def test_forgotten_password(client, make_client, admin, smtp, app_storage):
    known = client.post("/api/v1/password/forgot", json={"email": admin.email})
    app_storage.signup._limiter.storage.reset()
    unknown = client.post("/api/v1/password/forgot", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_json()["status"] == unknown.get_json()["status"] == "sent_if_exists"
    assert len(smtp.inbox.messages) == 1  # only the real account gets mail
    token = link_in(smtp.inbox.messages[0], "/reset-password")
    elsewhere = make_client()  # a session that must end with the new password
    assert "public-login-redirect" in sign_in_answer(elsewhere, admin.email, ADMIN_PASSWORD)
    assert elsewhere.get("/api/v1/me").status_code == 200
    weak = client.post("/api/v1/password/reset", json={"token": token, "new_password": "short"})
    assert weak.status_code == 400  # and the link still works
    changed = client.post("/api/v1/password/reset", json={"token": token, "new_password": "a brand new password"})
    assert changed.status_code == 200 and changed.get_json()["email"] == admin.email
    assert elsewhere.get("/api/v1/me").status_code == 401
    reused = client.post("/api/v1/password/reset", json={"token": token, "new_password": "another new password"})
    assert reused.status_code == 400 and "already used" in reused.get_json()["error"]["message"]
    assert "public-login-redirect" in sign_in_answer(client, admin.email, "a brand new password")


def test_the_pages_work_without_a_session(client, admin, smtp, app_storage):
    for path, marker in [("/signup", "public-signup-submit"), ("/forgot-password", "public-forgot-submit"),
                         ("/verify", "public-resend-submit"), ("/verify?token=x", "public-verify-submit"),
                         ("/reset-password?token=x", "public-reset-submit")]:
        assert client.get(path.split("?")[0]).status_code == 200, path
    page = json.dumps(render_page(client, "/login").get_json())
    assert "public-login-forgot" in page and "public-login-signup" in page
    answer = client.post("/_dash-update-component", json={
        "output": "public-signup-feedback.children", "outputs": {"id": "public-signup-feedback",
                                                                  "property": "children"},
        "inputs": [{"id": "public-signup-submit", "property": "n_clicks", "value": 1}],
        "state": [{"id": "public-signup-name", "property": "value", "value": "Page Person"},
                  {"id": "public-signup-email", "property": "value", "value": "page@example.org"},
                  {"id": "public-signup-password", "property": "value", "value": PASSWORD}],
        "changedPropIds": ["public-signup-submit.n_clicks"]})
    assert "a link to confirm page@example.org is on its way" in json.dumps(answer.get_json())
    assert smtp.inbox.messages[-1]["to"] == ["page@example.org"]
