"""Issue 16's connections, as a workspace owner uses them: on the Connections page they add
a PostgreSQL database (tested as it is saved), test it, look at its tables, and copy a
table into a dataset that refreshes every hour; the link leads to the dataset, whose
Source card says where it comes from, and Refresh now brings the rows added since. Both
pages fit a laptop and a phone without sideways scrolling.

Needs a PostgreSQL server (tests/connections/conftest.py ``pg_db``): run with
scripts/with-postgres.sh, or it is skipped."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.connections.conftest import pg_db  # noqa: F401  (the fixture)
from tests.e2e.conftest import EXPECT_TIMEOUT_MS, run_live_server_with
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
