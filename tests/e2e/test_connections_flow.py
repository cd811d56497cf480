"""Issue 16's connections, as a workspace owner uses them: on the Connections page they add
a PostgreSQL database (tested as it is saved), test it, look at its tables, and copy a
table into a dataset that refreshes every hour; the link leads to the dataset, whose
Source card says where it comes from, and Refresh now brings the rows added since. Both
pages fit a laptop and a phone without sideways scrolling.

Then issue 16's "Done when" with a live table: on the dashboard proposed for a live
dataset the person adds a filter on customer with the filter form, picks Ada, and the
KPIs and a bar chart show what PostgreSQL sums for Ada's orders; an order of Ada's added
in PostgreSQL is there once the chart's cached result is stale, when the filtered address
(the filter is kept in it) is opened again, on a laptop and on a phone.

Needs a PostgreSQL server (tests/connections/conftest.py ``pg_db``): run with
scripts/with-postgres.sh, or it is skipped."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.connections.conftest import pg_db  # noqa: F401  (the fixture)
from tests.e2e.conftest import EXPECT_TIMEOUT_MS, run_live_server_with
from tests.e2e.dash_controls import DRAWN_BARS, pick
from tests.e2e.test_main_flow import ensure_account, sign_in

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots")
EMAIL, PASSWORD, NAME = "conny@example.com", "conny's long password", "Conny Owner"
WIDTHS = {"desktop": (1280, 900), "small-laptop": (1000, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def live_server():
    """A server of this module's own: its accounts stay out of the session's server."""
    with run_live_server_with({"DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK": "true"}) as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


def pattern(type_name: str, index) -> str:
    """A CSS selector for a Dash pattern-matching id."""
    return "[id='" + json.dumps({"index": index, "type": type_name}, separators=(",", ":")) + "']"


def fits(page: Page, name: str) -> None:
    """Screenshots at laptops' and a phone's widths, with nothing scrolling sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)  # let the layout settle after the resize
        # Plotly redraws a graph for its new width a moment later: until then a chart can
        # stick out of its card in the screenshot (though the next frame is right).
        page.wait_for_function("[...document.querySelectorAll('.js-plotly-plot .main-svg')].every(svg => "
                               "svg.getBoundingClientRect().width <= svg.closest('.js-plotly-plot')"
                               ".parentElement.getBoundingClientRect().width + 1)")
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_add_test_copy_and_refresh(new_page, live_server, pg_db):  # noqa: F811
    pg_db.run("CREATE TABLE public.orders (id integer PRIMARY KEY, customer text, amount numeric(10,2), "
              "placed timestamptz)",
              "INSERT INTO public.orders VALUES (1, 'Ada', 5.5, '2026-01-01 10:00+00'), "
              "(2, 'Bob', 4.5, '2026-01-02 10:00+00'), (3, 'Cy', 12, '2026-01-03 10:00+00')")
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, EMAIL, PASSWORD)

    page.locator("#nav-link-connections").click()
    expect(page).to_have_url(f"{live_server.url}/connections")
    expect(page.locator("#conn-none")).to_contain_text("No connections yet")
    # A wrong password is refused with the database's reason, and nothing is saved.
    page.fill("#conn-name", "Shop")
    page.fill("#conn-host", pg_db.host)
    page.fill("#conn-port", str(pg_db.port))
    page.fill("#conn-database", pg_db.database)
    page.fill("#conn-user", pg_db.user)
    page.fill("#conn-password", "not the password")
    page.click("#conn-save")
    expect(page.locator("#conn-form-feedback")).to_contain_text("The connection was not saved")
    expect(page.locator("#conn-form-feedback")).to_contain_text("password")
    expect(page.locator("#conn-none")).to_be_visible()
    page.fill("#conn-password", pg_db.password)
    page.click("#conn-save")
    expect(page.locator("#conn-form-feedback")).to_contain_text("Connected and saved: Shop")
    expect(page.locator("#conn-password")).to_have_value("")
    card = page.locator(".connection-card", has_text="Shop")
    expect(card).to_contain_text(f"{pg_db.host}:{pg_db.port}/{pg_db.database}")
    connection_id = int(card.get_attribute("id").removeprefix("connection-"))

    page.click(pattern("conn-test", connection_id))
    expect(page.locator(pattern("conn-test-result", connection_id))).to_contain_text("Connected")
    expect(page.locator(pattern("conn-test-result", connection_id))).to_contain_text("PostgreSQL 15")
    page.click(pattern("conn-tables-open", connection_id))
    tables = page.locator(pattern("conn-tables", connection_id))
    expect(tables).to_contain_text("public.orders")
    tables.locator("summary", has_text="public.orders").click()
    expect(tables).to_contain_text("timestamp with time zone")

    page.click(pattern("conn-copy-open", connection_id))
    dropdown = page.locator(pattern("conn-copy-table", connection_id))
    expect(dropdown).to_be_visible()
    dropdown.click()
    page.locator(".dash-dropdown-search").fill("orders")
    page.get_by_role("option", name=re.compile("public.orders")).first.click()
    name = page.locator(pattern("conn-copy-name", connection_id))
    expect(name).to_have_value("orders")  # suggested from the table
    name.fill("Orders from the shop")
    page.locator(pattern("conn-copy-refresh-kind", connection_id)).select_option("hours")
    expect(page.locator(pattern("conn-copy-refresh-every", connection_id))).to_be_visible()
    expect(page.locator(pattern("conn-copy-refresh-at", connection_id))).to_be_hidden()
    page.locator(pattern("conn-copy-refresh-every", connection_id)).fill("1")
    fits(page, "connections")
    page.click(pattern("conn-copy-run", connection_id))
    result = page.locator(pattern("conn-copy-result", connection_id))
    expect(result).to_contain_text("Copied 3 rows into Orders from the shop")
    fits(page, "connections-copied")

    pg_db.run("INSERT INTO public.orders VALUES (4, 'Di', 1, '2026-01-04 10:00+00')")
    result.locator("a.conn-dataset-link").click()
    expect(page).to_have_url(re.compile(r"/datasets/\d+$"))
    source = page.locator("#dataset-source")
    expect(source).to_contain_text("Shop (PostgreSQL)")
    expect(source).to_contain_text("public.orders")
    expect(page.locator("#sync-refresh-text")).to_have_text("Every hour")
    expect(page.locator("#sync-last-status")).to_have_text("Succeeded")
    expect(page.locator("#dataset-rows")).to_have_text("3")

    page.click("#sync-refresh-now")
    expect(page.locator("#sync-result")).to_contain_text("Refreshed: 4 rows copied into a new version.")
    expect(page.locator("#sync-last-status")).to_have_text("Succeeded")
    expect(source).to_contain_text("4 rows copied")
    expect(page.locator("#dataset-rows")).to_have_text("4")
    expect(page.locator("#dataset-version")).to_have_text("2")
    expect(page.locator("#dataset-grid-count")).to_have_text("4 rows")  # the grid reads the new version
    expect(page.locator("#dataset-grid .ag-row", has_text="Di")).to_be_visible()

    # The refresh setting: daily at a time in a time zone.
    page.click("#sync-edit-open")
    page.locator("#sync-refresh-kind").select_option("daily")
    expect(page.locator("#sync-refresh-at")).to_be_visible()
    page.fill("#sync-refresh-at", "07:30")
    page.fill("#sync-refresh-zone", "Europe/Paris")
    fits(page, "dataset-source")
    page.click("#sync-save")
    expect(page.locator("#sync-refresh-text")).to_have_text("Daily at 07:30 Europe/Paris")

    # A live dataset of the same table: its charts run on PostgreSQL.
    page.goto(f"{live_server.url}/connections")
    page.click(pattern("conn-copy-open", connection_id))
    page.locator(pattern("conn-copy-what", connection_id)).get_by_label("Live: charts query the table").check()
    expect(page.locator(pattern("conn-copy-live-note", connection_id))).to_be_visible()
    expect(page.locator(pattern("conn-copy-refresh-wrap", connection_id))).to_be_hidden()
    dropdown = page.locator(pattern("conn-copy-table", connection_id))
    dropdown.click()
    page.locator(".dash-dropdown-search").fill("orders")
    page.get_by_role("option", name=re.compile("public.orders")).first.click()
    page.locator(pattern("conn-copy-name", connection_id)).fill("Orders live")
    page.click(pattern("conn-copy-run", connection_id))
    result = page.locator(pattern("conn-copy-result", connection_id))
    expect(result).to_contain_text("Orders live")
    result.locator("a.conn-dataset-link").click()
    expect(page).to_have_url(re.compile(r"/datasets/\d+$"))
    live_id = int(re.search(r"/datasets/(\d+)$", page.url).group(1))
    expect(page.locator("#dataset-source")).to_contain_text("Charts query the database itself")
    pg_db.run("INSERT INTO public.orders VALUES (5, 'Ed', 100, '2026-01-05 10:00+00')")
    answer = page.request.post("/api/v1/query", data={"dataset_id": live_id, "spec": {
        "type": "kpi", "y": "amount", "agg": "sum"}})
    assert answer.status == 200, answer.text()
    assert answer.json()["rows"][0][2] == 123.0  # 5.5 + 4.5 + 12 + 1 + 100, summed by PostgreSQL now
    page.locator("#dataset-create-dashboard").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+"), timeout=60_000)
    expect(page.locator(".widget-card").first).to_be_visible()
    expect(page.locator(".widget-card .main-svg, .widget-card .kpi-value").first).to_be_visible(timeout=30_000)
    fits(page, "live-dashboard")


# --- a dashboard filter on a live table, run by PostgreSQL ---------------------------------------



def shown(page: Page, kpis: dict, bars_widget: str) -> dict:
    """What the dashboard shows now: each KPI's text and the bars of one chart."""
    seen = {}
    for name, widget_id in kpis.items():
        seen[name] = page.locator(f"{pattern('dash-widget-body', widget_id)} .kpi-value").inner_text().strip()
    graph = page.locator(f"{pattern('dash-widget-body', bars_widget)} .js-plotly-plot")
    seen["bars"] = graph.evaluate(DRAWN_BARS) if graph.count() == 1 else None
    return seen


def expect_shown(page: Page, kpis: dict, bars_widget: str, expected: dict) -> None:
    """Wait until the KPIs and the chart show ``expected`` (the filter's callback and the
    redraw take a moment); fail with what they show otherwise."""
    deadline = time.monotonic() + EXPECT_TIMEOUT_MS / 1000
    seen = None
    while time.monotonic() < deadline:
        expect(page.locator("._dash-loading-callback")).to_have_count(0)
        try:
            seen = shown(page, kpis, bars_widget)
        except Exception as exc:  # redrawn under us: read it again
            seen = f"(not readable: {exc})"
        if seen == expected:
            return
        page.wait_for_timeout(200)  # polling interval while the widgets redraw
    pytest.fail(f"the dashboard shows {seen}, expected {expected}")


def number(value) -> str:
    """A KPI's text for a sum or a count (the app's format: separators, two decimals at most)."""
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0")


def test_a_live_dashboard_filtered_in_postgresql(new_page, live_server, pg_db):  # noqa: F811
    pg_db.run("CREATE TABLE public.orders (id integer PRIMARY KEY, customer text, region text, "
              "amount numeric(10,2), placed timestamptz)",
              "INSERT INTO public.orders VALUES (1, 'Ada', 'North', 5.5, '2026-01-01 10:00+00'), "
              "(2, 'Bob', 'South', 4.5, '2026-01-02 10:00+00'), (3, 'Ada', 'North', 12, '2026-01-03 10:00+00'), "
              "(4, 'Cy', 'South', 7, '2026-01-04 10:00+00'), (5, 'Bob', 'North', 20, '2026-01-05 10:00+00'), "
              "(6, 'Di', 'South', 1, '2026-01-06 10:00+00')")

    def in_postgresql(where: str = "") -> dict:
        """What PostgreSQL says the dashboard should show: the rows, their total amount and
        the total by region."""
        [(count, total)] = pg_db.rows(f"SELECT count(*), sum(amount) FROM public.orders {where}")
        regions = pg_db.rows(f"SELECT region, sum(amount) FROM public.orders {where} GROUP BY region")
        return {"rows": number(count), "total": number(total),
                "bars": {region: float(amount) for region, amount in regions}}

    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    page: Page = new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sign_in(page, EMAIL, PASSWORD)
    workspace_id = int(page.locator("#nav-workspace").input_value())
    made = page.request.post("/api/v1/connections", data=pg_db.payload(workspace_id, name="Shop for filters"))
    assert made.status == 201, made.text()
    connection_id = made.json()["id"]
    # A live dataset whose charts' results are reused for a second only (the copy form's
    # live datasets keep them 300 seconds, and it has no field for this).
    started = page.request.post(f"/api/v1/connections/{connection_id}/datasets", data={
        "name": "Orders live by region", "table": "public.orders", "mode": "live", "cache_seconds": 1})
    assert started.status == 202, started.text()
    deadline = time.monotonic() + 60
    while (job := page.request.get(started.json()["status_url"]).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"the live dataset is not made: {job}"
        page.wait_for_timeout(100)  # polling interval of the background job
    assert job["status"] == "done", job
    dataset_id = job["result"]["dataset"]["id"]

    # The dataset page says it is live, and its Create dashboard proposes one.
    page.goto(f"/datasets/{dataset_id}")
    expect(page.locator("#dataset-source")).to_contain_text("Charts query the database itself")
    expect(page.locator("#dataset-source")).to_contain_text("reused for 1 second.")
    page.locator("#dataset-create-dashboard").click()
    page.wait_for_url(re.compile(r"/dashboards/\d+$"), timeout=60_000)
    board_id = int(re.search(r"/dashboards/(\d+)$", page.url).group(1))
    board = page.request.get(f"/api/v1/dashboards/{board_id}").json()
    assert all(w["spec"].get("dataset_id") == dataset_id for w in board["widgets"] if w["spec"].get("dataset_id"))
    widgets = {(w["spec"]["type"], w["spec"].get("x"), w["spec"].get("y"), w["spec"].get("agg")): w["id"]
               for w in board["widgets"]}
    kpis = {"rows": widgets[("kpi", None, None, "count")], "total": widgets[("kpi", None, "amount", "sum")]}
    by_region = widgets[("bar", "region", "amount", "sum")]
    assert "customer" not in [f["column"] for f in board["filters"]]  # the proposal filters by region
    everything = in_postgresql()
    assert everything == {"rows": "6", "total": "50", "bars": {"North": 37.5, "South": 12.5}}
    expect_shown(page, kpis, by_region, everything)

    # 1. A filter on customer, added with the filter form in edit mode.
    page.locator("#dash-edit-toggle").click()
    page.locator("#dash-filter-add").click()
    expect(page.locator("#filter-new-modal")).to_be_visible()
    page.locator("#filter-new-column").click()
    # The list renders its options in more than one frame: wait for all of them.
    expect(page.locator(".dash-dropdown-content [role=option]")).to_have_count(5)
    offered = page.locator(".dash-dropdown-content [role=option]").evaluate_all(
        "options => options.map(o => o.innerText.trim())")
    assert offered == ["id · integer", "customer · text", "region · text", "amount · float",
                       "placed · timestamp"]  # the live table's columns, with their types
    option = page.get_by_role("option", name=re.compile(r"^customer\s+·"))
    expect(option).to_have_count(1)
    option.click()
    expect(page.locator(".dash-dropdown-search")).to_have_count(0)
    page.locator("#filter-new-label").fill("Customer")
    page.screenshot(path=str(SHOTS / "live-filter-form.png"))
    page.locator("#filter-new-save").click()
    expect(page.locator("#filter-new-modal")).to_be_hidden()
    board = page.request.get(f"/api/v1/dashboards/{board_id}").json()
    added = [f for f in board["filters"] if f["column"] == "customer"]
    assert [(f["kind"], f.get("label")) for f in added] == [("multi_select", "Customer")]
    customer = page.locator(pattern("dash-filter-select", added[0]["id"]))
    expect(customer).to_be_visible()
    page.locator("#dash-edit-toggle").click()  # leave edit mode: a person filters as they look
    expect(page.locator("#dash-filter-add")).to_have_count(0)
    # The customers offered are those in PostgreSQL.
    customer.click()
    customers = pg_db.rows("SELECT DISTINCT customer FROM public.orders")
    expect(page.locator(".dash-dropdown-content [role=option]")).to_have_count(len(customers))
    offered = page.locator(".dash-dropdown-content [role=option]").evaluate_all(
        "options => options.map(o => o.innerText.trim())")
    assert sorted(offered) == sorted(name for (name,) in customers)
    page.locator("#page-body h1").click()
    expect(page.locator(".dash-dropdown-content")).to_have_count(0)

    # 2. Ada's orders only: the numbers PostgreSQL gives for them.
    pick(page, customer, "Ada", "#page-body h1")
    expect(customer.locator(".dash-dropdown-value-item")).to_have_text(["Ada"])
    ada = in_postgresql("WHERE customer = 'Ada'")
    assert ada == {"rows": "2", "total": "17.5", "bars": {"North": 17.5}}
    expect_shown(page, kpis, by_region, ada)
    address = page.evaluate("location.href")
    assert "Ada" in address

    # 3. Live: an order of Ada's added in PostgreSQL is on the dashboard once the cached
    # result (a second) is stale, when the filtered address is opened again.
    pg_db.run("INSERT INTO public.orders VALUES (7, 'Ada', 'South', 30, '2026-01-07 10:00+00')")
    page.wait_for_timeout(1500)  # past the live dataset's cache_seconds (1)
    page.reload()
    assert page.evaluate("location.href") == address
    expect(customer.locator(".dash-dropdown-value-item")).to_have_text(["Ada"])
    ada_now = in_postgresql("WHERE customer = 'Ada'")
    assert ada_now == {"rows": "3", "total": "47.5", "bars": {"North": 17.5, "South": 30.0}}
    expect_shown(page, kpis, by_region, ada_now)

    # 4. At a laptop's and a phone's widths, nothing scrolls sideways.
    fits(page, "live-dashboard-filtered")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()  # as a phone opens it
    expect(customer.locator(".dash-dropdown-value-item")).to_have_text(["Ada"])
    expect_shown(page, kpis, by_region, ada_now)
    page.screenshot(path=str(SHOTS / "live-dashboard-filtered-phone-opened.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
