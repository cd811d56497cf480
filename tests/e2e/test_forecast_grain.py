"""The Time series tab on monthly data (US nonfarm employment 2006-2015), in a real browser: choosing the
date column shows "The data is monthly" and Automatic stands for Month; forcing Day is
refused in words that name Month; the automatic forecast's headline says whether it beats
seasonal naive. Desktop and phone width (390 px).

Screenshots go to tests/e2e/artifacts/forecast-grain-*.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_analyze_b_flow import (  # noqa: F401 (fixtures: one live server for the module)
    OWNER,
    base_url,
    choose,
    live_server,
    owner_page,
    owner_state,
)
from tests.e2e.test_datasets_flow import api_import

pytestmark = pytest.mark.e2e

SERIES = Path(__file__).resolve().parents[1] / "fixtures" / "timeseries"
# Three validation origins of six models on 120 months, on a shared 2-core machine.
RUN_TIMEOUT_MS = 200_000


@pytest.mark.timeout(600)  # the forecast job alone can take minutes when the shared machine is busy
def test_monthly_data_gets_the_monthly_grain_and_an_honest_headline(owner_page: Page):
    page = owner_page
    dataset = api_import(page.request, SERIES / "us-employment.csv", name="US employment")
    page.goto(f"/analyze?dataset={dataset['id']}&tab=timeseries")
    expect(page.locator("#analyze-dataset-info")).to_contain_text("120 rows")
    choose(page, "ts-date", "month")
    expect(page.locator("#ts-grain-detected")).to_have_text("The data is monthly: Automatic uses Month.")
    expect(page.locator("#ts-grain-detected")).to_have_attribute(
        "title", re.compile("^The data is monthly: 120 distinct times from 2006-01-01"))
    expect(page.locator("#ts-grain")).to_contain_text("Auto: Month")
    choose(page, "ts-value", "nonfarm")

    # Day on monthly data: refused, in words, naming the grain to choose.
    choose(page, "ts-grain", "Day")
    page.locator("#ts-run").click()
    expect(page.locator("#ts-result")).to_contain_text(
        "3,502 of 3,622 days have no data: this series looks monthly; choose Month.", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "forecast-grain-refused.png"), full_page=True)

    choose(page, "ts-grain", "Auto: Month")
    page.locator("#ts-run").click()
    expect(page.locator("#ts-verdict")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#ts-verdict")).to_contain_text("Better than seasonal naive on the holdout: MAPE ")
    expect(page.locator("#ts-grain-used")).to_have_text("Month")
    expect(page.locator("#ts-notes")).to_contain_text("Grain: Month, chosen automatically. The data is monthly")
    expect(page.locator("#ts-forecast-table tbody tr")).to_have_count(12)
    page.screenshot(path=str(ARTIFACTS / "forecast-grain-desktop.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#ts-verdict").scroll_into_view_if_needed()
    expect(page.locator("#ts-verdict")).to_be_visible()
    box = page.locator("#ts-verdict").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # the headline fits the phone's width
    page.screenshot(path=str(ARTIFACTS / "forecast-grain-phone.png"))  # the headline, as the phone shows it
    # No sideways scrolling, once plotly has redrawn its charts for the narrower window.
    page.wait_for_function("document.documentElement.scrollWidth <= 390", timeout=15_000)
