"""Alerts through the API and the pages (issue 17): create, read with history, change,
check now, delete; another workspace's alerts answer 404 through the API and through
crafted Dash callbacks; refused webhook addresses are a 400 naming the field; the
dashboard shows a bell on watched widgets."""
from __future__ import annotations

import io
import json
import time

import pytest

from tests.conftest import bearer, post_callback, render_page, sign_in
from tests.webhook_server import WebhookServer

SALES = b"day,region,revenue\n2026-11-01,North,4000\n2026-11-01,South,3000\n2026-11-02,North,1000\n"


@pytest.fixture
def settings(settings):
    return settings.with_overrides(webhook_allow_private=True)  # the webhook server is on 127.0.0.1


@pytest.fixture
def hook():
    with WebhookServer() as server:
        yield server


@pytest.fixture
def board(client, ada):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO(SALES), "sales.csv")}, headers=bearer(ada))
    assert response.status_code == 201, response.get_json()
    sales = response.get_json()
    response = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": "Revenue", "widgets": [
            {"id": "k", "spec": {"type": "kpi", "dataset_id": sales["id"], "title": "Revenue", "y": "revenue",
                                 "agg": "sum"}},
            {"id": "b", "spec": {"type": "bar", "dataset_id": sales["id"], "title": "By region", "x": "region",
                                 "y": "revenue", "agg": "sum"}}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_alert(board, url, **extra):
    return {"dashboard_id": board["id"], "widget_id": "k", "condition": {"op": ">", "value": 100},
            "check": "on_refresh", "channels": [{"type": "webhook", "url": url}], **extra}


def test_alert_crud_and_check_now(client, ada, board, hook):
    made = client.post("/api/v1/alerts", headers=bearer(ada), json=new_alert(board, hook.url))
    assert made.status_code == 201, made.get_json()
    alert = made.get_json()
    assert alert["state"] == "unknown" and alert["condition"] == {"op": ">", "value": 100.0}
    assert alert["channels"] == [{"type": "webhook", "url": hook.url}] and alert["send"] == "on_change"
    listed = client.get(f"/api/v1/alerts?dashboard_id={board['id']}", headers=bearer(ada)).get_json()["alerts"]
    assert [a["id"] for a in listed] == [alert["id"]] and listed[0]["widget_title"] == "Revenue"
    checked = client.post(f"/api/v1/alerts/{alert['id']}/check", headers=bearer(ada))
    assert checked.status_code == 201
    check = checked.get_json()
    assert check["value"] == 8000 and check["state"] == "triggered" and check["event"] == "triggered"
    assert [d["channel"] for d in check["deliveries"]] == ["webhook"]
    for _ in range(100):  # sent in a background job
        if hook.received:
            break
        time.sleep(0.05)
    assert hook.received[0]["value"] == 8000 and hook.received[0]["link"].endswith(f"/dashboards/{board['id']}")
    got = client.get(f"/api/v1/alerts/{alert['id']}", headers=bearer(ada)).get_json()
    assert got["state"] == "triggered" and got["last_value"] == 8000
    assert got["checks"][0]["id"] == check["id"]
    changed = client.patch(f"/api/v1/alerts/{alert['id']}", headers=bearer(ada),
                           json={"condition": {"op": ">", "value": 9000}, "check": {"frequency": "daily",
                                                                                     "time": "07:30"}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["state"] == "unknown"  # watching another line starts afresh
    assert changed.get_json()["description"] == "Daily at 07:30 UTC · above 9,000"
    assert client.delete(f"/api/v1/alerts/{alert['id']}", headers=bearer(ada)).status_code == 204
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=bearer(ada)).status_code == 404


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "gopher://example.com/"])
def test_refused_webhooks_are_a_400(client, ada, board, url, app_storage):
    app_storage.alerts.allow_private = False
    answer = client.post("/api/v1/alerts", headers=bearer(ada), json=new_alert(board, url))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["details"] == {"field": "channels"}


@pytest.mark.parametrize("body", [[], "x", {"dashboard_id": "abc"}, {"dashboard_id": 10**30}])
def test_bad_bodies_are_4xx(client, ada, body):
    answer = client.post("/api/v1/alerts", headers=bearer(ada), json=body)
    assert answer.status_code in (400, 404), answer.get_json()
    assert "error" in answer.get_json()


def test_another_workspace_gets_404(client, ada, bob, board, hook):
    alert = client.post("/api/v1/alerts", headers=bearer(ada), json=new_alert(board, hook.url)).get_json()
    assert client.post("/api/v1/alerts", headers=bearer(bob), json=new_alert(board, hook.url)).status_code == 404
    for method, path in [("get", f"/api/v1/alerts/{alert['id']}"), ("patch", f"/api/v1/alerts/{alert['id']}"),
                         ("delete", f"/api/v1/alerts/{alert['id']}"), ("post", f"/api/v1/alerts/{alert['id']}/check"),
                         ("get", f"/api/v1/alerts?dashboard_id={board['id']}")]:
        answer = getattr(client, method)(path, headers=bearer(bob), json={} if method == "patch" else None)
        assert answer.status_code == 404, (method, path, answer.get_json())
    assert hook.received == []


def test_crafted_callbacks_cannot_reach_another_users_alert(make_client, app_storage, admin, board, hook):
    alert = app_storage.alerts.create(admin.principal(), new_alert(board, hook.url))
    app_storage.users.create_user(admin.principal(), "eve@example.com", "correct horse battery staple", "Eve")
    eve = make_client()
    sign_in(eve, "eve@example.com", "correct horse battery staple")
    for kind in ("check", "toggle", "delete"):
        answer = post_callback(
            eve, [("alert-action-feedback", "children"), ("alert-rev", "data")],
            [({"type": "alert-check", "index": "ALL"}, "n_clicks", [(alert["id"], 1)] if kind == "check" else []),
             ({"type": "alert-toggle", "index": "ALL"}, "n_clicks", [(alert["id"], 1)] if kind == "toggle" else []),
             ({"type": "alert-delete", "index": "ALL"}, "n_clicks", [(alert["id"], 1)] if kind == "delete" else [])],
            [("alert-rev", "data", 0)],
            changed=[json.dumps({"index": alert["id"], "type": f"alert-{kind}"}, separators=(",", ":")) + ".n_clicks"])
        assert answer.status_code == 200
        assert "no alert" in json.dumps(answer.get_json()["response"]), answer.get_json()
    answer = post_callback(
        eve, [("alert-form-feedback", "children"), ("alert-rev", "data")],
        [("alert-create", "n_clicks", 1)],
        [("alert-dashboard-id", "data", board["id"]), ("alert-widget", "value", "k"), ("alert-category", "value", None),
         ("alert-op", "value", ">"), ("alert-value", "value", 1), ("alert-check-kind", "value", "on_refresh"),
         ("alert-time", "value", "08:00"), ("alert-emails", "value", ""), ("alert-webhook", "value", hook.url),
         ("alert-send", "value", "on_change"), ("alert-name", "value", None), ("alert-rev", "data", 0)],
        changed=["alert-create.n_clicks"])
    assert "no dashboard" in json.dumps(answer.get_json()["response"])
    assert app_storage.alerts.get(admin.principal(), alert["id"])["enabled"] is True
    assert len(app_storage.alerts.list(admin.principal(), board["id"])) == 1 and hook.received == []


def test_the_pages_and_the_bell(make_client, app_storage, admin, board, hook):
    browser = make_client()
    sign_in(browser, "ada@example.com")
    answer = post_callback(
        browser, [("alert-form-feedback", "children"), ("alert-rev", "data")],
        [("alert-create", "n_clicks", 1)],
        [("alert-dashboard-id", "data", board["id"]), ("alert-widget", "value", "b"),
         ("alert-category", "value", "North"), ("alert-op", "value", "<"), ("alert-value", "value", "2500"),
         ("alert-check-kind", "value", "hourly"), ("alert-time", "value", "08:05"),
         ("alert-emails", "value", ""), ("alert-webhook", "value", hook.url), ("alert-send", "value", "on_change"),
         ("alert-name", "value", ""), ("alert-rev", "data", 0)],
        changed=["alert-create.n_clicks"])
    assert "Added: By region · North below 2,500" in json.dumps(answer.get_json()["response"], ensure_ascii=False)
    alert = app_storage.alerts.list(admin.principal(), board["id"])[0]
    assert alert["check"] == {"frequency": "hourly", "days": [], "time": "08:05", "timezone": "UTC"}
    page = json.dumps(render_page(browser, f"/dashboards/{board['id']}/alerts").get_json(), ensure_ascii=False)
    assert "By region · North below 2,500" in page and "Hourly at 05 minutes past" in page
    dashboard = json.dumps(render_page(browser, f"/dashboards/{board['id']}").get_json())
    assert '"widget-bell"' in dashboard and "widget-bell-unknown" in dashboard and "dash-alerts-link" in dashboard
    app_storage.alerts.check_now(admin.principal(), alert["id"], background=False)  # 5,000: not below
    detail = json.dumps(render_page(browser, f"/alerts/{alert['id']}").get_json())
    assert "alert-history-table" in detail and "5,000" in detail and "Normal" in detail
