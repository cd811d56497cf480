"""Issue 18 through the API and the pages: Send now is limited (429 with Retry-After, and
the message on the schedules page), outside recipients need the workspace owner's allowed
domains, owners read the mail log, and names with line breaks are a 400 naming the field
while an old row with one still downloads with a clean header (points 10 and 13)."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from storage.tables import dashboards as dashboards_table
from tests.conftest import bearer, render_page, sign_in
from tests.http.test_reports_api import send_now_click
from tests.smtp_server import SmtpServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LIMIT = 5


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(settings, smtp):
    return settings.with_overrides(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_sends_per_hour=LIMIT)


@pytest.fixture
def board(client, ada):
    response = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": "Notes", "widgets": [{"id": "m", "spec": {"type": "markdown", "text": "Hello"}}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def schedule(client, token, board, recipients):
    return client.post(f"/api/v1/dashboards/{board['id']}/schedules", headers=bearer(token), json={
        "frequency": "daily", "time": "08:00", "recipients": recipients, "format": "html"})


def test_send_now_past_the_limit_is_a_429_with_retry_after(client, ada, board, smtp, app_storage):
    made = schedule(client, ada, board, ["ada@example.com"]).get_json()
    answers = [client.post(f"/api/v1/schedules/{made['id']}/send", headers=bearer(ada)) for _ in range(LIMIT + 1)]
    assert [a.status_code for a in answers] == [201] * LIMIT + [429]
    refused = answers[-1]
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and "DATAINSIGHT_MAIL_SENDS_PER_HOUR" in error["message"]
    assert f"{LIMIT} mails" in error["message"]
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3601
    for _ in range(200):  # the five accepted sends go out in background jobs
        if len(smtp.inbox.messages) == LIMIT:
            break
        time.sleep(0.05)
    assert len(smtp.inbox.messages) == LIMIT
    log = client.get(f"/api/v1/workspaces/{board['workspace_id']}/mail-log", headers=bearer(ada)).get_json()
    assert [r["status"] for r in log["sends"]].count("refused") == 1
    for _ in range(200):
        log = client.get(f"/api/v1/workspaces/{board['workspace_id']}/mail-log", headers=bearer(ada)).get_json()
        if [r["status"] for r in log["sends"]].count("sent") == LIMIT:
            break
        time.sleep(0.05)
    assert sorted(r["status"] for r in log["sends"]) == ["refused"] + ["sent"] * LIMIT
    refused_row = next(r for r in log["sends"] if r["status"] == "refused")
    assert "DATAINSIGHT_MAIL_SENDS_PER_HOUR" in refused_row["error"]


def test_send_now_on_the_schedules_page_says_the_limit(make_client, app_storage, admin, board):
    browser = make_client()
    sign_in(browser, "ada@example.com")
    made = app_storage.schedules.create(admin.principal(), board["id"], {
        "frequency": "daily", "time": "07:00", "recipients": ["ada@example.com"], "format": "html"})
    answers = [json.dumps(send_now_click(browser, made["id"]).get_json()["response"]) for _ in range(LIMIT + 1)]
    assert all("Sending now" in a for a in answers[:LIMIT])
    assert "Not sent" in answers[-1] and "DATAINSIGHT_MAIL_SENDS_PER_HOUR" in answers[-1]
    assert "Try again in" in answers[-1]
    page = json.dumps(render_page(browser, f"/dashboards/{board['id']}/schedules").get_json())
    assert "Mail log" in page and "ada@example.com" in page


def test_allowed_recipient_domains_through_the_api(client, ada, bob, board, app_storage, second_user):
    outside = schedule(client, ada, board, ["ada@example.com", "partner@partner.org"])
    assert outside.status_code == 400
    message = outside.get_json()["error"]["message"]
    assert "partner@partner.org" in message and "allowed recipient domains" in message
    workspace = f"/api/v1/workspaces/{board['workspace_id']}"
    assert client.patch(workspace, json={"allowed_recipient_domains": ["partner.org"]},
                        headers=bearer(bob)).status_code == 404  # not a member
    bad = client.patch(workspace, json={"allowed_recipient_domains": "partner.org"}, headers=bearer(ada))
    assert bad.status_code == 400 and "list" in bad.get_json()["error"]["message"]
    changed = client.patch(workspace, json={"allowed_recipient_domains": ["partner.org"]}, headers=bearer(ada))
    assert changed.status_code == 200 and changed.get_json()["allowed_recipient_domains"] == ["partner.org"]
    assert changed.get_json()["name"]  # the name stays as it was
    assert client.get(workspace, headers=bearer(ada)).get_json()["allowed_recipient_domains"] == ["partner.org"]
    assert schedule(client, ada, board, ["ada@example.com", "partner@partner.org"]).status_code == 201
    assert client.get(f"{workspace}/mail-log", headers=bearer(bob)).status_code == 404
    for bad in ("dashboard=abc", "dashboard=99999999999999999999999", "limit=x"):
        assert client.get(f"{workspace}/mail-log?{bad}", headers=bearer(ada)).status_code == 400


def test_workspace_page_sets_the_allowed_domains(make_client, app_storage, admin):
    from tests.conftest import post_callback

    browser = make_client()
    sign_in(browser, "ada@example.com")
    page = json.dumps(render_page(browser, "/settings/workspaces").get_json())
    assert "Allowed recipient domains" in page
    saved = post_callback(browser, [("workspace-domains-feedback", "children")],
                          [("workspace-domains-save", "n_clicks", 1)],
                          [("workspace-domains", "value", "partner.org, example.net")],
                          changed=["workspace-domains-save.n_clicks"]).get_json()["response"]
    assert "example.net, partner.org" in json.dumps(saved)
    personal = app_storage.workspaces.personal_workspace(admin.principal())
    assert app_storage.workspaces.allowed_domains(personal.id) == ["example.net", "partner.org"]
    refused = post_callback(browser, [("workspace-domains-feedback", "children")],
                            [("workspace-domains-save", "n_clicks", 2)],
                            [("workspace-domains", "value", "not a domain")],
                            changed=["workspace-domains-save.n_clicks"]).get_json()["response"]
    assert "not an email domain" in json.dumps(refused)


# --- point 13 --------------------------------------------------------------------------------


@pytest.mark.parametrize("path, method, body, field", [
    ("/api/v1/dashboards", "post", {"name": "Sales\r\nQ4"}, "name"),
    ("/api/v1/workspaces", "post", {"name": "Team\nB"}, "name"),
    ("/api/v1/tokens", "post", {"name": "ci\r\nX-Evil: 1"}, "name"),
])
def test_a_name_with_a_line_break_is_a_400_naming_the_field(client, ada, path, method, body, field):
    sign_in(client, "ada@example.com")  # a token cannot make tokens: this runs as the signed-in person
    answer = getattr(client, method)(path, json=body)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert "one line" in error["message"] and error["details"] == {"field": field}


def test_an_old_dashboard_name_with_crlf_downloads_with_a_clean_header(client, ada, app_storage):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO((FIXTURES / "vgsales.csv").read_bytes()),
                                                                "vgsales.csv")}, headers=bearer(ada))
    vg = response.get_json()
    board = client.post("/api/v1/dashboards", headers=bearer(ada), json={"name": "Sales", "widgets": [
        {"id": "t", "spec": {"type": "table", "dataset_id": vg["id"], "title": "Games", "columns": ["Name"]}}]}
    ).get_json()
    with app_storage.engine.begin() as conn:
        conn.execute(update(dashboards_table).where(dashboards_table.c.id == board["id"])
                     .values(name="Sales\r\nSet-Cookie: evil=1"))
    for fmt, extra in (("html", ""), ("csv", "&widget=t")):
        answer = client.get(f"/api/v1/dashboards/{board['id']}/export?format={fmt}{extra}", headers=bearer(ada))
        assert answer.status_code == 200
        disposition = answer.headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "Set-Cookie" not in answer.headers
        assert disposition.startswith("attachment; filename=")
