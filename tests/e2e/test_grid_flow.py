"""The dataset grid and a dashboard's filter bar in a real browser, on a flights-like table
(a year, month and day, a flight number, a carrier, distances in the thousands, delays,
amounts with and without cents, a timestamp):

- the line above the grid says how many rows match, and follows the filters;
- each column's filter button sits inside its own header cell, next to its own name;
- filters open on a useful operator (numbers "Greater than", a year "Equals", dates
  "Between", text "Contains");
- a year shows "2013", distances "2,475", amounts all with two decimals;
- on a dashboard with a carrier filter, clicking a carrier's bar sets the dropdown and the
  chip; clearing the chip clears the dropdown.

Screenshots at 1280 px and 390 px go to tests/e2e/artifacts/grid-*.png and
dashboard-click-filter-*.png.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ARTIFACTS, run_live_server
from tests.e2e.test_dashboard_flow import api, pattern_id, wait_until_drawn
from tests.e2e.test_datasets_flow import api_import, grid_cell, scroll_grid
from tests.e2e.test_main_flow import signed_in_state

pytestmark = pytest.mark.e2e

OWNER_EMAIL, OWNER_PASSWORD, OWNER_NAME = "gita@example.com", "gita's long password", "Gita Grid"
ROWS = 3000
CARRIERS = ["UA", "AA", "B6", "DL", "EV"]
DISTANCES = [200, 1400, 2475, 9952]
AMOUNTS = ["9952", "10086.02", "12.5", "7"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

_made: dict = {}


@pytest.fixture(scope="module")
def live_server():
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="module")
def owner_state(browser, base_url, live_server):
    return signed_in_state(browser, base_url, live_server, OWNER_EMAIL, OWNER_PASSWORD, OWNER_NAME)


@pytest.fixture
def owner_page(new_page, owner_state) -> Page:
    return new_page(storage_state=owner_state)


@pytest.fixture(scope="module")
def flights_rows() -> list[dict]:
    rnd = random.Random(13)
    rows = []
    for i in range(ROWS):
        when = dt.datetime(2013, 1, 1, 5) + dt.timedelta(hours=3 * i)
        rows.append({"year": when.year, "month": when.month, "day": when.day, "carrier": rnd.choice(CARRIERS),
                     "flight": rnd.randint(1, 6000), "distance": rnd.choice(DISTANCES),
                     "dep_delay": rnd.randint(-10, 300), "amount": rnd.choice(AMOUNTS),
                     "time_hour": when.isoformat(sep=" ")})
    return rows


@pytest.fixture
def flights(owner_page, flights_rows, tmp_path_factory) -> int:
    if "flights" not in _made:
        path = tmp_path_factory.mktemp("flights") / "flights.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(flights_rows[0]))
            writer.writeheader()
            writer.writerows(flights_rows)
        _made["flights"] = api_import(owner_page.request, path, name="flights")["id"]
    return _made["flights"]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def header(grid: Locator, column: str) -> Locator:
    return grid.locator(f'.ag-header-cell[col-id="{column}"]')


def open_filter(grid: Locator, column: str) -> Locator:
    """Click the column's filter button; the open filter popup."""
    button = header(grid, column).locator(".ag-header-cell-filter-button")
    button.scroll_into_view_if_needed()
    button.click()
    popup = grid.page.locator(".ag-filter").last
    expect(popup).to_be_visible()
    return popup


def assert_filter_buttons_sit_with_their_columns(grid: Locator) -> int:
    """Every visible header's filter button is inside that header cell, beside its name."""
    checked = 0
    for cell in grid.locator(".ag-header-cell").all():
        if not cell.is_visible():
            continue
        box = cell.bounding_box()
        button = cell.locator(".ag-header-cell-filter-button")
        label = cell.locator(".ag-header-cell-text")
        if not button.is_visible() or box["width"] < 60:
            continue
        icon, text = button.bounding_box(), label.bounding_box()
        column = cell.get_attribute("col-id")
        assert box["x"] <= icon["x"] and icon["x"] + icon["width"] <= box["x"] + box["width"], column
        gap = text["x"] - (icon["x"] + icon["width"]) if icon["x"] < text["x"] else icon["x"] - (text["x"] + text["width"])
        assert 0 <= gap <= 16, f"{column}: the filter button is {gap:.0f} px from its name"
        checked += 1
    return checked


def test_the_grid_counts_matches_and_formats_numbers(owner_page: Page, flights, flights_rows):
    page = owner_page
    page.goto(f"/datasets/{flights}")
    grid = page.locator("#dataset-grid")
    count = page.locator("#dataset-grid-count")
    expect(count).to_have_text(f"{ROWS:,} rows")

    # Numbers: a year without a separator, distances with one, amounts with two decimals.
    expect(grid_cell(grid, 0, "year")).to_have_text("2013")
    expect(grid_cell(grid, 0, "distance")).to_have_text(f"{flights_rows[0]['distance']:,}")
    scroll_grid(grid, right=3000)
    expect(grid_cell(grid, 0, "amount")).to_have_text(f"{float(flights_rows[0]['amount']):,.2f}")
    amounts = [grid_cell(grid, i, "amount").inner_text() for i in range(10)]
    assert all(re.fullmatch(r"[\d,]+\.\d\d", a) for a in amounts), amounts
    expect(grid_cell(grid, 0, "time_hour")).to_have_text("2013-01-01 05:00:00")
    scroll_grid(grid, right=-3000)

    # The filter buttons sit with their own columns (numbers right-aligned, text left).
    assert assert_filter_buttons_sit_with_their_columns(grid) >= 4
    shot(page, "grid-desktop")

    # A year opens on "Equals", text on "Contains".
    popup = open_filter(grid, "year")
    expect(popup.locator(".ag-picker-field-display").first).to_have_text("Equals")
    page.keyboard.press("Escape")
    popup = open_filter(grid, "carrier")
    expect(popup.locator(".ag-picker-field-display").first).to_have_text("Contains")
    page.keyboard.press("Escape")

    # dep_delay opens on "Greater than": filter > 100 and read the count.
    popup = open_filter(grid, "dep_delay")
    expect(popup.locator(".ag-picker-field-display").first).to_have_text("Greater than")
    popup.locator("input.ag-input-field-input").first.fill("100")
    popup.get_by_role("button", name="Apply").click()
    late = sum(1 for r in flights_rows if r["dep_delay"] > 100)
    expect(count).to_have_text(f"{late:,} of {ROWS:,} rows match")
    assert page.evaluate("() => dash_ag_grid.getApi('dataset-grid').getDisplayedRowCount()") == late

    # And a carrier on top of it.
    popup = open_filter(grid, "carrier")
    popup.locator("input.ag-input-field-input").first.fill("ua")
    popup.get_by_role("button", name="Apply").click()
    both = sum(1 for r in flights_rows if r["dep_delay"] > 100 and r["carrier"] == "UA")
    expect(count).to_have_text(f"{both:,} of {ROWS:,} rows match")
    expect(grid_cell(grid, 0, "carrier")).to_have_text("UA")

    # The timestamp's filter opens on "Between" (inRange).
    scroll_grid(grid, right=3000)
    popup = open_filter(grid, "time_hour")
    expect(popup.locator(".ag-picker-field-display").first).to_have_text("Between")  # AG Grid 33 calls inRange "Between"
    page.keyboard.press("Escape")
    scroll_grid(grid, right=-3000)
    shot(page, "grid-filtered")

    # At phone width the count and the filter buttons stay where they belong.
    page.set_viewport_size(PHONE)
    expect(count).to_be_in_viewport()
    assert assert_filter_buttons_sit_with_their_columns(grid) >= 1
    shot(page, "grid-phone")


def click_bar(page: Page, widget_id: str, label: str) -> None:
    """Click the bar of ``label`` once the chart has stopped moving (plotly redraws it when
    the page settles at its width). Plotly's drag layer lies over the bars and turns a
    click there into the bar's click."""
    body = page.locator(pattern_id("dash-widget-body", widget_id))
    bars = body.locator(".bars .point path")
    expect(bars.first).to_be_visible()
    labels = body.locator(".xtick text").evaluate_all("texts => texts.map(t => t.textContent)")
    bar = bars.nth(labels.index(label))
    bar.scroll_into_view_if_needed()
    box, previous = bar.bounding_box(), None
    for _ in range(100):
        if box == previous:
            break
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        box, previous = bar.bounding_box(), box
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5)


def test_a_bar_click_sets_the_filter_dropdown_and_the_chip(owner_page: Page, flights, flights_rows):
    page = owner_page
    board = api(page, "POST", "/api/v1/dashboards", data={
        "name": "Flights by carrier",
        "widgets": [
            {"id": "carriers", "spec": {"type": "bar", "dataset_id": flights, "x": "carrier", "agg": "count",
                                        "title": "Flights by carrier"},
             "layout": {"x": 0, "y": 0, "w": 8, "h": 6}},
            {"id": "count", "spec": {"type": "kpi", "dataset_id": flights, "agg": "count", "title": "Flights"},
             "layout": {"x": 8, "y": 0, "w": 4, "h": 3}},
        ],
        "filters": [{"id": "carrier", "column": "carrier", "kind": "multi_select", "value": None}],
    })
    page.goto(f"/dashboards/{board['id']}")
    wait_until_drawn(page, 2)
    kpi = page.locator(f"{pattern_id('dash-widget-body', 'count')} .kpi-value")
    expect(kpi).to_have_text(f"{ROWS:,}")
    dropdown = page.locator(pattern_id("dash-filter-select", "carrier"))
    click_bar(page, "carriers", "DL")

    delta = sum(1 for r in flights_rows if r["carrier"] == "DL")
    expect(page.locator("#dash-chips button")).to_have_text(re.compile("carrier = DL"))
    expect(dropdown).to_contain_text("DL")
    expect(kpi).to_have_text(f"{delta:,}")
    address = page.evaluate("location.href")
    assert "filters=" in address and "DL" in address  # the dropdown's value is in the shared view too
    shot(page, "dashboard-click-filter-desktop")

    # Clearing the chip clears the dropdown as well.
    page.locator("#dash-chips button").click()
    expect(page.locator("#dash-chips button")).to_have_count(0)
    expect(dropdown).not_to_contain_text("DL")
    expect(kpi).to_have_text(f"{ROWS:,}")

    # At phone width, the same click does the same.
    page.set_viewport_size(PHONE)
    page.reload()
    wait_until_drawn(page, 2)
    click_bar(page, "carriers", "UA")
    expect(page.locator("#dash-chips button")).to_have_text(re.compile("carrier = UA"))
    expect(dropdown).to_contain_text("UA")
    shot(page, "dashboard-click-filter-phone")
