"""Analyze → dashboard in a real browser against a real server: compute RFM segments of
Online Retail invoice lines on the Analyze page, "Add to dashboard", open the dashboard
and find the segments drawn there as a widget (with its note that dashboard filters do not
apply); then the same for a forecast, onto a new dashboard.

Screenshots go to tests/e2e/artifacts/analysis-widget-*.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, run_live_server
from tests.e2e.test_analyze_b_flow import choose
from tests.e2e.test_dashboard_flow import choose_pattern
from tests.e2e.test_datasets_flow import api_import
from tests.e2e.test_main_flow import signed_in_state

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OWNER = ("wanda@example.com", "wanda's long password", "Wanda Widget")
RUN_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def live_server():
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="module")
def owner_state(browser, base_url, live_server):
    return signed_in_state(browser, base_url, live_server, *OWNER)


@pytest.fixture
def owner_page(new_page, owner_state) -> Page:
    return new_page(storage_state=owner_state)


def _pattern(kind: str, prefix: str) -> str:
    """The CSS selector of a pattern-matching component id (Dash writes it as sorted JSON)."""
    return f"[id='{{\"prefix\":\"{prefix}\",\"type\":\"aw-{kind}\"}}']"


def test_rfm_result_goes_onto_a_dashboard(owner_page: Page, new_page):
    page = owner_page
    dataset = api_import(page.request, FIXTURES / "online-retail-20k.csv", name="Retail lines")
    board = page.request.post("/api/v1/dashboards", data={"name": "Customer overview"})
    assert board.status == 201, board.text()

    page.goto(f"/analyze?dataset={dataset['id']}&tab=segments")
    choose(page, "seg-customer", "CustomerID")
    choose(page, "seg-date", "InvoiceDate")
    choose(page, "seg-amount", "UnitPrice")
    choose(page, "seg-quantity", "Quantity")
    page.locator("#rfm-run").click()
    expect(page.locator("#rfm-segments")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    customers = page.locator("#rfm-customers").inner_text()

    page.locator(_pattern("open", "rfm")).click()
    modal = page.locator(".modal.show")
    expect(modal).to_contain_text("Add “RFM segments” to a dashboard")
    expect(modal.locator(_pattern("board", "rfm"))).to_contain_text("Customer overview")
    modal.locator(_pattern("title", "rfm")).fill("Customer segments")
    modal.get_by_role("button", name="Add widget").click()
    expect(modal).to_contain_text("Added to “Customer overview”")
    page.screenshot(path=str(ARTIFACTS / "analysis-widget-added.png"), full_page=True)

    modal.get_by_role("link", name="Open the dashboard").click()
    expect(page).to_have_url(re.compile(rf"/dashboards/{board.json()['id']}$"))
    card = page.locator(".widget-card", has_text="Customer segments")
    expect(card).to_be_visible()
    expect(card.locator(".main-svg").first).to_be_visible()
    expect(card.locator(".widget-note")).to_contain_text(f"{customers} customers")
    expect(card.locator(".widget-note")).to_contain_text("dashboard filters")
    expect(card).to_contain_text("Champions")
    page.screenshot(path=str(ARTIFACTS / "analysis-widget-dashboard.png"), full_page=True)

    # The widget editor changes the view and keeps the analysis params it cannot show.
    page.locator("#dash-edit-toggle").click()
    card.locator(".widget-menu button").first.click()
    page.locator(".dropdown-menu.show").get_by_text("Edit", exact=True).click()
    expect(page.locator("#editor-modal")).to_be_visible()
    expect(page.locator("#editor-preview .main-svg").first).to_be_visible()
    choose_pattern(page, "editor-field", "view", "Treemap")
    expect(page.locator("#editor-preview .treemap").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "analysis-widget-editor.png"))
    page.locator("#editor-save").click()
    expect(page.locator("#editor-modal")).to_be_hidden()
    expect(card.locator(".treemap").first).to_be_visible()
    saved = page.request.get(f"/api/v1/dashboards/{board.json()['id']}").json()["widgets"][0]["spec"]
    assert saved["view"] == "treemap" and saved["params"]["customer"] == "CustomerID"
    page.locator("#dash-edit-toggle").click()

    # The public link draws it for a visitor who is not signed in.
    link = page.request.post(f"/api/v1/dashboards/{board.json()['id']}/share")
    assert link.status == 201, link.text()
    visitor = new_page()
    visitor.goto(link.json()["url"])
    shared = visitor.locator(".widget-card", has_text="Customer segments")
    expect(shared.locator(".main-svg").first).to_be_visible()
    expect(shared).to_contain_text("Champions")
    visitor.screenshot(path=str(ARTIFACTS / "analysis-widget-public.png"), full_page=True)


def test_forecast_goes_onto_a_new_dashboard(owner_page: Page):
    page = owner_page
    dataset = api_import(page.request, FIXTURES / "online-retail-daily-revenue.csv", name="Daily revenue")
    page.goto(f"/analyze?dataset={dataset['id']}&tab=timeseries")
    choose(page, "ts-date", "date")
    choose(page, "ts-value", "revenue")
    page.locator("#ts-run").click()
    expect(page.locator("#ts-mape")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    mape = page.locator("#ts-mape").inner_text()

    page.locator(_pattern("open", "ts")).click()
    modal = page.locator(".modal.show")
    board = modal.locator(_pattern("board", "ts"))
    board.click()
    page.get_by_role("option", name="New dashboard…").click()  # (Escape would close the form)
    modal.locator(_pattern("new-name", "ts")).fill("Revenue outlook")
    modal.get_by_role("button", name="Add widget").click()
    expect(modal).to_contain_text("Added to “Revenue outlook”")
    modal.get_by_role("link", name="Open the dashboard").click()
    card = page.locator(".widget-card", has_text="Forecast")
    expect(card.locator(".main-svg").first).to_be_visible()
    # The holdout error in the widget's title is the one the Analyze tab showed.
    value = float(mape.replace(" %", "").replace(",", ""))
    expect(card.locator(".gtitle")).to_contain_text(f"holdout MAPE {value:.1f} %")
    page.screenshot(path=str(ARTIFACTS / "analysis-widget-forecast.png"), full_page=True)
