"""Issue 17's alerts, as a person uses them: on a dashboard's Alerts page they set an
alert on a KPI falling below a threshold (email and a webhook), rows are appended that
push the value under it, and the webhook and the email arrive once (a local HTTP server
and aiosmtpd); the widget's bell turns red, and the alert's page shows the history."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server_with
from tests.e2e.test_main_flow import ensure_account, sign_in
from tests.smtp_server import SmtpServer
from tests.webhook_server import WebhookServer

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD, NAME = "alma@example.com", "alma's long password", "Alma Alerts"
SALES = "day,region,revenue\n2026-11-01,North,4000\n2026-11-01,South,3000\n2026-11-02,North,1000\n"
ENV = {"DATAINSIGHT_WEBHOOK_ALLOW_PRIVATE": "true", "DATAINSIGHT_SCHEDULER": "true",
       "DATAINSIGHT_SCHEDULER_INTERVAL": "1", "DATAINSIGHT_SMTP_HOST": "127.0.0.1",
       "DATAINSIGHT_SMTP_FROM": "alerts@example.com"}


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def hook():
    with WebhookServer() as server:
        yield server


@pytest.fixture(scope="module")
def live_server(smtp):
    with run_live_server_with({**ENV, "DATAINSIGHT_SMTP_PORT": smtp.port}) as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


def wait_for(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)  # the scheduler checks every second
    return condition()


def test_an_alert_fires_once_when_appended_rows_push_a_kpi_under_its_line(new_page, live_server, smtp, hook):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, EMAIL, PASSWORD)
    made = page.request.post("/api/v1/datasets", multipart={
        "file": {"name": "sales.csv", "mimeType": "text/csv", "buffer": SALES.encode()}})
    assert made.status == 201, made.text()
    dataset = made.json()
    board = page.request.post("/api/v1/dashboards", data={"name": "Revenue watch", "widgets": [
        {"id": "k", "spec": {"type": "kpi", "dataset_id": dataset["id"], "title": "Revenue", "y": "revenue",
                             "agg": "sum"}, "layout": {"x": 0, "y": 0, "w": 4, "h": 3}},
        {"id": "b", "spec": {"type": "bar", "dataset_id": dataset["id"], "title": "By region", "x": "region",
                             "y": "revenue", "agg": "sum"}, "layout": {"x": 4, "y": 0, "w": 8, "h": 6}}]})
    assert board.status == 201, board.text()
    board = board.json()

    # From the dashboard to its Alerts page, and the form.
    page.goto(f"/dashboards/{board['id']}")
    page.locator("#dash-alerts-link").click()
    expect(page).to_have_url(f"{live_server.url}/dashboards/{board['id']}/alerts")
    page.locator("#alert-widget").select_option("k")
    page.locator("#alert-op").select_option("<")
    page.locator("#alert-value").fill("5000")
    page.locator("#alert-check-kind").select_option("on_refresh")
    expect(page.locator("#alert-emails")).to_have_value(EMAIL)
    page.locator("#alert-webhook").fill(hook.url)
    page.locator("#alert-create").click()
    expect(page.locator("#alert-form-feedback")).to_contain_text("Added: Revenue below 5,000")
    # The first check finds 8,000: normal, nothing sent.
    expect(page.locator("#alert-table .alert-state")).to_have_text("Normal", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "alerts-page.png"), full_page=True)
    assert hook.received == [] and smtp.inbox.messages == []

    # Rows appended that push revenue to 4,500: one webhook and one email.
    more = page.request.post(f"/api/v1/datasets/{dataset['id']}/versions", multipart={
        "mode": "append", "file": {"name": "refunds.csv", "mimeType": "text/csv",
                                   "buffer": b"day,region,revenue\n2026-11-03,North,-3500\n"}})
    assert more.status in (200, 201, 202), more.text()
    assert wait_for(lambda: hook.received and smtp.inbox.messages), "the alert did not fire"
    time.sleep(3)  # three more scheduler rounds: nothing else may arrive
    assert len(hook.received) == 1 and len(smtp.inbox.messages) == 1
    body = hook.received[0]
    assert body["event"] == "triggered" and body["value"] == 4500 and body["threshold"] == 5000
    assert body["link"] == f"{live_server.url}/dashboards/{board['id']}"
    mail = smtp.inbox.messages[0]
    assert mail["to"] == [EMAIL] and mail["message"]["Subject"] == "Alert: Revenue below 5,000 · 4,500"
    png = next(p for p in mail["message"].walk() if p.get_content_type() == "image/png")
    assert png.get_content()[:8] == b"\x89PNG\r\n\x1a\n"  # the chart, drawn by kaleido
    (ARTIFACTS / "alert-email-chart.png").write_bytes(png.get_content())

    # The dashboard shows a red bell on the KPI, on a desktop and on a phone.
    page.goto(f"/dashboards/{board['id']}")
    bell = page.locator("[id*='widget-bell'] .widget-bell-triggered")
    expect(bell).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "alert-bell-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(bell).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "alert-bell-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The alert's page: the history of checks, with what was sent where.
    page.goto(f"/dashboards/{board['id']}/alerts")
    page.locator("#alert-table a", has_text="Revenue below 5,000").click()
    expect(page.locator("#alert-history-table")).to_contain_text("Fired")
    expect(page.locator("#alert-history-table")).to_contain_text(f"email to {EMAIL}")
    expect(page.locator("#alert-history-table")).to_contain_text(f"webhook to http://127.0.0.1:{hook.port}")
    expect(page.locator("#alert-summary")).to_contain_text("Triggered")
    page.screenshot(path=str(ARTIFACTS / "alert-history.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "alert-history-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
