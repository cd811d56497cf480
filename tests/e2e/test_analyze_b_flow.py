"""The Analyze page's Time series, Funnels & journeys and Customer segments tabs in a real
browser against a real server: forecast Online Retail daily revenue and read the holdout
error beside seasonal naive; draw the funnel of the clickstream sample and read its counts
(equal to the hand-computed ones), its journeys and retention; compute RFM segments of
the whole Online Retail data (the app's shipped sample).

Screenshots go to tests/e2e/artifacts/analyze-b-*.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, run_live_server, same_origin_context
from tests.e2e.test_datasets_flow import api_import
from tests.e2e.test_main_flow import signed_in_state

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OWNER = ("tess@example.com", "tess's long password", "Tess Series")
RUN_TIMEOUT_MS = 90_000  # the forecast fits a dozen models in a background job on a shared machine


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


@pytest.fixture(scope="module")
def whole_retail_id(browser, base_url, owner_state) -> int:
    """The whole Online Retail data (541,909 invoice lines), as the app ships it as a sample."""
    context = same_origin_context(browser, base_url, storage_state=owner_state)
    try:
        response = context.request.post("/api/v1/samples/online-retail", timeout=180_000)
        assert response.status == 201, response.text()
        return response.json()["id"]
    finally:
        context.close()


def choose(page: Page, dropdown_id: str, *names: str) -> None:
    """Pick options of a dcc.Dropdown whose label is the name, or the name then the type
    or count in brackets, by typing into its search box."""
    for name in names:
        page.locator(f"#{dropdown_id}").click()
        page.locator(".dash-dropdown-search").fill(name)
        page.get_by_role("option", name=re.compile("^" + re.escape(name) + r"( \(|\s+·|$)")).first.click()
        page.keyboard.press("Escape")


def table_rows(page: Page, table_id: str) -> list[list[str]]:
    return page.locator(f"#{table_id} tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").strip())


def test_forecast_online_retail_revenue(owner_page: Page):
    page = owner_page
    dataset = api_import(page.request, FIXTURES / "online-retail-daily-revenue.csv", name="Online Retail revenue")
    page.goto(f"/analyze?dataset={dataset['id']}&tab=timeseries")
    expect(page.locator("#analyze-dataset-info")).to_contain_text("305 rows")
    choose(page, "ts-date", "date")
    choose(page, "ts-value", "revenue")
    page.locator("#ts-run").click()
    expect(page.locator("#ts-errors")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    rows = table_rows(page, "ts-errors")
    assert rows[1][0] == "Seasonal naive (baseline)"
    chosen_mape, baseline_mape = number(rows[0][1]), number(rows[1][1])
    assert baseline_mape == pytest.approx(30.3, abs=0.05)
    assert chosen_mape < 26 and chosen_mape < baseline_mape
    expect(page.locator("#ts-baseline-mape")).to_have_text(rows[1][1])
    expect(page.locator("#ts-notes")).to_contain_text("no data ever on Saturday")
    expect(page.locator("#ts-notes")).to_contain_text("inside the training part only")
    expect(page.locator("#ts-forecast-graph .main-svg").first).to_be_visible()
    expect(page.locator("#ts-stl-graph .main-svg").first).to_be_visible()
    expect(page.locator("#ts-model")).to_have_text("Combination")
    assert len(table_rows(page, "ts-forecast-table")) == 30
    page.screenshot(path=str(ARTIFACTS / "analyze-b-forecast.png"), full_page=True)


def test_funnel_journeys_and_retention_of_the_clickstream(owner_page: Page):
    page = owner_page
    dataset = api_import(page.request, FIXTURES / "events-ecom-journey" / "ecom-sample.csv", name="Clickstream")
    page.goto(f"/analyze?dataset={dataset['id']}&tab=journeys")
    expect(page.locator("#analyze-dataset-info")).to_contain_text("2,056 rows")
    choose(page, "fj-entity", "user_id")
    choose(page, "fj-event", "event")
    choose(page, "fj-time", "timestamp")
    choose(page, "fun-steps", "catalog", "product_view", "add_to_cart", "cart", "purchase")
    page.locator("#fun-run").click()
    expect(page.locator("#fun-table")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    rows = table_rows(page, "fun-table")
    assert [r[0] for r in rows] == ["catalog", "product_view", "add_to_cart", "cart", "purchase"]
    assert [int(number(r[1])) for r in rows] == [40, 40, 36, 32, 15]  # as counted by hand
    assert rows[-1][2] == "37.5 %"
    expect(page.locator("#fun-graph .main-svg").first).to_be_visible()

    page.locator("#jr-run").click()
    expect(page.locator("#jr-paths")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#jr-sankey .sankey").first).to_be_attached()
    page.get_by_text("Cohort by").scroll_into_view_if_needed()
    choose(page, "ret-grain", "month")
    page.locator("#ret-run").click()
    expect(page.locator("#ret-table")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    first = table_rows(page, "ret-table")[0]
    assert first[:5] == ["2024-01-01", "4", "100 %", "75 %", "50 %"]
    page.screenshot(path=str(ARTIFACTS / "analyze-b-journeys.png"), full_page=True)


def test_forecast_revenue_from_the_invoice_lines(owner_page: Page, whole_retail_id):
    """UnitPrice × Quantity per day from the 541,909 lines: the same series and error as the fixture."""
    page = owner_page
    page.goto(f"/analyze?dataset={whole_retail_id}&tab=timeseries")
    expect(page.locator("#analyze-dataset-info")).to_contain_text("541,909 rows")
    choose(page, "ts-date", "InvoiceDate")
    choose(page, "ts-value", "UnitPrice")
    choose(page, "ts-multiply", "Quantity")
    page.locator("#ts-run").click()
    expect(page.locator("#ts-errors")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    rows = table_rows(page, "ts-errors")
    assert number(rows[1][1]) == pytest.approx(30.3, abs=0.05) and number(rows[0][1]) < 26
    expect(page.locator("#ts-notes")).to_contain_text("305 days; season of 6 periods")
    expect(page.locator("#ts-forecast-graph .main-svg").first).to_be_visible()
    expect(page.locator("#ts-stl-graph .main-svg").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "analyze-b-forecast-lines.png"), full_page=True)


def test_rfm_segments_of_online_retail(owner_page: Page, whole_retail_id):
    page = owner_page
    page.goto(f"/analyze?dataset={whole_retail_id}&tab=segments")
    expect(page.locator("#analyze-dataset-info")).to_contain_text("541,909 rows")
    choose(page, "seg-customer", "CustomerID")
    choose(page, "seg-date", "InvoiceDate")
    choose(page, "seg-amount", "UnitPrice")
    choose(page, "seg-quantity", "Quantity")
    choose(page, "seg-order", "InvoiceNo")
    page.locator("#rfm-run").click()
    expect(page.locator("#rfm-segments")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    rows = table_rows(page, "rfm-segments")
    assert [r[0] for r in rows][:2] == ["Champions", "Loyal"]
    # 4,338 customers have a purchase (the commonly quoted count for this data set).
    expect(page.locator("#rfm-customers")).to_have_text("4,338")
    assert sum(int(number(r[1])) for r in rows) == 4338
    assert all(int(number(r[1])) > 0 for r in rows)  # every segment has customers on the whole year
    expect(page.locator("#rfm-grid .main-svg").first).to_be_visible()
    assert len(table_rows(page, "rfm-top")) == 20
    page.locator("#clv-run").click()
    expect(page.locator("#clv-segments")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#clv-historic-mean")).not_to_have_text("–")
    rate_prediction = page.locator("#clv-predicted-mean").inner_text()
    page.screenshot(path=str(ARTIFACTS / "analyze-b-segments.png"), full_page=True)
    # The probabilistic models instead: fitted on the 4,338 customers, their parameters shown.
    page.locator("#clv-model label", has_text="BG/NBD").click()
    page.locator("#clv-run").click()
    expect(page.locator("#clv-parameters")).to_contain_text("Fitted BG/NBD: r =", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#clv-method")).to_contain_text("Gamma-Gamma")
    expect(page.locator("#clv-predicted-mean")).not_to_have_text(rate_prediction)
    page.locator("#clv-parameters").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "analyze-b-clv-bgnbd.png"), full_page=True)
