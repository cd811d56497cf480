"""Phone and tablet widths in a real browser: at 390x844 and 768x1024 no page of the app is
wider than the screen (nothing scrolls sideways), a dashboard's widgets stack in one
full-width column in reading order, KPI values are not clipped, plotly's toolbar is hidden,
and the public page's table pages through its share link without cutting a row.

One server, one signed-in state, the vgsales fixture, its generated dashboard plus a
table and a wide KPI. Screenshots of the main pages at each width (and at desktop width)
go to tests/e2e/artifacts/responsive-*.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, same_origin_context
# A server of this module's own (module-scoped fixtures, as the dashboard flow has them).
from tests.e2e.test_dashboard_flow import base_url, live_server  # noqa: F401
from tests.e2e.test_dashboard_flow import wait_until_drawn as every_widget_drawn
from tests.e2e.test_main_flow import signed_in_state

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VGSALES_CSV = PROJECT_ROOT / "tests" / "fixtures" / "vgsales.csv"
EMAIL, PASSWORD, NAME = "ria@example.com", "ria's long password", "Ria Responsive"

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1366, "height": 900}
NARROW = [pytest.param(PHONE, id="phone"), pytest.param(TABLET, id="tablet")]


@pytest.fixture(scope="module")
def state(browser, base_url, live_server):
    return signed_in_state(browser, base_url, live_server, EMAIL, PASSWORD, NAME)


@pytest.fixture(scope="module")
def made(browser, base_url, state) -> dict:
    """The dataset, its generated dashboard (with a table and a long KPI added, at desktop
    places that put two widgets side by side), its public link and an upload waiting on
    the import screen."""
    context = same_origin_context(browser, base_url, storage_state=state)
    request = context.request
    try:
        response = request.post("/api/v1/datasets", multipart={
            "file": {"name": "vgsales.csv", "mimeType": "text/csv", "buffer": VGSALES_CSV.read_bytes()}})
        assert response.status == 201, response.text()
        dataset = response.json()
        response = request.post(f"/api/v1/datasets/{dataset['id']}/dashboard", data={})
        assert response.status == 201, response.text()
        board = response.json()
        bottom = max(w["layout"]["y"] + w["layout"]["h"] for w in board["widgets"])
        extra = [
            {"id": "wide-kpi", "layout": {"x": 0, "y": bottom, "w": 2, "h": 3},
             "spec": {"type": "kpi", "dataset_id": dataset["id"], "y": "Rank", "agg": "sum",
                      "title": "Sum of the rank column across every game in the table",
                      "description": "A long value in a narrow card: it must shrink to fit, never be cut."}},
            {"id": "games-table", "layout": {"x": 2, "y": bottom, "w": 10, "h": 6},
             "spec": {"type": "table", "dataset_id": dataset["id"], "columns": ["Name", "Platform", "Global_Sales"],
                      "page_size": 10, "title": "Games", "description": "Every game, ten to a page."}},
        ]
        response = request.patch(f"/api/v1/dashboards/{board['id']}", data={"widgets": board["widgets"] + extra})
        assert response.ok, response.text()
        board = response.json()
        response = request.post(f"/api/v1/dashboards/{board['id']}/share")
        assert response.status == 201, response.text()
        share = response.json()
        data = VGSALES_CSV.read_bytes()[:4000]
        response = request.post("/api/v1/uploads", data={"filename": "games.csv", "size": len(data)})
        assert response.ok, response.text()
        upload = response.json()
        response = request.put(f"/api/v1/uploads/{upload['id']}?offset=0", data=data,
                               headers={"Content-Type": "application/octet-stream"})
        assert response.ok, response.text()
    finally:
        context.close()
    return {"dataset": dataset["id"], "board": board, "public": share["url"], "upload": upload["id"]}


def _public_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def assert_fits(page: Page, where: str) -> None:
    """Nothing makes the page scroll sideways."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        culprits = page.evaluate("""() => {
            const w = window.innerWidth;
            return Array.from(document.querySelectorAll('body *'))
              .filter(e => e.getBoundingClientRect().right > w + 1)
              .slice(0, 5).map(e => {
                const chain = [];
                for (let a = e; a && chain.length < 6; a = a.parentElement) {
                  chain.push(a.tagName + (a.id ? '#' + a.id : '') + (a.className ? '.' + a.className : ''));
                }
                return chain.join(' < ') + ' right=' + Math.round(e.getBoundingClientRect().right);
              });
        }""")
        raise AssertionError(f"{where}: the page is {widths[0]} px wide on a {widths[1]} px screen; "
                             f"too wide: {culprits}")


def wait_for_page(page: Page) -> None:
    expect(page.locator("h1").first).to_be_visible()
    expect(page.locator("._dash-loading-callback")).to_have_count(0)


def wait_until_drawn(page: Page, count: int) -> None:
    every_widget_drawn(page, count)
    # Plotly first draws at the width it finds, then follows its card: wait until every
    # chart fits inside its card (a chart wider than its card is cut at the card's edge).
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.widget-card')).every(card => {
        const right = card.getBoundingClientRect().right + 1;
        return Array.from(card.querySelectorAll('.main-svg')).every(s => s.getBoundingClientRect().right <= right);
    })""")


def shot(page: Page, name: str, viewport: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"responsive-{name}-{viewport['width']}.png"), full_page=True)


SIGNED_IN_PAGES = [
    ("home", "/"),
    ("datasets", "/datasets"),
    ("dashboards", "/dashboards"),
    ("schedules", "/dashboards/{board}/schedules"),
    ("settings", "/settings"),
    ("workspaces", "/settings/workspaces"),
    ("import", "/datasets/import?uploads={upload}&mode=new"),
]
ANALYZE_TABS = ["statistics", "correlation", "regression", "clustering", "timeseries", "journeys", "segments"]
DATASET_TABS = ["Data", "Profile", "Columns", "Versions", "Settings"]


@pytest.mark.parametrize("viewport", NARROW)
def test_no_signed_in_page_is_wider_than_the_screen(new_page, state, made, viewport):
    page = new_page(storage_state=state, viewport=viewport)
    for name, path in SIGNED_IN_PAGES:
        page.goto(path.format(board=made["board"]["id"], upload=made["upload"]))
        wait_for_page(page)
        assert_fits(page, name)
        if name == "workspaces":  # the create form's callback ran on load and said "give it a name"
            expect(page.get_by_text("Give the workspace a name")).to_have_count(0)
        if name == "home":
            shot(page, "home", viewport)

    page.goto(f"/datasets/{made['dataset']}")
    wait_for_page(page)
    export = page.locator("#export-menu")
    expect(export).to_be_visible()
    box = export.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], f"Export is off-screen: {box}"
    shot(page, "dataset", viewport)
    for label in DATASET_TABS:
        tab = page.locator("#dataset-tabs .nav-link", has_text=re.compile(rf"^{label}"))
        if tab.count() == 0:  # Settings is for editors only; Ria owns hers, but keep it honest
            continue
        tab.click()
        expect(tab).to_have_class(re.compile("active"))
        # (The profile tab polls its job while it runs, so Dash may stay "loading" for a while.)
        expect(page.locator("#dataset-tabs + .tab-content > .tab-pane.active, .tab-content .tab-pane.active")
               .first).to_be_visible()
        assert_fits(page, f"dataset tab {label}")

    for tab in ANALYZE_TABS:
        page.goto(f"/analyze?dataset={made['dataset']}&tab={tab}")
        wait_for_page(page)
        assert_fits(page, f"analyze tab {tab}")

    # The navbar folds into its toggler, and its menu fits when open.
    page.goto("/datasets")
    wait_for_page(page)
    page.locator("#nav-toggler").click()
    expect(page.locator("#nav-link-dashboards")).to_be_visible()
    assert_fits(page, "navbar menu open")


def test_admin_and_signed_out_pages_fit(new_page, live_server, base_url, made):
    from tests.e2e.test_main_flow import ensure_account, sign_in

    ensure_account(live_server, "root@example.com", "root's long password", "Root Admin", admin=True)
    for viewport in (PHONE, TABLET):
        visitor = new_page(viewport=viewport)
        for path in ("/login", "/setup"):
            visitor.goto(path)
            wait_for_page(visitor)
            assert_fits(visitor, path)
        visitor.set_viewport_size(DESKTOP)  # sign_in looks for the user menu, folded away on a phone
        sign_in(visitor, "root@example.com", "root's long password")
        visitor.set_viewport_size(viewport)
        visitor.goto("/admin/users")
        wait_for_page(visitor)
        assert_fits(visitor, "admin users")


def widget_boxes(page: Page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('.widget-card')).map(card => {
        const r = card.getBoundingClientRect();
        return {id: card.id, x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height};
    })""")


def reading_order(widgets: list[dict]) -> list[str]:
    return [str(w["id"]) for w in sorted(widgets, key=lambda w: (w["layout"]["y"], w["layout"]["x"]))]


def assert_stacked(page: Page, board: dict, viewport: dict, where: str) -> None:
    boxes = widget_boxes(page)
    assert len(boxes) == len(board["widgets"])
    for box in boxes:
        assert box["width"] >= 0.9 * viewport["width"], f"{where}: widget {box['id']} is {box['width']:.0f} px wide"
        assert box["height"] > 100
    by_top = [b["id"] for b in sorted(boxes, key=lambda b: b["y"])]
    assert by_top == reading_order(board["widgets"]), f"{where}: not in reading order"
    for upper, lower in zip(sorted(boxes, key=lambda b: b["y"]), sorted(boxes, key=lambda b: b["y"])[1:]):
        assert upper["y"] + upper["height"] <= lower["y"] + 1, f"{where}: {upper['id']} overlaps {lower['id']}"


def assert_kpis_fit(page: Page, where: str) -> None:
    values = page.evaluate("""() => Array.from(document.querySelectorAll('.kpi-value')).map(e => ({
        text: e.innerText, scroll: e.scrollWidth, client: e.clientWidth,
        card: e.closest('.widget-card').getBoundingClientRect().right,
        right: Math.max(...Array.from(e.getClientRects()).map(r => r.right))}))""")
    assert values, f"{where}: no KPI drawn"
    for value in values:
        assert value["scroll"] <= value["client"], f"{where}: KPI {value['text']!r} is clipped {value}"
        assert value["right"] <= value["card"], f"{where}: KPI {value['text']!r} runs out of its card {value}"


@pytest.mark.parametrize("viewport", NARROW)
def test_dashboard_stacks_in_reading_order(new_page, state, made, viewport):
    board = made["board"]
    page = new_page(storage_state=state, viewport=viewport)
    page.goto(f"/dashboards/{board['id']}")
    wait_until_drawn(page, len(board["widgets"]))
    assert_fits(page, "dashboard")
    assert_stacked(page, board, viewport, "dashboard")
    assert_kpis_fit(page, "dashboard")
    # Titles wrap rather than end in an ellipsis after a few letters; the description shows.
    title = page.locator(f"[id='wide-kpi'] .widget-title")
    assert title.evaluate("e => e.scrollHeight <= e.clientHeight + 1"), "the KPI's title is cut"
    expect(page.locator("[id='games-table'] .widget-description")).to_have_text("Every game, ten to a page.")
    # Plotly's toolbar does not cover the charts on a small screen.
    page.locator(".widget-card .js-plotly-plot").first.hover()
    assert page.locator(".modebar-container").evaluate_all(
        "els => els.every(e => getComputedStyle(e).display === 'none')")
    shot(page, "dashboard", viewport)

    page.locator("#dash-edit-toggle").click()
    expect(page.locator("#dash-widget-add")).to_be_visible()
    wait_until_drawn(page, len(board["widgets"]))
    assert_fits(page, "dashboard edit mode")


def test_dashboard_keeps_its_grid_on_a_desktop(new_page, state, made):
    board = made["board"]
    page = new_page(storage_state=state, viewport=DESKTOP)
    page.goto(f"/dashboards/{board['id']}")
    wait_until_drawn(page, len(board["widgets"]))
    boxes = {b["id"]: b for b in widget_boxes(page)}
    assert boxes["wide-kpi"]["width"] < 0.3 * DESKTOP["width"]  # still two columns side by side
    assert abs(boxes["wide-kpi"]["y"] - boxes["games-table"]["y"]) < 2
    assert_kpis_fit(page, "desktop dashboard")
    shot(page, "dashboard", DESKTOP)
    for name, path in (("home", "/"), ("dataset", f"/datasets/{made['dataset']}")):
        page.goto(path)
        wait_for_page(page)
        shot(page, name, DESKTOP)


def assert_rows_whole(page: Page, where: str) -> None:
    """The table's whole page is in view: its last row ends inside the card (no inner
    scrolling on the public page, whose cards are sized to a page of rows)."""
    cut = page.evaluate("""() => {
        const wrap = document.querySelector('.widget-table-wrap');
        const bottom = wrap.getBoundingClientRect().top + wrap.clientHeight;
        const rows = Array.from(wrap.querySelectorAll('tbody tr'));
        const last = rows[rows.length - 1].getBoundingClientRect();
        return {last: last.bottom, bottom: bottom, rows: rows.length};
    }""")
    assert cut["rows"] == 10 and cut["last"] <= cut["bottom"] + 1, f"{where}: the last row is cut {cut}"


@pytest.mark.parametrize("viewport", [pytest.param(DESKTOP, id="desktop"), *NARROW])
def test_public_dashboard_fits_and_its_table_pages(new_page, made, viewport):
    board = made["board"]
    visitor = new_page(viewport=viewport)  # not signed in
    visitor.goto(_public_path(made["public"]))
    wait_until_drawn(visitor, len(board["widgets"]))
    assert_fits(visitor, "public dashboard")
    if viewport is not DESKTOP:
        assert_stacked(visitor, board, viewport, "public dashboard")
    assert_kpis_fit(visitor, "public dashboard")
    table = visitor.locator("[id='games-table']")
    expect(table).to_contain_text("1–10 of 16,598 rows")
    assert_rows_whole(visitor, "public table")
    shot(visitor, "public", viewport)
    table.get_by_role("button", name="Next ›").click()
    expect(table).to_contain_text("11–20 of 16,598 rows")
    table.get_by_role("button", name=re.compile("^Global_Sales")).click()
    expect(table).to_contain_text("1–10 of 16,598 rows")
    expect(table.get_by_role("button", name=re.compile("^Global_Sales ▲"))).to_be_visible()
    assert_rows_whole(visitor, "public table, sorted")


def test_a_newcomer_drops_a_file_on_the_home_page_on_a_phone(new_page, live_server):
    """The home page's upload zone is the real one: a file picked there on a phone is
    uploaded and the import screen opens."""
    from tests.e2e.test_main_flow import ensure_account, sign_in

    ensure_account(live_server, "nia@example.com", "nia's long password", "Nia Newcomer")
    page = new_page(viewport=DESKTOP)
    sign_in(page, "nia@example.com", "nia's long password")
    page.set_viewport_size(PHONE)
    page.goto("/")
    wait_for_page(page)
    expect(page.locator("#home-no-datasets")).to_contain_text("No datasets yet")
    expect(page.locator("#home-no-dashboards")).to_contain_text("No dashboards yet")
    assert_fits(page, "newcomer's home")
    shot(page, "home-newcomer", PHONE)
    with page.expect_file_chooser() as chooser:
        page.click("#home-upload-zone")
    chooser.value.set_files(str(PROJECT_ROOT / "tests" / "fixtures" / "music.csv"))
    page.wait_for_url(re.compile(r"/datasets/import\?uploads="))
    wait_for_page(page)
    assert_fits(page, "import screen after a drop on home")
