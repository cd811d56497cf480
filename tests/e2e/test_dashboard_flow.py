"""Dashboards in a real browser against a real server: "Create dashboard" on vgsales gives
the video game template; resize a widget and find it kept after a reload; add a widget
with the editor; filter by platform; click a genre bar to cross-filter; share the public
link, open it signed out, revoke it. Also measures how long the dashboard takes to be
fully drawn after navigation (printed, and written to tests/e2e/artifacts/).

The tests run in file order and share the dashboard through ``_made``.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, run_live_server
from tests.e2e.test_main_flow import signed_in_state

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VGSALES_CSV = PROJECT_ROOT / "tests" / "fixtures" / "vgsales.csv"
OWNER_EMAIL, OWNER_PASSWORD, OWNER_NAME = "dora@example.com", "dora's long password", "Dora Dash"

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


def pattern_id(type_name: str, index) -> str:
    """A CSS selector for a Dash pattern-matching id."""
    value = json.dumps({"index": index, "type": type_name}, separators=(",", ":"))
    return f"[id='{value}']"


def api(page: Page, method: str, url: str, **kwargs) -> dict:
    response = page.request.fetch(url, method=method, **kwargs)
    assert response.ok, f"{method} {url}: {response.status} {response.text()}"
    return response.json()


def query_total(page: Page, dataset_id: int, filters: list[dict]) -> float:
    result = api(page, "POST", "/api/v1/query", data={"dataset_id": dataset_id, "spec": {
        "type": "kpi", "y": "Global_Sales", "agg": "sum", "filters": filters}})
    return result["rows"][0][2]


def kpi_text(page: Page, widget_id: str) -> str:
    return page.locator(f"{pattern_id('dash-widget-body', widget_id)} .kpi-value").inner_text()


def widget_by_title(board: dict, title: str) -> dict:
    return next(w for w in board["widgets"] if w["spec"].get("title") == title)


def wait_until_drawn(page: Page, count: int) -> None:
    """Every widget card has its content (no placeholder left) and plotly has drawn."""
    expect(page.locator(".widget-card")).to_have_count(count)
    expect(page.locator(".widget-placeholder")).to_have_count(0)
    expect(page.locator("._dash-loading-callback")).to_have_count(0)
    page.wait_for_function("document.querySelectorAll('.widget-card .main-svg').length > 0")


def test_create_dashboard_from_the_dataset_page(owner_page: Page):
    page = owner_page
    page.goto("/datasets")
    upload = page.request.post("/api/v1/datasets", multipart={
        "file": {"name": "vgsales.csv", "mimeType": "text/csv", "buffer": VGSALES_CSV.read_bytes()}})
    assert upload.status == 201, upload.text()
    dataset = upload.json()
    _made["dataset"] = dataset["id"]
    page.goto(f"/datasets/{dataset['id']}")
    page.locator("#dataset-create-dashboard").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+"))
    board_id = int(re.search(r"/dashboards/(\d+)", page.url).group(1))
    board = api(page, "GET", f"/api/v1/dashboards/{board_id}")
    _made["board"] = board_id
    assert board["name"].startswith("vgsales")
    titles = [w["spec"].get("title") for w in board["widgets"]]
    assert "Sales by genre" in titles and "Top platforms" in titles
    wait_until_drawn(page, len(board["widgets"]))
    total = query_total(page, dataset["id"], [])
    global_kpi = widget_by_title(board, "Global sales (M units)")
    expect(page.locator(f"{pattern_id('dash-widget-body', global_kpi['id'])} .kpi-value")).to_have_text(
        f"{total:,.2f}")
    page.screenshot(path=str(ARTIFACTS / "dashboard-vgsales.png"), full_page=True)

    # Drawn after navigation, measured from a fresh page load (cached queries, like a revisit).
    start = time.perf_counter()
    page.goto(f"/dashboards/{board_id}")
    wait_until_drawn(page, len(board["widgets"]))
    seconds = time.perf_counter() - start
    (ARTIFACTS / "dashboard-draw-seconds.txt").write_text(f"{seconds:.2f}\n")
    print(f"\nvgsales dashboard ({len(board['widgets'])} widgets) fully drawn {seconds:.2f} s after navigation")


def test_resize_and_drag_are_kept_after_reload(owner_page: Page):
    page = owner_page
    board_id = _made["board"]
    board = api(page, "GET", f"/api/v1/dashboards/{board_id}")
    genre = widget_by_title(board, "Sales by genre")
    page.goto(f"/dashboards/{board_id}")
    wait_until_drawn(page, len(board["widgets"]))
    page.locator("#dash-edit-toggle").click()
    expect(page.locator("#dash-widget-add")).to_be_visible()
    card = page.locator(f"[id='{genre['id']}']")
    expect(card.locator(".widget-handle")).to_be_visible()
    # The grid wraps each card in its own item, which holds the resize handle.
    handle = page.locator(".react-grid-item", has=card).locator(".react-resizable-handle")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 10, box["y"] + 80, steps=8)
    page.mouse.move(box["x"] + 20, box["y"] + 160, steps=8)
    page.mouse.up()

    def saved_height():
        return widget_by_title(api(page, "GET", f"/api/v1/dashboards/{board_id}"), "Sales by genre")["layout"]["h"]

    deadline = time.time() + 10
    while saved_height() == genre["layout"]["h"] and time.time() < deadline:
        time.sleep(0.2)
    new_height = saved_height()
    assert new_height > genre["layout"]["h"]

    # Drag the Japan KPI by its handle to the left end of its row.
    japan = widget_by_title(board, "Japan (M units)")
    assert japan["layout"]["x"] > 0
    grip = page.locator(f"[id='{japan['id']}'] .widget-handle")
    grip.scroll_into_view_if_needed()
    box = grip.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] - 100 * step, box["y"] + 5, steps=2)
    page.mouse.up()

    def saved_x():
        return widget_by_title(api(page, "GET", f"/api/v1/dashboards/{board_id}"), "Japan (M units)")["layout"]["x"]

    deadline = time.time() + 10
    while saved_x() == japan["layout"]["x"] and time.time() < deadline:
        time.sleep(0.2)
    assert saved_x() == 0

    page.reload()
    wait_until_drawn(page, len(board["widgets"]))
    moved = page.locator(".react-grid-item", has=page.locator(f"[id='{japan['id']}']"))
    first_kpi = page.locator(".react-grid-item").first
    assert moved.bounding_box()["x"] == pytest.approx(first_kpi.bounding_box()["x"], abs=2)
    item = page.locator(".react-grid-item", has=page.locator(f"[id='{genre['id']}']"))
    # The item is as tall as the saved layout says: rows of 60 px with 12 px margins.
    assert item.bounding_box()["height"] == pytest.approx(new_height * 60 + (new_height - 1) * 12, abs=2)


def test_add_a_widget_with_the_editor(owner_page: Page):
    page = owner_page
    board_id = _made["board"]
    before = len(api(page, "GET", f"/api/v1/dashboards/{board_id}")["widgets"])
    page.goto(f"/dashboards/{board_id}")
    wait_until_drawn(page, before)
    page.locator("#dash-edit-toggle").click()
    page.locator("#dash-widget-add").click()
    expect(page.locator("#editor-modal")).to_be_visible()
    choose(page, "editor-type", "Pie")
    page.locator("#editor-title").fill("Platform share")
    choose_pattern(page, "editor-field", "x", "Platform")
    choose_pattern(page, "editor-field", "y", "Global_Sales")
    expect(page.locator("#editor-preview .main-svg").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-editor.png"))
    page.locator("#editor-save").click()
    expect(page.locator("#editor-modal")).to_be_hidden()
    expect(page.locator(".widget-card")).to_have_count(before + 1)
    board = api(page, "GET", f"/api/v1/dashboards/{board_id}")
    pie = widget_by_title(board, "Platform share")
    assert pie["spec"]["type"] == "pie" and pie["spec"]["x"] == "Platform" and pie["spec"]["y"] == "Global_Sales"
    expect(page.locator(f"{pattern_id('dash-widget-body', pie['id'])} .main-svg").first).to_be_visible()


def choose(page: Page, dropdown_id: str, label: str) -> None:
    pick(page, page.locator(f"#{dropdown_id}"), label)


def choose_pattern(page: Page, type_name: str, index, label: str) -> None:
    pick(page, page.locator(pattern_id(type_name, index)), label)


def pick(page: Page, dropdown, label: str) -> None:
    """Pick an option of a dcc.Dropdown by typing into its search box. (No Escape to close
    a multi-select: in the widget editor it would close the whole dialog.)"""
    dropdown.click()
    page.locator(".dash-dropdown-search").fill(label)
    page.get_by_role("option", name=re.compile(re.escape(label))).first.click()
    if page.locator(".dash-dropdown-search").count():
        page.mouse.click(5, 300)  # click outside: closes the options list


def test_filter_then_cross_filter(owner_page: Page):
    page = owner_page
    board_id, dataset_id = _made["board"], _made["dataset"]
    board = api(page, "GET", f"/api/v1/dashboards/{board_id}")
    global_kpi = widget_by_title(board, "Global sales (M units)")["id"]
    genre = widget_by_title(board, "Sales by genre")["id"]
    page.goto(f"/dashboards/{board_id}")
    wait_until_drawn(page, len(board["widgets"]))

    platform_filter = next(f for f in board["filters"] if f["column"] == "Platform")
    choose_pattern(page, "dash-filter-select", platform_filter["id"], "Wii")
    wii = query_total(page, dataset_id, [{"column": "Platform", "op": "in", "value": ["Wii"]}])
    expect(page.locator(f"{pattern_id('dash-widget-body', global_kpi)} .kpi-value")).to_have_text(f"{wii:,.2f}")
    # history.replaceState changes the address without a navigation event, so Playwright's
    # page.url may lag: read the address bar itself.
    address = page.evaluate("location.href")
    assert "filters=" in address and "Wii" in address

    # Click the Sports bar of "Sales by genre": the other widgets filter to Sports.
    bars = page.locator(f"{pattern_id('dash-widget-body', genre)} .bars .point path")
    expect(bars.first).to_be_visible()
    labels = page.locator(f"{pattern_id('dash-widget-body', genre)} .xtick text").evaluate_all(
        "texts => texts.map(t => t.textContent)")  # SVG text has no innerText
    # Plotly's drag layer lies over the bars and turns a click there into the bar's click.
    bar = bars.nth(labels.index("Sports"))
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5)
    expect(page.locator("#dash-chips button")).to_have_text(re.compile("Genre = Sports"))
    both = query_total(page, dataset_id, [{"column": "Platform", "op": "in", "value": ["Wii"]},
                                          {"column": "Genre", "op": "=", "value": "Sports"}])
    expect(page.locator(f"{pattern_id('dash-widget-body', global_kpi)} .kpi-value")).to_have_text(f"{both:,.2f}")
    page.screenshot(path=str(ARTIFACTS / "dashboard-cross-filtered.png"), full_page=True)

    # The URL carries the view: opening it again shows the same filtered numbers.
    url = page.evaluate("location.href")
    assert "xf=" in url
    page.goto(url)
    expect(page.locator(f"{pattern_id('dash-widget-body', global_kpi)} .kpi-value")).to_have_text(f"{both:,.2f}")
    # Clearing the chip goes back to the platform filter only.
    page.locator("#dash-chips button").click()
    expect(page.locator(f"{pattern_id('dash-widget-body', global_kpi)} .kpi-value")).to_have_text(f"{wii:,.2f}")


def test_public_link_signed_out_then_revoked(owner_page: Page, new_page):
    page = owner_page
    board_id = _made["board"]
    board = api(page, "GET", f"/api/v1/dashboards/{board_id}")
    page.goto(f"/dashboards/{board_id}")
    page.locator("#dash-share-open").click()
    page.locator("#share-create").click()
    link = page.locator("#share-url")
    expect(link).to_have_value(re.compile(r"/public/dashboards/[\w-]{20,}"))
    url = link.input_value()

    visitor = new_page()  # a fresh context: not signed in
    visitor.goto(url)
    wait_until_drawn(visitor, len(board["widgets"]))
    expect(visitor.locator("#nav-user-menu")).to_have_count(0)
    expect(visitor.locator("h1")).to_have_text(board["name"])
    visitor.screenshot(path=str(ARTIFACTS / "dashboard-public.png"), full_page=True)

    page.locator("#share-revoke").click()
    expect(page.locator("#share-status")).to_contain_text("No public link")
    response = visitor.goto(url)
    assert response.status == 404


def test_a_map_draws_from_local_assets_only(owner_page: Page):
    """A choropleth needs country shapes; they come from our assets, and nothing on the
    dashboard page asks any other host for anything (the app works offline)."""
    page = owner_page
    outside = []
    page.on("request", lambda request: None if request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else outside.append(request.url))
    rows = "country,sales\n" + "".join(f"{c},{v}\n" for c, v in (
        ("France", 10), ("Germany", 20), ("United Kingdom", 30), ("EIRE", 5), ("Japan", 12), ("Brazil", 7)))
    upload = page.request.post("/api/v1/datasets", multipart={
        "file": {"name": "countries.csv", "mimeType": "text/csv", "buffer": rows.encode()}})
    assert upload.status == 201, upload.text()
    dataset_id = upload.json()["id"]
    board = api(page, "POST", "/api/v1/dashboards", data={"name": "Sales map", "widgets": [
        {"id": "map", "layout": {"x": 0, "y": 0, "w": 12, "h": 8},
         "spec": {"type": "map", "dataset_id": dataset_id, "x": "country", "y": "sales", "agg": "sum",
                  "title": "Sales by country"}}]})
    page.goto(f"/dashboards/{board['id']}")
    # Six countries filled: plotly drew them from the shapes it loaded from our assets.
    expect(page.locator(f"{pattern_id('dash-widget-body', 'map')} .choroplethlocation")).to_have_count(6)
    page.screenshot(path=str(ARTIFACTS / "dashboard-map.png"))
    assert outside == [], f"requests to other hosts: {outside}"
