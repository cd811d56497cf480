"""Reports in a real browser against a real server: the video game sales dashboard made
from vgsales, downloaded as PDF (a page converted to PNG with pdftoppm to look at) and
as Excel from the Download menu; a weekly schedule made on the schedules page; "Send
now" delivers the PDF to a local SMTP server (aiosmtpd)."""
from __future__ import annotations

import io
import os
import re
import subprocess

import pytest
from openpyxl import load_workbook
from pptx import Presentation
from pptx.util import Inches
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server_with, same_origin_context
from tests.e2e.test_main_flow import ensure_account, sign_in
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD, NAME = "rita@example.com", "rita's long password", "Rita Reports"
LABELS = {"pdf": "PDF", "xlsx": "Excel", "pptx": "PowerPoint"}
VGSALES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vgsales.csv")


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def live_server(smtp):
    with run_live_server_with({"DATAINSIGHT_SMTP_HOST": "127.0.0.1", "DATAINSIGHT_SMTP_PORT": smtp.port,
                               "DATAINSIGHT_SMTP_FROM": "reports@example.com"}) as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture
def rita(new_page, browser, base_url, live_server) -> Page:
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page = new_page(accept_downloads=True)
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, EMAIL, PASSWORD)
    return page


def download(page: Page, fmt: str):
    page.locator("#report-download-open").click()
    expect(page.locator("#report-download-modal")).to_be_visible()
    page.locator("#report-format label", has_text=LABELS[fmt]).click()
    if fmt == "pptx":  # slides ask for their size instead of paper and orientation
        expect(page.locator("#report-paper-options")).to_be_hidden()
        expect(page.locator("#report-slides-options")).to_be_visible()
        page.locator("#report-slide-size label", has_text="4:3").click()
    with page.expect_download(timeout=180_000) as caught:
        page.locator("#report-download-start").click()
        if fmt == "pdf":  # the progress bar while it renders
            expect(page.locator("#report-progress-box")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "report-download-progress.png"))
    expect(page.locator("#report-file-link")).to_be_visible(timeout=180_000)
    page.locator("#report-download-close").click()
    return caught.value


def test_download_pdf_and_excel_then_schedule_and_send_now(rita: Page, smtp, tmp_path):
    page = rita
    upload = page.request.post("/api/v1/datasets", multipart={
        "file": {"name": "vgsales.csv", "mimeType": "text/csv", "buffer": open(VGSALES, "rb").read()}})
    assert upload.status == 201, upload.text()
    generated = page.request.post(f"/api/v1/datasets/{upload.json()['id']}/dashboard")
    assert generated.status == 201, generated.text()
    board = generated.json()
    page.goto(f"/dashboards/{board['id']}")
    expect(page.locator(".widget-placeholder")).to_have_count(0)

    pdf = download(page, "pdf")
    pdf_path = tmp_path / "dashboard.pdf"
    pdf.save_as(pdf_path)
    assert pdf.suggested_filename.endswith(".pdf") and pdf_path.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout
    assert board["name"] in text and "Sales by genre" in text
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "2", "-l", "2", str(pdf_path),
                    str(ARTIFACTS / "report-vgsales-page")], check=True)
    assert list(ARTIFACTS.glob("report-vgsales-page*.png"))

    xlsx = download(page, "xlsx")
    book = load_workbook(io.BytesIO(open(xlsx.path(), "rb").read()))
    assert book.sheetnames[0] == "Summary" and "Sales by genre" in book.sheetnames
    page.screenshot(path=str(ARTIFACTS / "report-download-menu.png"))

    slides = Presentation(io.BytesIO(open(download(page, "pptx").path(), "rb").read()))
    assert slides.slide_width == Inches(10)  # 4:3, as chosen
    charts = [shape.chart for slide in slides.slides for shape in slide.shapes if shape.has_chart]
    assert len(slides.slides) >= 3 and charts  # the title slide, then the widgets with native charts
    assert any("Sales by genre" in shape.text_frame.text for slide in slides.slides for shape in slide.shapes
               if shape.has_text_frame)

    page.locator("#report-schedules-link").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+/schedules"))
    schedules_url = page.url
    # Addresses outside the workspace's members need its owner's allowed domains (issue 18, point 10).
    page.fill("#schedule-recipients", "team@example.com")
    page.locator("#schedule-create").click()
    expect(page.locator("#schedule-form-feedback")).to_contain_text("allowed recipient domains")
    page.goto("/settings/workspaces")
    page.fill("#workspace-domains", "Example.com")
    page.locator("#workspace-domains-save").click()
    expect(page.locator("#workspace-domains-feedback")).to_contain_text("addresses in example.com")
    page.goto(schedules_url)
    page.fill("#schedule-name", "Monday sales")
    page.select_option("#schedule-frequency", "weekly")
    page.locator("#schedule-weekdays label", has_text="Thu").click()  # Thursday too
    page.fill("#schedule-timezone", "Europe/Paris")
    page.fill("#schedule-recipients", "team@example.com, boss@example.com")
    page.locator("#schedule-create").click()
    expect(page.locator("#schedule-form-feedback")).to_contain_text("Added: Weekly on Mon, Thu at 08:00 Europe/Paris")
    expect(page.locator("#schedule-table")).to_contain_text("Monday sales")
    page.locator("#schedule-table button:has-text('Send now')").first.click()
    expect(page.locator("#schedule-history-table")).to_contain_text("sent", timeout=180_000)
    expect(page.locator("#schedule-mail-log-table")).to_contain_text("boss@example.com")  # the owner's mail log
    expect(page.locator("#schedule-mail-log-table")).to_contain_text(EMAIL)  # who asked
    page.screenshot(path=str(ARTIFACTS / "report-schedules.png"), full_page=True)
    assert len(smtp.inbox.messages) == 1
    received = smtp.inbox.messages[0]
    assert sorted(received["to"]) == ["boss@example.com", "team@example.com"]
    [attachment] = list(received["message"].iter_attachments())
    assert attachment.get_filename().endswith(".pdf") and attachment.get_content().startswith(b"%PDF-")

    # Edit the schedule: the form fills with it, a change is saved in place.
    page.locator("#schedule-table button[title='Edit']").first.click()
    expect(page.locator("#schedule-editing-note")).to_contain_text("Monday sales")
    expect(page.locator("#schedule-recipients")).to_have_value("team@example.com, boss@example.com")
    expect(page.locator("#schedule-timezone")).to_have_value("Europe/Paris")
    page.fill("#schedule-time", "06:45")
    page.locator("#schedule-weekdays label", has_text="Mon").click()  # Thursdays only now
    page.screenshot(path=str(ARTIFACTS / "report-schedule-edit.png"), full_page=True)
    page.locator("#schedule-create").click()
    expect(page.locator("#schedule-form-feedback")).to_contain_text("Saved: Weekly on Thu at 06:45 Europe/Paris")
    expect(page.locator("#schedule-table")).to_contain_text("Weekly on Thu at 06:45 Europe/Paris")
    expect(page.locator("#schedule-table tbody tr")).to_have_count(1)
    expect(page.locator("#schedule-editing-note")).to_have_count(0)
    expect(page.locator("#schedule-create")).to_have_text("Add schedule")


def test_public_link_download_menu(rita: Page, browser, base_url):
    """A share link that allows downloads shows a Download menu to visitors who are not
    signed in; its links carry the filters in the address and download the report."""
    from pathlib import Path

    from tests.e2e.test_datasets_flow import api_import

    dataset = api_import(rita.request, Path(VGSALES), name="vgsales for the public")
    made = rita.request.post("/api/v1/dashboards", data={
        "name": "Public sales", "widgets": [
            {"id": "g", "spec": {"type": "bar", "dataset_id": dataset["id"], "title": "By genre", "x": "Genre",
                                 "y": "Global_Sales", "agg": "sum"}}],
        "filters": [{"id": "genre", "column": "Genre", "kind": "multi_select", "value": None}]}).json()
    token = rita.request.post(f"/api/v1/dashboards/{made['id']}/share").json()["token"]
    assert rita.request.put(f"/api/v1/dashboards/{made['id']}/share/export", data={"allow_export": True}).ok

    visitor = same_origin_context(browser, base_url, accept_downloads=True)
    try:
        page = visitor.new_page()
        page.goto(f"/public/dashboards/{token}?filters=" + '{"genre":["Puzzle","Racing"]}')
        expect(page.locator("#public-download-menu")).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        page.locator("#public-download-menu .dropdown-toggle").click()
        page.screenshot(path=str(ARTIFACTS / "report-public-download.png"))
        with page.expect_download(timeout=120_000) as caught:
            page.locator("#public-download-menu a", has_text="Excel workbook").click()
        assert caught.value.suggested_filename.endswith(".xlsx")
        book = load_workbook(io.BytesIO(open(caught.value.path(), "rb").read()))
        genres = sorted(r[0] for r in list(book["By genre"].iter_rows(values_only=True))[1:])
        assert genres == ["Puzzle", "Racing"]
    finally:
        visitor.close()
