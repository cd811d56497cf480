"""The Columns tab in a real browser: each column's role with its reason, an editor's
correction saved and still there after a reload, and one card per column on a phone.

Run on its own: .venv/bin/pytest tests/e2e/test_column_roles_flow.py
"""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server, same_origin_context
from tests.e2e.test_main_flow import ensure_account, sign_in

FLIGHTS = Path(__file__).resolve().parents[1] / "fixtures" / "public" / "flights_sample.csv"
EMAIL, PASSWORD, NAME = "rolf@example.com", "rolf's long password", "Rolf Roles"


@pytest.fixture(scope="module")
def live_server():
    """A server of its own: making an account on the session's server would end its
    first-run setup before test_main_flow walks through it."""
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="module")
def owner_state(browser, base_url, live_server):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    context = same_origin_context(browser, base_url)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        sign_in(context.new_page(), EMAIL, PASSWORD)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="module")
def flights_id(browser, base_url, owner_state) -> int:
    context = same_origin_context(browser, base_url, storage_state=owner_state)
    try:
        response = context.request.post("/api/v1/datasets", multipart={
            "file": {"name": "flights.csv", "mimeType": "text/csv", "buffer": FLIGHTS.read_bytes()}})
        assert response.status == 201, response.text()
        return response.json()["id"]
    finally:
        context.close()


def open_columns(page: Page, dataset_id: int):
    page.goto(f"/datasets/{dataset_id}")
    page.get_by_role("tab", name="Columns (19)").click()
    table = page.locator("#dataset-schema")
    expect(table).to_be_visible()
    return table


def row(table, column: str):
    return table.locator("tbody tr").filter(has=table.page.locator("td.column-name", has_text=column)).first


def test_roles_with_reasons_and_a_correction_that_stays(new_page, owner_state, flights_id):
    page = new_page(storage_state=owner_state, viewport={"width": 1366, "height": 900})
    table = open_columns(page, flights_id)
    month = row(table, "month")
    expect(month.locator("select option:checked")).to_have_text("Automatic: Date part: month")
    expect(month.locator("td.column-reason")).to_contain_text("whole numbers from 1 to 12")
    expect(row(table, "dep_delay").locator("select option:checked")).to_have_text("Automatic: Measure, averaged")
    expect(row(table, "flight").locator("select option:checked")).to_have_text("Automatic: Code")
    # A measure is offered only where the values are numbers.
    expect(row(table, "carrier").locator("select option[value='measure']")).to_have_count(0)

    row(table, "flight").locator("select").select_option("category")
    expect(row(table, "flight").locator("td.column-reason")).to_contain_text("set by a person")
    expect(row(table, "flight").locator("td.column-reason")).to_contain_text(f"Set by {NAME}")
    page.screenshot(path=str(ARTIFACTS / "column-roles-desktop.png"), full_page=True)

    table = open_columns(page, flights_id)  # after a reload the choice is still there
    expect(row(table, "flight").locator("select option:checked")).to_have_text("Category")
    row(table, "flight").locator("select").select_option("auto")
    expect(row(table, "flight").locator("td.column-reason")).not_to_contain_text("set by a person")
    api = page.request.get(f"/api/v1/datasets/{flights_id}/columns").json()
    assert next(c for c in api["columns"] if c["name"] == "flight")["source"] == "inferred"


def test_one_card_per_column_on_a_phone(new_page, owner_state, flights_id):
    page = new_page(storage_state=owner_state, viewport={"width": 390, "height": 844})
    table = open_columns(page, flights_id)
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    select = row(table, "dep_delay").locator("select").bounding_box()
    assert select["width"] > 250  # the choice spans the card, not a squeezed table cell
    assert page.evaluate("() => getComputedStyle(document.querySelector('#dataset-schema thead')).display") == "none"
    page.screenshot(path=str(ARTIFACTS / "column-roles-phone.png"))
