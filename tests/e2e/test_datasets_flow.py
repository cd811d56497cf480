"""Datasets in a real browser against a real server: upload, import, browse, export,
samples, settings, and what a second person cannot see.

This module runs its own server (``live_server`` and ``base_url`` are overridden below):
its accounts are made with the operator's command line, and the session server must stay
without accounts until test_main_flow's first-run setup has run.

The tests run in file order and share what they made through ``_made``: the upload test
imports the files through the UI, later tests open what it made. Run on its own
(``-k``), a test makes what it needs through the API instead (the ``*_dataset`` fixtures).

Screenshots of the import screen and the dataset page go to tests/e2e/artifacts/.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ARTIFACTS, EXPECT_TIMEOUT_MS, run_live_server, same_origin_context
from tests.e2e.test_main_flow import ensure_account, heading, sign_in

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"
_fixture_csv = PROJECT_ROOT / "tests" / "fixtures" / "vgsales.csv"
VGSALES_CSV = _fixture_csv if _fixture_csv.exists() else SAMPLES_DIR / "vgsales.csv"
VGSALES_ROWS = 16_598
VGSALES_COLUMNS_AFTER_IMPORT = ["Title", "Platform", "Year", "Genre", "Publisher", "NA_Sales", "EU_Sales", "JP_Sales",
                                "Other_Sales", "Global_Sales"]

OWNER_NAME = "Dana Data"
OWNER_EMAIL = "dana@example.com"
OWNER_PASSWORD = "dana's long password"
OWNER_WORKSPACE = "Dana Data's workspace"

OTHER_NAME = "Olli Outsider"
OTHER_EMAIL = "olli@example.com"
OTHER_PASSWORD = "olli's long password"
OTHER_WORKSPACE = "Olli Outsider's workspace"

WORKBOOK_NAME = "shop"  # the import screen proposes the file name as the dataset name
ORDERS_ROWS = 30
CUSTOMERS_ROWS = 12

# What this module's tests made, for the tests after them: "vgsales", "orders",
# "customers" -> dataset id.
_made: dict[str, int] = {}


# --- a server of our own ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server():
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    return live_server.url


# --- accounts and data ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def owner_state(browser, base_url, live_server):
    """The signed-in browser state of the owner: signed in through the login form once,
    then each test starts its own context from these cookies."""
    ensure_account(live_server, OWNER_EMAIL, OWNER_PASSWORD, OWNER_NAME)
    context = same_origin_context(browser, base_url)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        sign_in(context.new_page(), OWNER_EMAIL, OWNER_PASSWORD)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def owner_page(new_page, owner_state) -> Page:
    return new_page(storage_state=owner_state)


@pytest.fixture(scope="module")
def workbook_path(tmp_path_factory) -> Path:
    """An Excel file with two sheets: Orders (a real date column and numbers) and Customers."""
    workbook = Workbook()
    orders = workbook.active
    orders.title = "Orders"
    orders.append(["Order date", "Order ID", "Amount", "Quantity"])
    for i in range(ORDERS_ROWS):
        orders.append([dt.date(2024, 1, 1) + dt.timedelta(days=i), 1000 + i, round(10.5 * i + 3.25, 2), i % 7 + 1])
    customers = workbook.create_sheet("Customers")
    customers.append(["Customer", "City"])
    for i in range(CUSTOMERS_ROWS):
        customers.append([f"Customer {i}", ("Paris", "Oslo", "Rome")[i % 3]])
    path = tmp_path_factory.mktemp("upload") / f"{WORKBOOK_NAME}.xlsx"
    workbook.save(path)
    return path


def _json_or_fail(response, what: str) -> dict:
    if not response.ok:
        pytest.fail(f"{what}: {response.status} {response.text()}")
    return response.json()


def api_upload(request, path: Path) -> str:
    """Upload a file in one chunk through the uploads API (as the browser's uploader does)."""
    data = path.read_bytes()
    upload = _json_or_fail(request.post("/api/v1/uploads", data={"filename": path.name, "size": len(data)}),
                           "start upload")
    _json_or_fail(request.put(f"/api/v1/uploads/{upload['id']}?offset=0", data=data,
                              headers={"Content-Type": "application/octet-stream"}), "upload chunk")
    return upload["id"]


def api_import(request, path: Path, **options) -> dict:
    """Upload and import a file through the API and wait for the import job."""
    upload_id = api_upload(request, path)
    job = _json_or_fail(request.post(f"/api/v1/uploads/{upload_id}/import", data=options), "start import")
    deadline = time.monotonic() + EXPECT_TIMEOUT_MS / 1000
    while True:
        status = _json_or_fail(request.get(job["status_url"]), "job status")
        if status["status"] == "done":
            return status["result"]
        if status["status"] in ("failed", "cancelled") or time.monotonic() > deadline:
            pytest.fail(f"The import of {path.name} did not finish: {status}")
        time.sleep(0.2)  # polling interval of the job


@pytest.fixture
def vgsales_dataset(owner_page) -> int:
    """The id of the video game sales dataset as the upload test imports it (Name renamed
    to Title, Year as text, no Rank)."""
    if "vgsales" not in _made:
        columns = [{"source": "Rank", "include": False}, {"source": "Name", "name": "Title"},
                   {"source": "Year", "type": "text"}]
        _made["vgsales"] = api_import(owner_page.request, VGSALES_CSV, name="vgsales", columns=columns)["id"]
    return _made["vgsales"]


@pytest.fixture
def workbook_datasets(owner_page, workbook_path) -> dict[str, int]:
    for sheet in ("Orders", "Customers"):
        if sheet.lower() not in _made:
            result = api_import(owner_page.request, workbook_path, name=f"{WORKBOOK_NAME} – {sheet}", sheet=sheet)
            _made[sheet.lower()] = result["id"]
    return {"orders": _made["orders"], "customers": _made["customers"]}


# --- helpers ----------------------------------------------------------------------------------


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def by_type(scope: Locator, component_type: str) -> Locator:
    """A pattern-matching component, e.g. {"type": "import-columns", "index": <upload>}."""
    return scope.locator(f"""[id*='"type":"{component_type}"']""")


def editor_row(card: Locator, source_column: str) -> Locator:
    """The column editor's row for one column of the file."""
    editor = by_type(card, "import-columns")
    return editor.locator(".ag-center-cols-container .ag-row").filter(
        has=card.page.locator('[col-id="source"]').get_by_text(source_column, exact=True)
    )


def grid_cell(grid: Locator, row_index: int, column: str) -> Locator:
    return grid.locator(f'.ag-center-cols-container .ag-row[row-index="{row_index}"] [col-id="{column}"]')


def scroll_grid(grid: Locator, down: float = 0, right: float = 0) -> None:
    """Turn the mouse wheel over the grid's rows."""
    grid.locator(".ag-body-viewport").hover()
    grid.page.mouse.wheel(right, down)


def wait_until(page: Page, condition, what: str) -> None:
    """Poll a condition that only Playwright's event loop can make true (a route handler
    running, an event arriving)."""
    deadline = time.monotonic() + EXPECT_TIMEOUT_MS / 1000
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}")
        page.wait_for_timeout(25)  # hands control to Playwright, which delivers the events


def record_import_states(card: Locator) -> None:
    """Note every state an import card goes through (some last less than a second):
    the result text, whether the progress bar shows and its value, whether the button
    is locked. Read them back with ``import_states``."""
    card.evaluate("""card => {
        card.__states = [];
        const part = type => card.querySelector(`[id*='"type":"${type}"']`);
        const note = () => {
            const progress = part('import-progress');
            const bar = progress && progress.querySelector('.progress-bar');
            card.__states.push({
                result: (part('import-result') || {}).innerText || '',
                progress_shown: !!progress && getComputedStyle(progress).display !== 'none',
                progress_value: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
                button_disabled: !!(part('import-go') || {}).disabled,
            });
        };
        new MutationObserver(note).observe(card, {attributes: true, subtree: true, childList: true,
                                                  characterData: true});
    }""")


def import_states(card: Locator) -> list[dict]:
    return card.evaluate("card => card.__states")


def dataset_id_from(link: Locator) -> int:
    href = link.get_attribute("href")
    match = re.fullmatch(r"/datasets/(\d+)", href or "")
    assert match, f"not a dataset link: {href!r}"
    return int(match.group(1))


def vgsales_global_sales_desc() -> list[float]:
    with open(VGSALES_CSV, newline="", encoding="utf-8") as handle:
        return sorted((float(r["Global_Sales"]) for r in csv.DictReader(handle)), reverse=True)


# --- tests ------------------------------------------------------------------------------------


def test_upload_two_files_review_and_import_them(owner_page: Page, base_url, workbook_path):
    page = owner_page
    page.goto("/datasets")
    expect(heading(page)).to_have_text("Datasets")
    expect(page.locator("#page-body")).to_contain_text(f"No datasets in {OWNER_WORKSPACE} yet")

    # Hold the Excel file's chunk on its way to the server, to see the progress rows of
    # an upload in flight next to a finished one.
    workbook_size = workbook_path.stat().st_size
    held = []

    def hold_workbook_chunk(route):
        if route.request.method == "PUT" and len(route.request.post_data_buffer or b"") == workbook_size:
            held.append(route)
        else:
            route.continue_()

    def is_upload(url: str) -> bool:
        return "/api/v1/uploads/" in url

    page.route(is_upload, hold_workbook_chunk)
    with page.expect_file_chooser() as chooser:
        page.click("#dataset-upload-zone")
    assert chooser.value.is_multiple()
    chooser.value.set_files([str(VGSALES_CSV), str(workbook_path)])

    rows = page.locator("#dataset-upload-zone-progress .upload-row")
    expect(rows).to_have_count(2)
    csv_row = rows.filter(has_text=VGSALES_CSV.name)
    xlsx_row = rows.filter(has_text=workbook_path.name)
    expect(csv_row.locator(".upload-name")).to_have_text(re.compile(r"^vgsales\.csv \(1\.\d MB\)$"))
    expect(csv_row.locator(".upload-status")).to_have_text("Uploaded")
    expect(csv_row.locator(".progress-bar")).to_have_class(re.compile(r"\bbg-success\b"))
    expect(csv_row.locator(".progress-bar")).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(csv_row.locator(".upload-cancel")).to_have_count(0)
    wait_until(page, lambda: held, "the Excel file's chunk")
    expect(xlsx_row.locator(".progress-bar")).to_have_count(1)
    expect(xlsx_row.locator(".progress-bar")).not_to_have_class(re.compile(r"\bbg-success\b"))
    expect(xlsx_row.locator(".upload-cancel")).to_be_visible()
    assert page.url == base_url + "/datasets", "the import screen must wait for every file"
    screenshot(page, "datasets-upload-progress")

    held[0].continue_()
    page.wait_for_url(re.compile(r"/datasets/import\?uploads=[\w-]+%2C[\w-]+&mode=new$"))
    page.unroute(is_upload, hold_workbook_chunk)
    expect(heading(page)).to_have_text("Import files")

    # One card per file, each with its column editor and a preview of the first rows.
    cards = page.locator(".import-card")
    expect(cards).to_have_count(2)
    csv_card = cards.filter(has=page.locator("h2", has_text=VGSALES_CSV.name))
    xlsx_card = cards.filter(has=page.locator("h2", has_text=workbook_path.name))
    for card in (csv_card, xlsx_card):
        expect(by_type(card, "import-columns").locator(".ag-root-wrapper")).to_be_visible()
        expect(by_type(card, "import-preview").locator(".ag-root-wrapper")).to_be_visible()
        expect(card.get_by_role("button", name="Import as a new dataset")).to_be_enabled()

    editor = by_type(csv_card, "import-columns")
    expect(editor.locator(".ag-header-cell-text")).to_have_text(
        ["Keep", "Name", "Type", "Detected", "First values", "In the file"])
    expect(editor.locator('.ag-center-cols-container [col-id="source"]')).to_have_text(
        ["Rank", "Name", "Platform", "Year", "Genre", "Publisher", "NA_Sales", "EU_Sales", "JP_Sales", "Other_Sales",
         "Global_Sales"])
    year = editor_row(csv_card, "Year")
    expect(year.locator('[col-id="type"]')).to_have_text("integer")
    expect(year.locator('[col-id="detected"]')).to_have_text("integer")
    expect(year.locator('[col-id="sample"]')).to_have_text("2006, 1985, 2008")
    preview = by_type(csv_card, "import-preview")
    expect(grid_cell(preview, 0, "c1")).to_have_text("Wii Sports")
    expect(csv_card.locator("h3", has_text="First 20 rows")).to_be_visible()

    # Year: integer -> text, through AG Grid's select editor.
    year.locator('[col-id="type"]').click()
    picker = year.locator('[col-id="type"] .ag-picker-field-wrapper')
    expect(picker).to_have_attribute("aria-expanded", "false")
    picker.click()
    expect(picker).to_have_attribute("aria-expanded", "true")
    page.get_by_role("option", name="text", exact=True).click()
    expect(year.locator('[col-id="type"]')).to_have_text("text")
    expect(year.locator('[col-id="detected"]')).to_have_text("integer")  # what the file said stays visible

    # Name -> Title, typed into the Name cell.
    name_cell = editor_row(csv_card, "Name").locator('[col-id="name"]')
    name_cell.click()
    name_input = name_cell.locator("input")
    expect(name_input).to_be_focused()
    name_input.fill("Title")
    name_input.press("Enter")
    expect(name_cell).to_have_text("Title")

    # Skip Rank.
    rank_keep = editor_row(csv_card, "Rank").locator('[col-id="include"] input[type="checkbox"]')
    expect(rank_keep).to_be_checked()
    rank_keep.click()
    expect(rank_keep).not_to_be_checked()

    # The workbook: both sheets are offered; Orders (the first) is reviewed and ticked.
    expect(by_type(xlsx_card, "import-sheet")).to_have_value("Orders")
    sheets = by_type(xlsx_card, "import-sheets")
    expect(sheets.locator("label")).to_have_text(["Orders", "Customers"])
    expect(sheets.get_by_label("Orders")).to_be_checked()
    expect(sheets.get_by_label("Customers")).not_to_be_checked()
    expect(by_type(xlsx_card, "import-name")).to_have_value(WORKBOOK_NAME)
    order_date = editor_row(xlsx_card, "Order date")
    expect(order_date.locator('[col-id="type"]')).to_have_text("date")
    expect(order_date.locator('[col-id="detected"]')).to_have_text(re.compile(r"^date\b"))
    expect(order_date.locator('[col-id="sample"]')).to_have_text("2024-01-01, 2024-01-02, 2024-01-03")
    expect(editor_row(xlsx_card, "Amount").locator('[col-id="type"]')).to_have_text("float")
    sheets.get_by_label("Customers").check()
    expect(sheets.get_by_label("Customers")).to_be_checked()
    screenshot(page, "datasets-import")

    # Import the CSV: the button locks, the card says it is working, then links to the dataset.
    csv_button = csv_card.get_by_role("button", name="Import as a new dataset")
    csv_progress = by_type(csv_card, "import-progress")
    expect(csv_progress).to_be_hidden()
    record_import_states(csv_card)
    csv_button.click()
    expect(csv_button).to_be_disabled()
    csv_result = by_type(csv_card, "import-result")
    csv_links = csv_result.locator(".alert-success .import-done-link")

    xlsx_button = xlsx_card.get_by_role("button", name="Import as a new dataset")
    xlsx_button.click()
    expect(xlsx_button).to_be_disabled()
    xlsx_links = by_type(xlsx_card, "import-result").locator(".alert-success .import-done-link")

    expect(csv_links).to_have_text(["vgsales"])
    expect(csv_result).to_contain_text(f"({VGSALES_ROWS:,} rows)")
    expect(csv_progress).to_be_hidden()
    expect(csv_button).to_be_disabled()  # imported once; a second click would make a copy
    expect(xlsx_links).to_have_text([f"{WORKBOOK_NAME} – Orders", f"{WORKBOOK_NAME} – Customers"])
    expect(by_type(xlsx_card, "import-result")).to_contain_text(f"({ORDERS_ROWS:,} rows)")
    expect(by_type(xlsx_card, "import-result")).to_contain_text(f"({CUSTOMERS_ROWS:,} rows)")
    states = import_states(csv_card)
    assert any(st["result"] == "Importing…" and st["button_disabled"] for st in states), states
    # The progress bar shows only while a poll (every 0.7 s) finds the job running; this
    # file imports faster than that, so it may never show (test_a_long_import_... sees it).
    assert not any(st["progress_shown"] and "Imported" in st["result"] for st in states), states
    _made["vgsales"] = dataset_id_from(csv_links.first)
    _made["orders"] = dataset_id_from(xlsx_links.nth(0))
    _made["customers"] = dataset_id_from(xlsx_links.nth(1))
    screenshot(page, "datasets-import-done")

    csv_links.first.click()
    expect(page).to_have_url(f"{base_url}/datasets/{_made['vgsales']}")
    expect(heading(page)).to_have_text("vgsales")
    expect(page.locator("#dataset-rows")).to_have_text(f"{VGSALES_ROWS:,}")
    expect(page.locator("#dataset-columns")).to_have_text(str(len(VGSALES_COLUMNS_AFTER_IMPORT)))  # without Rank


def test_dataset_page_shows_columns_and_a_sortable_scrolling_grid(owner_page: Page, vgsales_dataset):
    page = owner_page
    page.goto(f"/datasets/{vgsales_dataset}")
    expect(heading(page)).to_have_text("vgsales")
    expect(page.locator("#dataset-rows")).to_have_text(f"{VGSALES_ROWS:,}")
    expect(page.locator("#dataset-columns")).to_have_text(str(len(VGSALES_COLUMNS_AFTER_IMPORT)))
    expect(page.locator("#dataset-version")).to_have_text("1")

    grid = page.locator("#dataset-grid")
    expect(grid.locator(".ag-header-cell-text")).to_contain_text(["Title", "Platform", "Year"])
    expect(grid_cell(grid, 0, "Title")).to_have_text("Wii Sports")
    expect(grid_cell(grid, 0, "Year")).to_have_text("2006")
    expect(grid.locator('.ag-header-cell[col-id="Rank"]')).to_have_count(0)
    screenshot(page, "dataset-page")

    # Sort by Global_Sales (scrolled into view with the wheel): ascending, then descending.
    scroll_grid(grid, right=3000)
    header = grid.locator('.ag-header-cell[col-id="Global_Sales"]')
    expect(header).to_be_in_viewport()
    header.locator(".ag-header-cell-label").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(grid_cell(grid, 0, "Global_Sales")).to_have_text("0.01")
    header.locator(".ag-header-cell-label").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(grid_cell(grid, 0, "Global_Sales")).to_have_text("82.74")
    expect(grid_cell(grid, 1, "Global_Sales")).to_have_text("40.24")

    # Scroll down far past the first block of 100 rows: more rows load, still sorted.
    target = 150
    expected = vgsales_global_sales_desc()
    row_height = grid.locator('.ag-center-cols-container .ag-row[row-index="0"]').bounding_box()["height"]
    scroll_grid(grid, down=target * row_height)
    expect(grid_cell(grid, target, "Global_Sales")).to_have_text(f"{expected[target]:,.2f}")
    expect(grid_cell(grid, target + 1, "Global_Sales")).to_have_text(f"{expected[target + 1]:,.2f}")
    assert page.evaluate("() => dash_ag_grid.getApi('dataset-grid').getDisplayedRowCount()") == VGSALES_ROWS
    screenshot(page, "dataset-page-scrolled")
    # Back to the first column through the grid's API: a second big wheel turn sometimes
    # lands as a vertical scroll in headless Chromium, moving row 150 out of the DOM.
    page.evaluate(f"() => {{ const api = dash_ag_grid.getApi('dataset-grid');"
                  f" api.ensureColumnVisible('Title'); api.ensureIndexVisible({target}); }}")
    expect(grid_cell(grid, target, "Title")).not_to_have_text("")

    # The Columns tab: the renamed and retyped columns, and no Rank.
    page.get_by_role("tab", name=f"Columns ({len(VGSALES_COLUMNS_AFTER_IMPORT)})").click()
    schema = page.locator("#dataset-schema")
    expect(schema.locator("tbody tr td:nth-child(2)")).to_have_text(VGSALES_COLUMNS_AFTER_IMPORT)
    expect(schema.locator("tbody tr", has_text="Title").locator("td").nth(2)).to_have_text("text")
    expect(schema.locator("tbody tr", has_text="Year").locator("td").nth(2)).to_have_text("text")
    expect(schema.locator("tbody tr", has_text="Global_Sales").locator("td").nth(2)).to_have_text("float")
    expect(schema).not_to_contain_text("Rank")
    page.wait_for_function("() => getComputedStyle(document.querySelector('#dataset-schema')"
                           ".closest('.tab-pane')).opacity === '1'")  # the tab has faded in
    screenshot(page, "dataset-columns")


def test_export_follows_the_grid_sort(owner_page: Page, vgsales_dataset):
    page = owner_page
    page.goto(f"/datasets/{vgsales_dataset}")
    grid = page.locator("#dataset-grid")
    expect(grid_cell(grid, 0, "Title")).to_have_text("Wii Sports")

    scroll_grid(grid, right=3000)
    header = grid.locator('.ag-header-cell[col-id="JP_Sales"]')
    header.locator(".ag-header-cell-label").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(grid_cell(grid, 0, "JP_Sales")).to_have_text("0.00")  # one number of decimals per column
    header.locator(".ag-header-cell-label").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(grid_cell(grid, 0, "JP_Sales")).to_have_text("10.22")
    scroll_grid(grid, right=-3000)
    expect(grid_cell(grid, 0, "Title")).to_have_text("Pokemon Red/Pokemon Blue")

    page.locator("#export-menu .dropdown-toggle").click()
    items = page.locator("#export-menu .dropdown-item")
    expect(items).to_have_text(["CSV", "Excel", "Parquet"])
    for fmt in ("csv", "xlsx", "parquet"):
        expect(page.locator(f"#export-{fmt}")).to_have_attribute(
            "href", f"/api/v1/datasets/{vgsales_dataset}/export?format={fmt}&sort=-JP_Sales")

    # Click CSV: the link opens in a new tab, which downloads the file.
    with page.expect_download() as download:
        page.click("#export-csv")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "vgsales.csv"

    table = list(csv.reader(io.StringIO(body)))
    assert table[0] == VGSALES_COLUMNS_AFTER_IMPORT
    data = table[1:]
    assert len(data) == VGSALES_ROWS
    jp = [float(r[VGSALES_COLUMNS_AFTER_IMPORT.index("JP_Sales")]) for r in data]
    assert jp == sorted(jp, reverse=True), "the export is not in the grid's order"
    assert data[0][:2] == ["Pokemon Red/Pokemon Blue", "GB"] and jp[0] == 10.22

    # Parquet, fetched with the page's session: the same rows in the same order.
    response = page.request.get(page.locator("#export-parquet").get_attribute("href"))
    assert response.ok, response.status
    parquet = pq.read_table(io.BytesIO(response.body()))
    assert parquet.column_names == VGSALES_COLUMNS_AFTER_IMPORT
    assert parquet.column("JP_Sales").to_pylist() == jp


def test_workbook_sheets_are_listed_and_searchable(owner_page: Page, workbook_datasets):
    page = owner_page
    page.goto("/datasets")
    table = page.locator("#datasets-table")
    names = table.locator("tbody tr td:first-child")
    expect(names).to_contain_text([f"{WORKBOOK_NAME} – Orders"])
    expect(names).to_contain_text([f"{WORKBOOK_NAME} – Customers"])
    orders_row = table.locator("tbody tr", has_text=f"{WORKBOOK_NAME} – Orders")
    expect(orders_row.locator("td").nth(1)).to_have_text(str(ORDERS_ROWS))
    expect(orders_row.locator("td").nth(2)).to_have_text("4")
    expect(orders_row.locator("td").nth(4)).to_have_text(OWNER_NAME)
    everything = names.count()

    page.fill("#datasets-search", "– cust")
    page.press("#datasets-search", "Enter")
    expect(names).to_have_text([f"{WORKBOOK_NAME} – Customers"])
    page.fill("#datasets-search", "no such dataset")
    page.press("#datasets-search", "Enter")
    expect(page.locator("#datasets-none")).to_have_text("No dataset matches.")
    page.fill("#datasets-search", "")
    page.press("#datasets-search", "Enter")
    expect(names).to_have_count(everything)

    orders_row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/datasets/{workbook_datasets['orders']}$"))
    expect(page.locator("#dataset-rows")).to_have_text(str(ORDERS_ROWS))
    expect(grid_cell(page.locator("#dataset-grid"), 0, "Order date")).to_have_text(re.compile(r"^2024-01-01"))


def test_sample_from_the_gallery_becomes_a_dataset(owner_page: Page):
    page = owner_page
    page.goto("/datasets")
    card = page.locator(".sample-card", has=page.locator("h3", has_text="Mall customers"))
    card.get_by_role("button", name="Add to workspace").click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))
    expect(heading(page)).to_have_text("Mall customers")
    expect(page.locator("#dataset-rows")).to_have_text("200")
    expect(grid_cell(page.locator("#dataset-grid"), 0, "Age")).not_to_have_text("")


def test_rename_and_delete_a_dataset(owner_page: Page, base_url):
    page = owner_page
    made = _json_or_fail(page.request.post("/api/v1/samples/wholesale-customers", data={}), "add sample")
    page.goto(f"/datasets/{made['id']}")
    expect(heading(page)).to_have_text("Wholesale customers")

    page.get_by_role("tab", name="Settings").click()
    expect(page.locator("#dataset-name-input")).to_have_value("Wholesale customers")
    page.fill("#dataset-name-input", "Wholesale clients 2014")
    page.click("#dataset-save")
    expect(page.locator("#dataset-save-feedback .alert-success")).to_have_text("Saved “Wholesale clients 2014”.")
    page.reload()
    expect(heading(page)).to_have_text("Wholesale clients 2014")

    page.get_by_role("tab", name="Settings").click()
    page.click("#dataset-delete-open")
    modal = page.locator(".modal-dialog")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text("“Wholesale clients 2014” and all its 1 version(s) will be deleted.")
    page.click("#dataset-delete-confirm")
    expect(page).to_have_url(base_url + "/datasets")
    expect(heading(page)).to_have_text("Datasets")
    expect(page.locator("#page-body")).not_to_contain_text("Wholesale clients 2014")
    assert page.request.get(f"/api/v1/datasets/{made['id']}").status == 404


def test_another_person_cannot_see_the_dataset(new_page, live_server, vgsales_dataset, base_url):
    ensure_account(live_server, OTHER_EMAIL, OTHER_PASSWORD, OTHER_NAME)
    page = new_page()
    sign_in(page, OTHER_EMAIL, OTHER_PASSWORD, next_path="/datasets")
    expect(page.locator("#page-body")).to_contain_text(f"No datasets in {OTHER_WORKSPACE} yet")

    page.goto(f"/datasets/{vgsales_dataset}")
    body = page.locator("#page-body")
    expect(body).to_contain_text("This page could not be shown")
    expect(body).to_contain_text(f"There is no dataset {vgsales_dataset} that you can see")
    expect(page.locator("#dataset-grid")).to_have_count(0)
    expect(page.locator("#export-menu")).to_have_count(0)
    expect(body).not_to_contain_text("Wii Sports")

    for path in (f"/api/v1/datasets/{vgsales_dataset}/export?format=csv", f"/api/v1/datasets/{vgsales_dataset}",
                 f"/api/v1/datasets/{vgsales_dataset}/rows"):
        response = page.request.get(path)
        assert response.status == 404, (path, response.status, response.text()[:200])
        assert "Wii Sports" not in response.text()


# --- a long import, and a known bug of the column editor ------------------------------------


def test_a_long_import_shows_its_progress(owner_page: Page):
    """541,909 rows take a few seconds to import: long enough for the progress bar."""
    page = owner_page
    upload_id = api_upload(page.request, SAMPLES_DIR / "online-retail.csv.gz")
    page.goto(f"/datasets/import?uploads={upload_id}&mode=new")
    card = page.locator(".import-card")
    expect(card.locator("h2")).to_have_text("online-retail.csv.gz")
    expect(editor_row(card, "InvoiceDate").locator('[col-id="type"]')).to_have_text("timestamp")

    record_import_states(card)
    card.get_by_role("button", name="Import as a new dataset").click()
    expect(card.locator(".alert-success .import-done-link")).to_have_count(1, timeout=60_000)
    expect(by_type(card, "import-result")).to_contain_text("(541,909 rows)")
    expect(by_type(card, "import-progress")).to_be_hidden()
    states = import_states(card)
    running = [st for st in states if st["progress_shown"]]
    assert running, f"the progress bar never showed: {states}"
    assert all(st["button_disabled"] and "Imported" not in st["result"] for st in running), states
    assert any(0 < st["progress_value"] < 100 for st in running), f"the progress never moved: {states}"


def test_first_values_of_every_column_show_in_the_column_editor(owner_page: Page, workbook_path):
    page = owner_page
    upload_id = api_upload(page.request, workbook_path)
    page.goto(f"/datasets/import?uploads={upload_id}&mode=new")
    card = page.locator(".import-card")
    expect(editor_row(card, "Order date").locator('[col-id="sample"]')).to_have_text(
        "2024-01-01, 2024-01-02, 2024-01-03")
    # The grid is drawn: the other rows are there already, no need to wait long.
    for column, values in (("Order ID", "1000, 1001, 1002"), ("Amount", "3.25, 13.75, 24.25"),
                           ("Quantity", "1, 2, 3")):
        expect(editor_row(card, column).locator('[col-id="sample"]')).to_have_text(values, timeout=1000)
