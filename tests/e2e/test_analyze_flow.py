"""The Analyze page in a real browser against a real server: statistics and correlation of
mall customers, a regression whose coefficient table is read off the page (and equals
statsmodels), a prediction, clustering into described segments, saving the labels as a
new dataset version, and a second person who does not see the dataset.

Screenshots go to tests/e2e/artifacts/analyze-*.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import statsmodels.formula.api as smf
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, run_live_server, same_origin_context
from tests.e2e.test_datasets_flow import api_import
from tests.e2e.test_main_flow import ensure_account, sign_in, signed_in_state

pytestmark = pytest.mark.e2e

MALL = Path(__file__).resolve().parents[1] / "fixtures" / "shopping_data.csv"
OWNER = ("ana@example.com", "ana's long password", "Ana Lyst")
OTHER = ("otto@example.com", "otto's long password", "Otto Other")
FIT_TIMEOUT_MS = 60_000  # a fit is a background job; the shared test machine can be slow


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


@pytest.fixture(scope="module")
def mall_id(browser, base_url, owner_state) -> int:
    context = same_origin_context(browser, base_url, storage_state=owner_state)
    try:
        return api_import(context.new_page().request, MALL, name="Mall customers")["id"]
    finally:
        context.close()


@pytest.fixture
def owner_page(new_page, owner_state) -> Page:
    return new_page(storage_state=owner_state)


def clear(page: Page, dropdown_id: str) -> None:
    """Empty a dropdown the form preselected from the column roles (its clear button, once
    the preselection has arrived), to choose from scratch."""
    button = page.locator(f"#{dropdown_id} .dash-dropdown-clear")
    expect(button.first).to_be_visible()
    button.first.click()
    expect(button).to_have_count(0)


def choose(page: Page, dropdown_id: str, *labels: str) -> None:
    """Pick options of a dcc.Dropdown by typing into its search box."""
    for label in labels:
        page.locator(f"#{dropdown_id}").click()
        search = page.locator(".dash-dropdown-search")
        search.fill(label)
        page.get_by_role("option", name=re.compile(re.escape(label))).first.click()
        page.keyboard.press("Escape")


def table_rows(page: Page, table_id: str) -> list[list[str]]:
    return page.locator(f"#{table_id} tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")


def test_statistics_and_correlation(owner_page: Page, mall_id):
    page = owner_page
    page.goto(f"/analyze?dataset={mall_id}")
    expect(page.locator("#analyze-dataset-info")).to_have_text("200 rows · 5 columns · version 1")
    page.get_by_text("Test a difference").click()
    choose(page, "stats-test-column", "Spending Score")
    choose(page, "stats-test-group", "Genre")
    page.locator("#stats-run").click()
    expect(page.locator("#stats-test-name")).to_have_text("Welch's t-test (two-sided)", timeout=FIT_TIMEOUT_MS)
    expect(page.locator("#stats-test-assumptions")).to_contain_text("Equal variances are NOT assumed")
    page.screenshot(path=str(ARTIFACTS / "analyze-stats.png"), full_page=True)
    page.get_by_role("tab", name="Correlation").click()
    page.locator("#corr-run").click()
    expect(page.locator("#corr-pairs tbody tr").first).to_contain_text("×", timeout=FIT_TIMEOUT_MS)
    expect(page.locator("#corr-heatmap")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "analyze-correlation.png"), full_page=True)


def test_fit_a_regression_and_read_the_coefficient_table(owner_page: Page, mall_id):
    page = owner_page
    page.goto(f"/analyze?dataset={mall_id}&tab=regression")
    choose(page, "reg-target", "Spending Score")
    clear(page, "reg-features")  # the features the roles preselected
    choose(page, "reg-features", "Genre", "Age", "Annual Income")
    page.locator("#reg-run").click()
    table = page.locator("#reg-coefficients")
    expect(table).to_be_visible(timeout=FIT_TIMEOUT_MS)
    rows = {row[0]: row for row in table_rows(page, "reg-coefficients")}
    assert list(rows) == ["Intercept", "C(Genre)[T.Male]", "Age", 'Q("Annual Income (k$)")']
    expected = smf.ols('Q("Spending Score (1-100)") ~ C(Genre) + Age + Q("Annual Income (k$)")',
                       pd.read_csv(MALL)).fit()
    for term in expected.params.index:
        shown = float(rows[term][1].replace(",", ""))
        assert shown == pytest.approx(expected.params[term], rel=1e-3), term
        assert float(rows[term][2].replace(",", "")) == pytest.approx(expected.bse[term], rel=1e-3)
    expect(page.locator("#reg-r2")).to_have_text(f"{expected.rsquared:.4g}")
    expect(page.locator("#reg-notes")).to_contain_text("reference level “Female”")
    expect(page.locator("#reg-residuals")).to_be_visible()
    expect(page.locator("#reg-diagnostics")).to_contain_text("Breusch-Pagan")
    page.locator("#reg-predict").click()
    expect(page.locator("#reg-prediction")).to_contain_text("Predicted Spending Score (1-100):")
    page.screenshot(path=str(ARTIFACTS / "analyze-regression.png"), full_page=True)

    # Another reference level, chosen after the fit: Male; fit again.
    references = page.locator("#reg-references")
    expect(references).to_contain_text("Reference level of Genre")
    references.locator(".dash-dropdown").first.click()
    page.get_by_role("option", name="Male", exact=True).click()
    page.keyboard.press("Escape")
    page.locator("#reg-run").click()
    expect(page.locator("#reg-notes")).to_contain_text("reference level “Male”", timeout=FIT_TIMEOUT_MS)
    rows = {row[0]: row for row in table_rows(page, "reg-coefficients")}
    assert "C(Genre)[T.Female]" in rows
    female = float(rows["C(Genre)[T.Female]"][1].replace(",", ""))
    assert female == pytest.approx(-expected.params["C(Genre)[T.Male]"], rel=1e-3)
    page.screenshot(path=str(ARTIFACTS / "analyze-regression-reference.png"), full_page=True)


def test_cluster_into_segments_and_save_the_labels(owner_page: Page, mall_id):
    page = owner_page
    page.goto(f"/analyze?dataset={mall_id}&tab=clustering")
    clear(page, "clu-features")
    choose(page, "clu-features", "Annual Income", "Spending Score")
    page.locator("#clu-run").click()
    expect(page.locator("#clu-k-chosen")).to_have_text("5", timeout=FIT_TIMEOUT_MS)
    descriptions = page.locator(".clu-description")
    expect(descriptions).to_have_count(5)
    assert any("higher Annual Income (k$)" in text and "lower Spending Score (1-100)" in text
               for text in descriptions.all_inner_texts())
    expect(page.locator("#clu-pca")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "analyze-clustering.png"), full_page=True)
    page.locator("#clu-label-name").fill("segment")
    page.locator("#clu-save-run").click()
    expect(page.locator("#clu-saved")).to_contain_text("version 2", timeout=FIT_TIMEOUT_MS)
    expect(page.locator("#analyze-dataset-info")).to_have_text("200 rows · 6 columns · version 2")
    expect(page.locator("#clu-features")).to_contain_text("2 selected")  # the choice survives the new version
    dataset = page.request.get(f"/api/v1/datasets/{mall_id}").json()
    assert dataset["version"] == 2 and dataset["columns"][-1] == {"name": "segment", "type": "integer"}
    page.screenshot(path=str(ARTIFACTS / "analyze-clustering-saved.png"), full_page=True)


def test_another_person_does_not_see_the_dataset(new_page, live_server, mall_id):
    ensure_account(live_server, *OTHER)
    page = new_page()
    sign_in(page, OTHER[0], OTHER[1])
    page.goto(f"/analyze?dataset={mall_id}")
    expect(page.get_by_text("Nothing to analyze yet")).to_be_visible()
    response = page.request.post("/api/v1/analyze/regression", data={
        "dataset_id": mall_id, "target": "Age", "features": ["Genre"]})
    assert response.status == 404
