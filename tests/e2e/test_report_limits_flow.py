"""The download dialog and the schedule form say what is true (issue 12, points 5 and 9), in
Chromium at desktop width and at 390 × 844: the dialog states each format's limits and, once
the Excel file is ready, the table's true row count in it; the schedule form warns, before
anything is saved, that this server (no DATAINSIGHT_SMTP_HOST) cannot send email. Screenshots
go to tests/e2e/artifacts/report-limits-*.png."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, same_origin_context
from tests.e2e.test_main_flow import ensure_account, sign_in

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD, NAME = "lena@example.com", "lena's long password", "Lena Limits"
ROWS = 12_000
PHONE = {"width": 390, "height": 844}


def orders_csv() -> bytes:
    lines = ["order_id,channel,amount"]
    lines += [f"ORD-{i:05d},{('Web', 'Store', 'Phone')[i % 3]},{(i * 37) % 500 + 0.5}" for i in range(1, ROWS + 1)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def made(browser, base_url, live_server):
    """Lena's account and a dashboard with a 12,000-row table and a histogram."""
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    context = same_origin_context(browser, base_url)
    page = context.new_page()
    sign_in(page, EMAIL, PASSWORD)
    upload = page.request.post("/api/v1/datasets", multipart={
        "file": {"name": "orders12k.csv", "mimeType": "text/csv", "buffer": orders_csv()}})
    assert upload.status == 201, upload.text()
    dataset = upload.json()
    board = page.request.post("/api/v1/dashboards", data={"name": "Orders", "widgets": [
        {"id": "t", "spec": {"type": "table", "dataset_id": dataset["id"], "title": "Every order",
                             "sort": "order_id"}, "layout": {"x": 0, "y": 0, "w": 12, "h": 6}},
        {"id": "h", "spec": {"type": "histogram", "dataset_id": dataset["id"], "title": "Amounts", "x": "amount"},
         "layout": {"x": 0, "y": 6, "w": 12, "h": 4}}]})
    assert board.status == 201, board.text()
    made = {"board": board.json(), "state": context.storage_state()}
    context.close()
    return made


def fits(page: Page, selector: str, width: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= -1 and box["x"] + box["width"] <= width + 1, (selector, box)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_download_dialog_states_limits_and_the_true_count(new_page, made, viewport):
    page = new_page(storage_state=made["state"], viewport=viewport, accept_downloads=True)
    name = "desktop" if viewport["width"] > 400 else "phone"
    page.goto(f"/dashboards/{made['board']['id']}")
    page.locator("#report-download-open").click()
    dialog = page.locator("#report-download-modal")
    expect(dialog).to_be_visible()
    limits = page.locator("#report-download-limits")
    expect(limits).to_contain_text("Excel: every row, up to Excel's limit of 1,048,575 rows a sheet")
    expect(limits).to_contain_text("PDF: a table of more than 150 rows shows its first 40 and its count.")
    page.locator("#report-format label", has_text="Excel").click()
    with page.expect_download(timeout=180_000) as caught:
        page.locator("#report-download-start").click()
    expect(page.locator("#report-file-rows")).to_contain_text(
        f"Every order: {ROWS:,} rows, all of them in this Excel file.", timeout=180_000)
    if viewport["width"] < 400:
        fits(page, ".modal-content", viewport["width"])
    page.screenshot(path=str(ARTIFACTS / f"report-limits-dialog-{name}.png"))
    book = load_workbook(io.BytesIO(open(caught.value.path(), "rb").read()), read_only=True)
    rows = list(book["Every order"].iter_rows(values_only=True))
    assert len(rows) == 1 + ROWS and rows[-1][0] == f"ORD-{ROWS:05d}"
    assert list(book["Amounts"].iter_rows(values_only=True))[0] == ("amount from", "amount to", "Count")


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_schedule_form_warns_that_email_is_not_set_up(new_page, made, viewport):
    page = new_page(storage_state=made["state"], viewport=viewport)
    name = "desktop" if viewport["width"] > 400 else "phone"
    page.goto(f"/dashboards/{made['board']['id']}/schedules")
    warning = page.locator("#schedule-mail-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Email is not set up on this server")
    expect(warning).to_contain_text("DATAINSIGHT_SMTP_HOST")
    if viewport["width"] < 400:
        fits(page, "#schedule-mail-warning", viewport["width"])
        fits(page, "#schedule-create", viewport["width"])
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the schedules page scrolls sideways by {overflow} px"
    page.screenshot(path=str(ARTIFACTS / f"report-limits-schedules-{name}.png"), full_page=True)
    page.fill("#schedule-recipients", EMAIL)  # a member: outside addresses need allowed domains
    send_buttons = page.locator("#schedule-table button:has-text('Send now')")
    before = send_buttons.count()
    page.locator("#schedule-create").click()
    expect(page.locator("#schedule-saved-warning")).to_contain_text("Added: Weekly on Mon at 08:00 UTC")
    expect(send_buttons).to_have_count(before + 1)  # the list is drawn again with it: click the new buttons
    send_buttons.first.click()
    expect(page.locator("#schedule-action-feedback")).to_contain_text("Not sent: Email is not set up")
    page.screenshot(path=str(ARTIFACTS / f"report-limits-schedules-sent-{name}.png"), full_page=True)
