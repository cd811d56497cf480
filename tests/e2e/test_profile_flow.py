"""The Profile tab in a real browser: upload the Online Retail sample through the page,
import it, open the Profile tab, watch it fill in, follow an alert to its column card,
filter the cards, switch the heatmap, download the HTML and open it with the network
cut off. Screenshots go to tests/e2e/artifacts/profile-*.png."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server
from tests.e2e.test_main_flow import ensure_account, sign_in

pytestmark = pytest.mark.e2e

RETAIL_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "online-retail-20k.csv"
EMAIL, PASSWORD, NAME = "pia@example.com", "pia's long password", "Pia Profile"


@pytest.fixture(scope="module")
def live_server():
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_profile_tab_after_uploading_online_retail(page: Page, live_server, tmp_path):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    sign_in(page, EMAIL, PASSWORD)
    page.goto("/datasets")
    with page.expect_file_chooser() as chooser:
        page.click("#dataset-upload-zone")
    chooser.value.set_files(str(RETAIL_CSV))
    page.wait_for_url(re.compile(r"/datasets/import\?uploads="))
    card = page.locator(".import-card")
    card.get_by_role("button", name="Import as a new dataset").click()
    link = card.locator(".alert-success .import-done-link")
    expect(link).to_have_count(1, timeout=60_000)
    link.click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))
    dataset_id = int(page.url.rsplit("/", 1)[1])

    page.get_by_role("tab", name="Profile").click()
    overview = page.locator("#profile-overview")
    expect(overview).to_be_visible(timeout=60_000)
    expect(overview).to_contain_text("20,000")
    alerts = page.locator("#profile-alerts")
    expect(alerts).to_contain_text("CustomerID is missing in 6,653 rows (33.3 %)")
    expect(alerts).to_contain_text("Quantity has 309 negative values")
    expect(alerts).to_contain_text("InvoiceNo has 938 distinct values")
    cards = page.locator(".profile-card")
    expect(cards).to_have_count(8)
    expect(cards.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.locator("#profile-heatmap .js-plotly-plot")).to_be_visible()
    expect(page.locator("#profile-missing-graph .js-plotly-plot")).to_be_visible()
    shot(page, "profile-tab")

    # An alert's link scrolls to its column's card.
    alerts.get_by_role("link", name="CustomerID").first.click()
    customer_card = page.locator(".profile-card").filter(has_text="CustomerID").first
    expect(customer_card).to_be_in_viewport()
    assert "#col-" in page.url

    # Filter the cards: numbers with negative values.
    page.select_option("#profile-type-filter", "numeric")
    expect(page.locator("#profile-card-count")).to_have_text("3 of 8 columns")
    expect(cards.locator("strong")).to_have_text(["Quantity", "UnitPrice", "CustomerID"])
    page.select_option("#profile-alert-filter", "negatives")
    expect(cards.locator("strong")).to_have_text(["Quantity"])
    page.select_option("#profile-alert-filter", "all")
    page.fill("#profile-search", "unit")
    page.press("#profile-search", "Enter")
    expect(cards.locator("strong")).to_have_text(["UnitPrice"])

    # The heatmap switches method.
    page.get_by_label("Spearman ρ").check()
    expect(page.locator("#profile-corr-note")).to_contain_text("Computed on all 20,000 rows")
    expect(page.locator("#profile-heatmap .js-plotly-plot")).to_be_visible()

    # The HTML download opens with no network at all.
    with page.expect_download() as download:
        page.click("#profile-download")
    saved = tmp_path / "profile.html"
    download.value.save_as(saved)
    offline = page.context.browser.new_context()
    try:
        offline.set_offline(True)
        requests = []
        viewer = offline.new_page()
        viewer.on("request", lambda r: requests.append(r.url))
        viewer.goto(saved.as_uri())
        expect(viewer.locator("h1")).to_have_text(re.compile("online-retail"))
        expect(viewer.locator("section.card")).to_have_count(8)
        expect(viewer.locator(".js-plotly-plot").first).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        viewer.screenshot(path=str(ARTIFACTS / "profile-download.png"), full_page=False)
        assert [u for u in requests if not u.startswith("file:")] == []
    finally:
        offline.close()
    assert page.request.get(f"/api/v1/datasets/{dataset_id}/profile").json()["status"] == "ready"
