"""Reports of a dashboard with one widget of every type: the PDF (checked with pdftotext
and pdftoppm), Excel against the widget queries, CSV, ZIP, offline HTML, and the
message when no browser is installed."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook

from analytics.reports.figures import BrowserMissing, FigureRenderer
from analytics.widgets.formatting import format_number
from storage import Storage
from tests.conftest import PASSWORD
from tests.report_fixtures import every_widget_dashboard


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    store = Storage(f"sqlite:///{root / 'meta.db'}", root / "data")
    store.migrate()
    ada = store.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    workspace = store.workspaces.personal_workspace(ada).id
    built = every_widget_dashboard(store, ada, workspace, root)
    yield {"storage": store, "ada": ada, "root": root, **built}
    store.dispose()


@pytest.fixture(scope="module")
def pdf(made):
    """The dashboard's PDF (A4 portrait), its text per page and its stats."""
    store, ada = made["storage"], made["ada"]
    built = store.reports.export(ada, made["board"]["id"], "pdf", timezone="Europe/Paris")
    path = made["root"] / "report.pdf"
    path.write_bytes(built.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return {"path": path, "built": built, "pages": text.split("\f")[:-1], "text": text}


def _query(made, widget_id):
    board = made["board"]
    widget = next(w for w in board["widgets"] if w["id"] == widget_id)
    return made["storage"].queries.run(made["ada"], widget["spec"]["dataset_id"], widget["spec"])


def test_pdf_has_title_page_every_tab_widget_title_and_page_numbers(pdf, made):
    built, pages = pdf["built"], pdf["pages"]
    assert built.content.startswith(b"%PDF-") and built.mimetype == "application/pdf"
    assert built.filename == "Video game sales.pdf"
    assert len(pages) == built.stats["pages"] >= 5
    title_page = pages[0]
    assert "Video game sales" in title_page and "Every widget type, for the report tests" in title_page
    assert "Filters applied" in title_page and "Europe/Paris" in title_page
    for tab in ("Overview", "More charts", "Data"):
        assert tab in pdf["text"]
    for widget in made["board"]["widgets"]:
        title = widget["spec"]["title"]
        if widget["spec"]["type"] != "kpi":
            assert title in pdf["text"], title
    for number, page in enumerate(pages[1:], start=2):
        assert f"Page {number} of {len(pages)}" in page
        assert "Video game sales · generated" in page


def test_pdf_kpis_show_the_dashboard_numbers(pdf, made):
    store, ada = made["storage"], made["ada"]
    sales = _query(made, "kpi_sales")["rows"][0][2]
    assert format_number(sales, ",.2f") in pdf["text"]
    board = made["board"]
    output = store.dashboard_views.render_widgets(ada, board, [w for w in board["widgets"] if w["id"] == "kpi_orders"])
    kpi = output["kpi_orders"]
    assert format_number(kpi["value"], kpi["format"]) in pdf["text"]
    assert f"{kpi['delta_pct']:+.1f} %" in pdf["text"]


def test_pdf_charts_are_vector_text_and_markdown_is_rendered(pdf):
    text = pdf["text"]
    for genre in ("Action", "Sports", "Shooter"):  # bar and treemap labels, as text in the SVG
        assert genre in text
    assert "About" in text and "video games" in text and "**" not in text


def test_pdf_table_of_500_rows_shows_its_first_page_and_the_true_count(pdf):
    """A table longer than a few pages prints its first 40 rows, says how many it has and
    where they all are, instead of pages of rows."""
    pages = pdf["pages"]
    with_orders = [i for i, page in enumerate(pages) if "ORD-" in page]
    assert len(with_orders) == 1
    found = set(re.findall(r"ORD-\d{5}", pdf["text"]))
    assert found == {f"ORD-{i:05d}" for i in range(1, 41)}
    words = " ".join(pdf["text"].split())
    assert "Showing the first 40 of 500 rows in this PDF; the Excel and CSV files hold all of them." in words
    tables = pdf["built"].stats["tables"]
    assert {"widget": "table", "rows": 500, "in_file": 40}.items() <= tables[0].items()


def _table_report(rows: int, total: int | None = None) -> dict:
    import datetime as dt

    data = {"columns": ["n", "label"], "rows": [[i, f"row {i}"] for i in range(1, rows + 1)], "note": None,
            "total": total if total is not None else rows}
    return {"title": "T", "description": "", "filters": [], "timezone": "UTC",
            "generated_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "tabs": [{"title": "Data", "widgets": [{"id": "t", "title": "Rows", "type": "table",
                                                    "layout": {"x": 0, "y": 0, "w": 12, "h": 6},
                                                    "output": {"kind": "table"}, "data": data}]}]}


def _pdf_text(content: bytes, tmp_path) -> list[str]:
    path = tmp_path / "t.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout.split("\f")[:-1]


def test_pdf_table_up_to_150_rows_is_printed_in_full_with_its_header_on_every_page(tmp_path):
    from analytics.reports.pdf import PDF_TABLE_ROWS, render_pdf

    content, stats = render_pdf(_table_report(PDF_TABLE_ROWS))
    pages = _pdf_text(content, tmp_path)
    with_rows = [p for p in pages if "row 1" in p]
    assert len(with_rows) >= 2 and all(re.search(r"^\s*n\s+label", p, re.M) for p in with_rows)
    assert {int(n) for n in re.findall(r"row (\d+)", "".join(pages))} == set(range(1, PDF_TABLE_ROWS + 1))
    assert "Showing the first" not in "".join(pages)


@pytest.mark.parametrize("total,where", [
    (336_776, "the Excel and CSV files hold all of them"),
    (2_000_000, "the CSV file holds all of them (an Excel sheet holds at most 1,048,575"),
])
def test_pdf_of_a_huge_table_has_few_pages_and_says_the_true_count(tmp_path, total, where):
    """The report carries the first 10,000 rows of a table of ``total``: two pages, not a
    hundred, and the note gives the true count and names the file with every row."""
    from analytics.reports.pdf import render_pdf

    content, stats = render_pdf(_table_report(10_000, total))
    pages = _pdf_text(content, tmp_path)
    assert stats["pages"] == len(pages) <= 3
    words = " ".join(" ".join(pages).split())
    assert f"Showing the first 40 of {total:,} rows in this PDF; {where}" in words


def test_pdf_pivot_in_full(pdf, made):
    result = _query(made, "pivot")
    genres = {row[0] for row in result["rows"]}
    assert len(genres) == 12
    for genre in genres:
        assert genre in pdf["text"]


def test_pdf_pages_render_as_images(pdf, tmp_path):
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "3", str(pdf["path"]), str(tmp_path / "page")],
                   check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 3
    from PIL import Image

    second = Image.open(images[1]).convert("L")
    colours = second.getcolors(maxcolors=1_000_000)
    assert len(colours) > 20  # charts drawn, not a blank page
    second.save(pdf["path"].parent / "page-2.png")


def test_letter_landscape(made):
    built = made["storage"].reports.export(made["ada"], made["board"]["id"], "pdf", paper="letter",
                                           orientation="landscape")
    path = made["root"] / "letter.pdf"
    path.write_bytes(built.content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "792 x 612 pts" in info  # US Letter, landscape


def test_excel_holds_the_widget_query_numbers(made):
    store, ada = made["storage"], made["ada"]
    built = store.reports.export(ada, made["board"]["id"], "xlsx")
    book = load_workbook(io.BytesIO(built.content))
    assert book.sheetnames[0] == "Summary"
    summary = [[c for c in row] for row in book["Summary"].iter_rows(values_only=True)]
    assert summary[0][0] == "Video game sales"
    sales = _query(made, "kpi_sales")["rows"][0][2]
    kpi_row = next(r for r in summary if r and r[0] == "Global sales")
    assert kpi_row[1] == pytest.approx(sales)
    bar = book["Sales by genre"]
    rows = list(bar.iter_rows(values_only=True))
    assert rows[0] == ("Genre", "Sum of Global_Sales")
    expected = _query(made, "bar")["rows"]
    assert [list(r) for r in rows[1:]] == [[x, pytest.approx(y)] for x, y in expected]
    assert bar.cell(2, 2).number_format == "#,##0.##"
    table = list(book["All orders"].iter_rows(values_only=True))
    assert len(table) == 501 and table[1][0] == "ORD-00001"
    assert book["Sales by platform"] is not None and "Notes" not in book.sheetnames  # markdown has no data


def test_csv_zip_and_formula_injection(made, tmp_path):
    store, ada = made["storage"], made["ada"]
    evil = store.datasets.create_from_file(ada, made["board"]["workspace_id"], _evil_csv(tmp_path), "evil.csv")
    board = store.dashboards.create(ada, made["board"]["workspace_id"], {"name": "Evil", "widgets": [
        {"id": "t", "spec": {"type": "table", "dataset_id": evil.id, "title": "Cells"}}]})
    csv_file = store.reports.export(ada, board["id"], "csv", widget_id="t")
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert rows == [["name", "amount"], ["'=HYPERLINK(\"http://x\")", "1"], ["-42", "2"], ["'@SUM(A1)", "3"]]
    assert csv_file.filename == "Evil - Cells.csv"
    book = load_workbook(io.BytesIO(store.reports.export(ada, board["id"], "xlsx").content))
    values = [c for row in book["Cells"].iter_rows(values_only=True) for c in row]
    assert "'=HYPERLINK(\"http://x\")" in values and "=HYPERLINK(\"http://x\")" not in values
    archive = zipfile.ZipFile(io.BytesIO(store.reports.export(ada, made["board"]["id"], "zip").content))
    names = archive.namelist()
    assert "Data/All_orders.csv" in names and len(names) == 16  # every widget but the markdown
    assert archive.read("Data/All_orders.csv").decode("utf-8-sig").count("ORD-") == 500
    with pytest.raises(Exception, match="widget=<widget id>"):
        store.reports.export(ada, board["id"], "csv")


def _evil_csv(tmp_path):
    path = tmp_path / "evil.csv"
    path.write_text('name,amount\n"=HYPERLINK(""http://x"")",1\n-42,2\n@SUM(A1),3\n')
    return path


def test_html_is_self_contained_and_interactive(made):
    built = made["storage"].reports.export(made["ada"], made["board"]["id"], "html")
    page = built.content.decode("utf-8")
    assert "<script src" not in page and 'src="http' not in page  # plotly.js inline, nothing fetched
    assert "window.PlotlyGeoAssets = {topojson: {world_110m:" in page  # the map's shapes inline too
    assert "Plotly.newPlot" in page and page.count("Plotly.newPlot(") == 12  # every chart widget
    assert "ORD-00500" in page and "Video game sales" in page


def test_filters_from_the_dashboard_url_apply(made):
    store, ada = made["storage"], made["ada"]
    view = store.reports.view_from_args({"filters": '{"genre": ["Action"]}'})
    report = store.reports.collect(ada, made["board"]["id"], view)
    assert report["filters"] == [{"label": "Genre", "value": "Action"}]
    bar = next(w for t in report["tabs"] for w in t["widgets"] if w["id"] == "bar")
    assert [r[0] for r in bar["data"]["rows"]] == ["Action"]


def test_no_browser_gives_a_message_naming_the_package(made):
    missing = FigureRenderer(browser_path="/nonexistent/chromium")
    with pytest.raises(BrowserMissing, match="apt-get install chromium") as caught:
        missing.svg({"data": [], "layout": {}}, 300, 200)
    assert caught.value.status == 503
    found_nothing = FigureRenderer(finder=lambda: None)
    with pytest.raises(BrowserMissing, match="apt-get install chromium"):
        found_nothing.svg({"data": [], "layout": {}}, 300, 200)


def test_report_tables_write_one_number_format_per_column():
    """PDF and HTML tables: a column never mixes "9952" and "10,086.02"; the widget's own
    formats win (a year stays 2013)."""
    from analytics.reports.content import cell_texts
    rows = [[2013, 9952, 9952.0], [2014, 10086, 10086.02]]
    texts = cell_texts(["Year", "Flights", "Sales"], rows)
    assert [t[1:] for t in texts] == [["9,952", "9,952.00"], ["10,086", "10,086.02"]]
    assert cell_texts(["Year", "Flights", "Sales"], rows, ["d", ",d", ",.2f"])[0] == ["2013", "9,952", "9,952.00"]
