"""Files people really have, in a real browser: a German export (semicolon, decimal
comma, cp1252) shows "decimal comma" on the import screen and its numbers arrive right in
the grid; two files dropped at once import with one button; a second upload of the same
name asks whether to add a version; a Word document gets a message and a way back.

Runs its own server (like test_datasets_flow). Screenshots at desktop width and at
390 px go to tests/e2e/artifacts/import-locale-*.png.
"""
from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import EXPECT_TIMEOUT_MS, same_origin_context
# A server of this module's own, as test_datasets_flow has (module-scoped fixtures).
from tests.e2e.test_datasets_flow import base_url, by_type, editor_row, live_server, screenshot  # noqa: F401
from tests.e2e.test_main_flow import ensure_account, heading, sign_in

pytestmark = pytest.mark.e2e

LOCALE = Path(__file__).resolve().parents[1] / "fixtures" / "locale"
DESTATIS = LOCALE / "destatis-bevoelkerung-2022.csv"
INSEE = LOCALE / "insee-communes-2021.csv"
US = LOCALE / "us-finance-export.csv"
EMAIL, PASSWORD, NAME = "lena@example.com", "lena's long password", "Lena Locale"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def state(browser, base_url, live_server):
    ensure_account(live_server, EMAIL, PASSWORD, NAME)
    context = same_origin_context(browser, base_url)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        sign_in(context.new_page(), EMAIL, PASSWORD)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def page(new_page, state) -> Page:
    return new_page(storage_state=state)


def choose_files(page: Page, *paths: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click("#dataset-upload-zone")
    chooser.value.set_files([str(p) for p in paths])


def drop_files(page: Page, files: dict[str, bytes]) -> None:
    """Drop files on the upload zone as a browser does: a drop event with a DataTransfer."""
    payload = {name: base64.b64encode(data).decode() for name, data in files.items()}
    expect(page.locator("#dataset-upload-zone")).to_be_visible()  # Dash renders the page after load
    page.evaluate("""payload => {
        const transfer = new DataTransfer();
        for (const [name, b64] of Object.entries(payload)) {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, {type: 'text/csv'}));
        }
        const zone = document.getElementById('dataset-upload-zone');
        zone.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: transfer}));
        zone.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: transfer}));
    }""", payload)


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    widest = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert width <= page.viewport_size["width"] + 1, f"the page is {width}px wide: {widest}"


def test_a_german_export_reads_as_numbers(page: Page):
    page.goto("/datasets")
    choose_files(page, DESTATIS)
    page.wait_for_url(re.compile(r"/datasets/import\?uploads="))
    expect(heading(page)).to_have_text("Import files")
    card = page.locator(".import-card")
    decisions = card.locator(".import-decision")
    for words in ("encoding cp1252", "delimiter semicolon", "decimal comma", "thousands separator '.'",
                  "day-first dates", "trailing delimiter ignored"):
        expect(decisions.filter(has_text=words).first).to_be_visible()
    share = editor_row(card, "Anteil in %")
    expect(share.locator('[col-id="type"]')).to_have_text("float")
    expect(share.locator('[col-id="detected"]')).to_have_text("float · decimal comma")
    expect(editor_row(card, "Bevölkerung").locator('[col-id="type"]')).to_have_text("integer")
    screenshot(page, "import-locale-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "import-locale-phone")
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Changing the decimal mark re-reads the file: with a point, "13,37" is no number.
    by_type(card, "import-decimal").select_option(".")
    expect(share.locator('[col-id="type"]')).not_to_have_text("float")
    by_type(card, "import-decimal").select_option("auto")
    expect(share.locator('[col-id="type"]')).to_have_text("float")

    card.get_by_role("button", name="Import as a new dataset").click()
    link = card.locator(".import-done-link")
    expect(link).to_have_text("destatis-bevoelkerung-2022", timeout=60_000)
    link.click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))
    grid = page.locator("#dataset-grid")
    first = grid.locator('.ag-center-cols-container .ag-row[row-index="0"]')
    expect(first.locator('[col-id="Bundesland"]')).to_have_text("Baden-Württemberg")
    expect(first.locator('[col-id="Bevölkerung"]')).to_have_text(re.compile(r"^11,?280,?257$"))
    expect(first.locator('[col-id="Anteil in %"]')).to_have_text("13.37")
    screenshot(page, "import-locale-grid")


def test_a_second_upload_of_the_same_name_asks(page: Page):
    page.goto("/datasets")
    choose_files(page, DESTATIS)  # the first test made a dataset of this name
    page.wait_for_url(re.compile(r"/datasets/import\?uploads="))
    card = page.locator(".import-card")
    question = card.locator(".import-exists")
    expect(question).to_be_visible()
    expect(question).to_contain_text("A dataset named “destatis-bevoelkerung-2022” exists")
    expect(question).to_contain_text("“destatis-bevoelkerung-2022 (2)”")
    card.get_by_role("button", name="Import as a new dataset").click()
    expect(card.locator(".alert-danger")).to_contain_text("choose above whether to add this file as a new version")
    screenshot(page, "import-locale-same-name")
    question.locator("label", has_text="New version of").click()
    card.get_by_role("button", name="Import as a new dataset").click()
    link = card.locator(".import-done-link")
    expect(link).to_have_text("destatis-bevoelkerung-2022", timeout=60_000)
    link.click()
    expect(page.locator("#dataset-versions tbody tr")).to_have_count(2)  # the same dataset, version 2


def test_two_files_dropped_import_with_one_button(page: Page):
    page.goto("/datasets")
    drop_files(page, {INSEE.name: INSEE.read_bytes(), US.name: US.read_bytes()})
    page.wait_for_url(re.compile(r"/datasets/import\?uploads=[\w-]+%2C[\w-]+"))
    cards = page.locator(".import-card")
    expect(cards).to_have_count(2)
    insee = cards.filter(has=page.locator("h2", has_text=INSEE.name))
    us = cards.filter(has=page.locator("h2", has_text=US.name))
    expect(insee.locator(".import-decision").filter(has_text="thousands separator space")).to_be_visible()
    expect(us.locator(".import-decision").filter(has_text="currency $ dropped")).to_be_visible()
    button = page.get_by_role("button", name="Import all 2 files")
    screenshot(page, "import-locale-two-files")
    button.click()
    expect(insee.locator(".import-done-link")).to_have_text("insee-communes-2021", timeout=60_000)
    expect(us.locator(".import-done-link")).to_have_text("us-finance-export", timeout=60_000)
    page.set_viewport_size(PHONE)
    screenshot(page, "import-locale-two-files-phone")
    no_sideways_scroll(page)
    page.goto("/datasets")
    table = page.locator("#datasets-table")
    expect(table).to_contain_text("insee-communes-2021")
    expect(table).to_contain_text("us-finance-export")


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_a_word_document_gets_a_message_and_a_way_back(page: Page, tmp_path):
    docx = tmp_path / "quarterly report.docx"
    docx.write_bytes(_docx())
    page.goto("/datasets")
    choose_files(page, docx)
    page.wait_for_url(re.compile(r"/datasets/import\?uploads="))
    card = page.locator(".import-card")
    expect(card.locator(".alert-danger")).to_contain_text("This is a Word document, not a table.")
    expect(card.locator(".alert-danger")).to_contain_text("Nothing was saved.")
    back = card.locator(".import-try-another")
    expect(back).to_have_text("Try another file")
    screenshot(page, "import-locale-word")
    page.set_viewport_size(PHONE)
    screenshot(page, "import-locale-word-phone")
    no_sideways_scroll(page)
    back.click()
    page.wait_for_url(re.compile(r"/datasets$"))
    expect(page.locator("#dataset-upload-zone")).to_be_visible()
    expect(page.locator("#page-body")).not_to_contain_text("quarterly report")
