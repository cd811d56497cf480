"""Issue 16's SQL editor over datasets, as a person uses it: on the SQL page they write a
join of two datasets with completion of the names, run it with Ctrl+Enter, and read the
rows in the grid; a query that tries to read a file is refused with DuckDB's reason; the
history brings an earlier query back. CodeMirror is loaded by this page only."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server
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
