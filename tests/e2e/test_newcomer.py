"""A newcomer's first ten minutes, in a real browser on a fresh data directory, with a
public table that is not among the app's samples (a sample of nycflights13's flights,
tests/fixtures/public): first-run setup with one refused password, a file dropped on the
home page, the import, the profile, a generated dashboard, one edit, the PDF, and the
same dashboard at phone width. Screenshots go to tests/e2e/artifacts/newcomer-*.png."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, run_live_server

pytestmark = pytest.mark.e2e

FLIGHTS = Path(__file__).resolve().parents[1] / "fixtures" / "public" / "flights_sample.csv"
NAME, EMAIL, PASSWORD = "Nell Newcomer", "nell@example.com", "a newcomer's long password"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live_server():
    with run_live_server() as server:  # a fresh data dir: the first person sees the setup page
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"newcomer-{name}.png"), full_page=True)


def wider_than_the_screen(page: Page) -> bool:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return width > inner


def test_first_ten_minutes(new_page, base_url, tmp_path):
    page = new_page(accept_downloads=True)

    # 1. Setup: a too-short password is refused, and the valid one right after works.
    page.goto("/")
    expect(page).to_have_url(base_url + "/setup")
    page.fill("#public-setup-name", NAME)
    page.fill("#public-setup-email", EMAIL)
    page.fill("#public-setup-password", "short")
    page.fill("#public-setup-password2", "short")
    page.click("#public-setup-submit")
    expect(page.locator("#public-setup-feedback .alert-danger")).to_contain_text("characters")
    expect(page).to_have_url(base_url + "/setup")
    page.fill("#public-setup-password", PASSWORD)
    page.fill("#public-setup-password2", PASSWORD)
    page.click("#public-setup-submit")
    expect(page).to_have_url(base_url + "/")
    expect(page.locator("#nav-user-menu .dropdown-toggle")).to_have_text(NAME)
    expect(page.locator("#home-upload-zone")).to_be_visible()
    shot(page, "1-home")

    # 2. Drop the file on the home page; the import screen says what it read; import.
    with page.expect_file_chooser() as chooser:
        page.click("#home-upload-zone")
    chooser.value.set_files(str(FLIGHTS))
    page.wait_for_url(re.compile(r"/datasets/import\?uploads="))
    card = page.locator(".import-card")
    expect(card).to_have_count(1)
    expect(card.locator("h2")).to_contain_text("flights_sample.csv")
    shot(page, "2-import")
    card.get_by_role("button", name=re.compile("^Import")).click()
    expect(card).to_contain_text("Imported flights_sample (4,000 rows)", timeout=60_000)
    card.get_by_role("link", name="flights_sample").click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))
    dataset_id = int(re.search(r"/datasets/(\d+)$", page.url).group(1))
    expect(page.locator("#page-body h1")).to_contain_text("flights_sample")

    # 3. The profile: its alerts name the constant year and the flight numbers as codes.
    page.get_by_role("tab", name="Profile").click()
    alerts = page.locator("#profile-alerts")
    expect(alerts).to_contain_text("year has one value only (2013)", timeout=60_000)
    expect(alerts).to_contain_text("flight holds numbers that name things")
    shot(page, "3-profile")

    # 4. The generated dashboard: real measures, a time series, never an average year.
    page.locator("#dataset-create-dashboard").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+"), timeout=60_000)
    board_id = int(re.search(r"/dashboards/(\d+)", page.url).group(1))
    board = page.request.get(f"/api/v1/dashboards/{board_id}").json()
    titles = [w["spec"].get("title") or "" for w in board["widgets"]]
    assert not [t for t in titles if re.search(r"\b(year|month|day|hour|minute|flight)\b", t, re.I)
                and re.match(r"(Average|Total|Distribution)", t)], titles
    assert any(w["spec"]["type"] == "line" and w["spec"].get("x") == "time_hour" for w in board["widgets"])
    assert {"Total distance", "Average dep_delay"} <= set(titles)
    assert all((w["spec"].get("description") or "").strip() for w in board["widgets"])
    cards = page.locator(".widget-card")
    expect(cards).to_have_count(len(board["widgets"]))
    kpi = page.locator(".widget-card", has_text="Total distance").locator(".kpi-value")
    expect(kpi).to_have_text(re.compile(r"^[\d.,]+[KM]?$"), timeout=30_000)
    expect(page.locator(".widget-description").first).to_be_visible()
    expect(page.locator(".widget-card .main-svg").first).to_be_visible(timeout=30_000)
    shot(page, "4-dashboard")

    # 5. One edit: a bar chart added with the editor, which starts from the column roles.
    page.locator("#dash-edit-toggle").click()
    page.locator("#dash-widget-add").click()
    expect(page.locator("#editor-modal")).to_be_visible()
    page.locator("#editor-title").fill("Flights by carrier")
    expect(page.locator("#editor-preview .main-svg").first).to_be_visible(timeout=30_000)
    shot(page, "5-editor")
    page.locator("#editor-save").click()
    expect(page.locator("#editor-modal")).to_be_hidden()
    expect(page.locator(".widget-card")).to_have_count(len(board["widgets"]) + 1)
    added = [w for w in page.request.get(f"/api/v1/dashboards/{board_id}").json()["widgets"]
             if w["spec"].get("title") == "Flights by carrier"]
    assert len(added) == 1 and added[0]["spec"].get("dataset_id") == dataset_id
    page.locator("#dash-edit-toggle").click()

    # 6. The PDF: short, with the table's true count, and no table pages of rows.
    page.locator("#report-download-open").click()
    expect(page.locator("#report-download-modal")).to_be_visible()
    page.locator("#report-format label", has_text="PDF").click()
    with page.expect_download(timeout=180_000) as caught:
        page.locator("#report-download-start").click()
    expect(page.locator("#report-file-link")).to_be_visible(timeout=180_000)
    page.locator("#report-download-close").click()
    pdf = tmp_path / "dashboard.pdf"
    caught.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 1 <= pages <= 6, info
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Total distance" in text and "4,000" in text
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf),
                    str(ARTIFACTS / "newcomer-6-pdf")], check=True)

    # 7. The phone: the dashboard and the dataset page fit the screen; cards are stacked.
    page.set_viewport_size(PHONE)
    page.goto(f"/dashboards/{board_id}")
    expect(page.locator(".widget-card .main-svg").first).to_be_visible(timeout=30_000)
    assert not wider_than_the_screen(page)
    widths = page.eval_on_selector_all(".widget-card", "cards => cards.map(c => c.getBoundingClientRect().width)")
    assert widths and min(widths) >= 0.85 * PHONE["width"], widths
    shot(page, "7-phone-dashboard")
    page.goto(f"/datasets/{dataset_id}")
    expect(page.locator("#page-body h1")).to_contain_text("flights_sample")
    assert not wider_than_the_screen(page)
    shot(page, "7-phone-dataset")
