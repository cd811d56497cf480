"""Issue 16's SQL editor over datasets, as a person uses it: on the SQL page they write a
join of two datasets with completion of the names, run it with Ctrl+Enter, and read the
rows in the grid; a query that tries to read a file is refused with DuckDB's reason; the
history brings an earlier query back. CodeMirror is loaded by this page only.

Then issue 16's "Done when" with a live query: a join with an optional
``[[AND c.region IN ({{region}})]]`` clause, saved as a live dataset, charted as a bar of
total by name on a new dashboard with the widget editor, and a dashboard filter added on
its {{region}} parameter with the filter form: picking South, clearing, picking North
redraws the chart with those customers only (read from the plotly graph's data)."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server
from tests.e2e.dash_controls import DRAWN_BARS, pick
from tests.e2e.test_dashboard_flow import pattern_id
from tests.e2e.test_main_flow import ensure_account, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server():
    """A server of this module's own: the session's is kept fresh for the first-run test."""
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url

EMAIL, PASSWORD, NAME = "quinn@example.com", "quinn's long password", "Quinn Query"
ORDERS = b"order_id,customer_id,amount\n1,10,5.5\n2,10,4.5\n3,20,100\n"
CUSTOMERS = b"customer_id,name\n10,Ada\n20,Bob\n"


def test_a_join_with_completion_run_with_ctrl_enter(new_page, live_server):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, EMAIL, PASSWORD)
    for name, content in (("Orders", ORDERS), ("customers", CUSTOMERS)):
        made = page.request.post("/api/v1/datasets", multipart={
            "name": name, "file": {"name": f"{name}.csv", "mimeType": "text/csv", "buffer": content}})
        assert made.status == 201, made.text()
    page.goto("/datasets")
    assert page.locator("script[src*='vendor-codemirror']").count() == 0  # not on other pages

    page.locator("#nav-link-sql").click()
    expect(page).to_have_url(f"{live_server.url}/sql")
    editor = page.locator("#sql-text + .CodeMirror")
    expect(editor).to_be_visible()
    expect(page.locator("#sql-table-list")).to_contain_text("Orders")
    # Completion: typing the start of a table name offers it.
    page.evaluate("window.dataInsightSql.editor.setValue('')")
    editor.click()
    page.keyboard.type("SELECT c.name, sum(o.amount) AS total FROM Ord")
    expect(page.locator(".CodeMirror-hints")).to_contain_text("Orders")
    page.keyboard.press("Escape")
    page.keyboard.type('ers o JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 2 DESC')
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sql-count")).to_contain_text("2 rows in")
    expect(page.locator("#sql-grid .ag-row").first).to_contain_text("Bob")
    expect(page.locator("#sql-grid .ag-header")).to_contain_text("total")
    page.screenshot(path=str(ARTIFACTS / "sql-editor.png"), full_page=True)
    # The result as a dataset, to chart on a dashboard.
    page.locator("#sql-save-name").fill("Totals by customer")
    page.locator("#sql-save").click()
    expect(page.locator("#sql-save-feedback")).to_contain_text("Saved 2 rows as Totals by customer")
    saved = page.request.get("/api/v1/datasets").json()["datasets"]
    assert any(d["name"] == "Totals by customer" and d["rows"] == 2 for d in saved)

    page.evaluate("window.dataInsightSql.editor.setValue(\"SELECT * FROM read_csv('/etc/passwd')\")")
    page.locator("#sql-run").click()
    expect(page.locator("#sql-feedback")).to_contain_text("disabled")
    # The history: the join is there, and a click brings it back into the editor.
    item = page.locator("#sql-history-list .list-group-item", has_text="JOIN customers")
    item.click()
    expect(editor).to_contain_text("JOIN customers")
    # Kept by name and shared: listed under Saved queries, and a click opens it again.
    page.locator("#sql-query-name").fill("Totals by customer")
    page.locator("#sql-query-shared").check()
    page.locator("#sql-query-save").click()
    expect(page.locator("#sql-query-feedback")).to_contain_text("everyone in the workspace sees it")
    saved_item = page.locator("#sql-saved-list .list-group-item", has_text="Totals by customer")
    expect(saved_item).to_contain_text("Shared")
    page.evaluate("window.dataInsightSql.editor.setValue('SELECT 1')")
    saved_item.click()
    expect(editor).to_contain_text("JOIN customers")
    page.screenshot(path=str(ARTIFACTS / "sql-editor-saved.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "sql-editor-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


# --- a live query with a parameter, charted on a dashboard and filtered there ------------------

LIVE_EMAIL, LIVE_PASSWORD, LIVE_NAME = "lina@example.com", "lina's long password", "Lina Live"
REGION_ORDERS = b"order_id,customer_id,amount\n1,10,5.5\n2,10,4.5\n3,20,100\n4,30,1\n5,40,7\n"
REGION_CUSTOMERS = b"customer_id,name,region\n10,Ada,North\n20,Bob,South\n30,Cy,North\n40,Dee,South\n"
LIVE_SQL = ('SELECT c.name, c.region, sum(o.amount) AS total FROM "Orders" o JOIN customers c USING (customer_id)\n'
            "WHERE 1=1 [[AND c.region IN ({{region}})]] GROUP BY ALL ORDER BY c.name")
ALL_TOTALS = {"Ada": 10.0, "Bob": 100.0, "Cy": 1.0, "Dee": 7.0}
SOUTH_TOTALS = {"Bob": 100.0, "Dee": 7.0}
NORTH_TOTALS = {"Ada": 10.0, "Cy": 1.0}


def drawn_bars(page: Page, widget_id: str) -> dict:
    graph = page.locator(f"{pattern_id('dash-widget-body', widget_id)} .js-plotly-plot")
    expect(graph).to_have_count(1)
    return graph.evaluate(DRAWN_BARS)


def expect_bars(page: Page, widget_id: str, expected: dict) -> None:
    """Wait until the widget's chart shows exactly these bars (the filter's callback and
    the redraw take a moment); fail with what it shows otherwise."""
    deadline = time.monotonic() + EXPECT_TIMEOUT_MS / 1000
    seen = None
    while time.monotonic() < deadline:
        expect(page.locator("._dash-loading-callback")).to_have_count(0)
        try:
            seen = drawn_bars(page, widget_id)
        except Exception as exc:  # redrawn under us: read it again
            seen = f"(not readable: {exc})"
        if seen == expected:
            return
        page.wait_for_timeout(200)  # polling interval while the widget redraws
    pytest.fail(f"the chart shows {seen}, expected {expected}")


def test_a_live_join_charted_on_a_dashboard_with_a_parameter_filter(new_page, live_server):
    ensure_account(live_server, LIVE_EMAIL, LIVE_PASSWORD, LIVE_NAME)
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, LIVE_EMAIL, LIVE_PASSWORD)
    for name, content in (("Orders", REGION_ORDERS), ("customers", REGION_CUSTOMERS)):
        made = page.request.post("/api/v1/datasets", multipart={
            "name": name, "file": {"name": f"{name}.csv", "mimeType": "text/csv", "buffer": content}})
        assert made.status == 201, made.text()

    # 1. The join on the SQL page: run, every customer (the optional clause is left out).
    page.goto("/sql")
    expect(page.locator("#sql-text + .CodeMirror")).to_be_visible()
    expect(page.locator("#sql-table-list")).to_contain_text("customers")
    page.evaluate("sql => window.dataInsightSql.editor.setValue(sql)", LIVE_SQL)
    page.locator("#sql-run").click()
    expect(page.locator("#sql-count")).to_contain_text("4 rows in")
    rows = page.locator("#sql-grid .ag-center-cols-container .ag-row")
    expect(rows).to_have_count(4)
    grid_rows = sorted(rows.evaluate_all(
        "rows => rows.map(r => Array.from(r.querySelectorAll('.ag-cell')).map(c => c.innerText.trim()))"))
    assert [r[:2] for r in grid_rows] == [["Ada", "North"], ["Bob", "South"], ["Cy", "North"], ["Dee", "South"]]
    assert [float(r[2]) for r in grid_rows] == [10.0, 100.0, 1.0, 7.0]

    # 2. Saved as a live dataset; its link opens the dataset page.
    page.locator("#sql-save-name").fill("Totals by region")
    page.locator("#sql-save-mode").select_option("live")
    page.locator("#sql-save").click()
    expect(page.locator("#sql-save-feedback")).to_contain_text("Saved the query as the live dataset Totals by region")
    page.screenshot(path=str(ARTIFACTS / "sql-live-saved.png"), full_page=True)
    page.locator("#sql-saved-dataset").click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))
    dataset_id = int(re.search(r"/datasets/(\d+)$", page.url).group(1))
    expect(page.locator("#page-body h1")).to_have_text("Totals by region")
    expect(page.locator("#page-body")).to_contain_text("run by each chart when it is drawn")
    expect(page.locator("#page-body")).to_contain_text("{{region}}")
    info = page.request.get(f"/api/v1/datasets/{dataset_id}/sync").json()
    assert info["source"] == "query" and info["mode"] == "live"
    assert info["parameters"] == [{"name": "region", "type": "text", "filter_kind": "multi_select"}]

    # 3. A blank dashboard, and a bar chart of total by name added with the widget editor.
    page.goto("/dashboards")
    page.locator("#dashboard-new-open").click()
    expect(page.locator("#dashboard-new-modal")).to_be_visible()
    page.locator("#dashboard-new-name").fill("Customers by region")
    page.locator("#dashboard-new-create").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+$"))
    board_id = int(re.search(r"/dashboards/(\d+)$", page.url).group(1))
    expect(page.locator("#page-body h1")).to_have_text("Customers by region")
    page.locator("#dash-edit-toggle").click()
    page.locator("#dash-widget-add").click()
    expect(page.locator("#editor-modal")).to_be_visible()
    in_editor = "#editor-title-text"
    pick(page, page.locator("#editor-dataset"), "Totals by region", in_editor)
    pick(page, page.locator("#editor-type"), "Bar chart", in_editor)
    page.locator("#editor-title").fill("Total by customer")
    pick(page, page.locator(pattern_id("editor-field", "x")), "name", in_editor)
    pick(page, page.locator(pattern_id("editor-field", "y")), "total", in_editor)
    expect(page.locator("#editor-preview .main-svg").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "sql-live-widget-editor.png"))
    page.locator("#editor-save").click()
    expect(page.locator("#editor-modal")).to_be_hidden()
    expect(page.locator(".widget-card")).to_have_count(1)
    board = page.request.get(f"/api/v1/dashboards/{board_id}").json()
    assert len(board["widgets"]) == 1
    widget = board["widgets"][0]
    spec = widget["spec"]
    assert (spec["type"], spec["dataset_id"], spec["x"], spec["y"], spec.get("agg")) == \
        ("bar", dataset_id, "name", "total", "sum")
    assert spec["title"] == "Total by customer"
    expect_bars(page, widget["id"], ALL_TOTALS)

    # 4. A dashboard filter on the query's {{region}} parameter, through the filter form.
    page.locator("#dash-filter-add").click()
    expect(page.locator("#filter-new-modal")).to_be_visible()
    page.locator("#filter-new-column").click()
    option = page.get_by_role("option", name=re.compile(r"region\s+·\s+query parameter \(text\)"))
    expect(option).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "sql-live-filter-form.png"))
    option.click()
    page.locator("#filter-new-label").fill("Region")
    page.locator("#filter-new-save").click()
    expect(page.locator("#filter-new-modal")).to_be_hidden()
    board = page.request.get(f"/api/v1/dashboards/{board_id}").json()
    assert [(f["column"], f["kind"], f.get("label")) for f in board["filters"]] == [
        ("region", "multi_select", "Region")]
    filter_id = board["filters"][0]["id"]
    region = page.locator(pattern_id("dash-filter-select", filter_id))
    expect(region).to_be_visible()
    expect(page.locator(".dashboard-filter")).to_contain_text("Region")
    # Leave edit mode: a person filters the dashboard as they look at it.
    page.locator("#dash-edit-toggle").click()
    expect(page.locator("#dash-widget-add")).to_have_count(0)
    expect_bars(page, widget["id"], ALL_TOTALS)

    pick(page, region, "South", "#page-body h1")
    expect_bars(page, widget["id"], SOUTH_TOTALS)
    assert "South" in page.evaluate("location.href")
    page.screenshot(path=str(ARTIFACTS / "sql-live-dashboard-south.png"), full_page=True)

    # The values offered are the regions of the customers dataset.
    region.click()
    # The list renders its options in more than one frame: wait for all of them.
    expect(page.locator(".dash-dropdown-content [role=option]")).to_have_count(2)
    offered = page.locator(".dash-dropdown-content [role=option]").evaluate_all(
        "options => options.map(o => [o.innerText.trim(), o.getAttribute('aria-selected')])")
    assert sorted(offered) == [["North", "false"], ["South", "true"]]
    page.locator("#page-body h1").click()
    expect(page.locator(".dash-dropdown-content")).to_have_count(0)

    # Cleared: every customer again; then the other value: North's customers only.
    region.locator(".dash-dropdown-clear").click()
    expect_bars(page, widget["id"], ALL_TOTALS)
    expect(region.locator(".dash-dropdown-value-item")).to_have_count(0)
    pick(page, region, "North", "#page-body h1")
    expect(region.locator(".dash-dropdown-value-item")).to_have_text(["North"])
    expect_bars(page, widget["id"], NORTH_TOTALS)
    address = page.evaluate("location.href")
    assert "North" in address and "South" not in address
    page.screenshot(path=str(ARTIFACTS / "sql-live-dashboard-north.png"), full_page=True)

    # The filtered address opened again shows the same bars (the view is in the URL).
    page.goto(address)
    expect_bars(page, widget["id"], NORTH_TOTALS)
    page.set_viewport_size({"width": 390, "height": 844})
    expect_bars(page, widget["id"], NORTH_TOTALS)
    # The grid lays the card out again for the narrow screen (a moment after the resize).
    page.wait_for_function("[...document.querySelectorAll('.react-grid-item')].every("
                           "item => item.offsetWidth <= item.parentElement.offsetWidth)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.reload()  # and as a phone opens it
    expect_bars(page, widget["id"], NORTH_TOTALS)
    expect(region.locator(".dash-dropdown-value-item")).to_have_text(["North"])
    page.screenshot(path=str(ARTIFACTS / "sql-live-dashboard-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
