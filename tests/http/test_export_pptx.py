"""PowerPoint export (issue 17, point 1) through the API: a title slide, one slide per
widget in reading order; bar, line, area, pie and scatter as native charts whose embedded
numbers are the widget's; KPIs as a large number; long tables over several slides; other
charts as pictures; 16:9 or 4:3; formula-like labels inert in the charts' workbooks."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches

from tests.conftest import bearer, wait_export_job

DDE = "=cmd|' /C calc'!A0"


def sales_csv() -> bytes:
    lines = ["region,month,amount,cost"]
    for index, region in enumerate(["north", "south", DDE]):
        for month in range(1, 7):
            lines.append(f'"{region}",2024-0{month}-01,{month * 10 + index},{month * 3 + index}')
    return ("\n".join(lines) + "\n").encode()


WIDGETS = [
    ("Sales by region", {"type": "bar", "x": "region", "y": "amount", "agg": "sum"}),
    ("Monthly", {"type": "line", "x": "month", "y": "amount", "agg": "sum", "time_grain": "month"}),
    ("Stacked", {"type": "area", "x": "month", "y": "amount", "agg": "sum", "time_grain": "month",
                 "group": "region"}),
    ("Share", {"type": "pie", "x": "region", "y": "amount", "agg": "sum"}),
    ("Cost and amount", {"type": "scatter", "x": "cost", "y": "amount"}),
    ("Total", {"type": "kpi", "y": "amount", "agg": "sum"}),
    ("Spread", {"type": "histogram", "x": "amount"}),
    ("Notes", {"type": "markdown", "text": "# Read me\n\nThe **amounts** are in euros.\n\n- north\n- south"}),
    ("All rows", {"type": "table", "columns": ["region", "month", "amount"]}),
]


@pytest.fixture
def board(client, ada):
    created = client.post("/api/v1/datasets", data={"file": (io.BytesIO(sales_csv()), "sales.csv")},
                          headers=bearer(ada))
    assert created.status_code == 201, created.get_json()
    dataset_id = created.get_json()["id"]
    widgets = []
    for number, (title, spec) in enumerate(WIDGETS):
        spec = {**spec, "title": title}
        if spec["type"] != "markdown":
            spec["dataset_id"] = dataset_id
        widgets.append({"id": f"w{number}", "spec": spec, "layout": {"x": 0, "y": number * 6, "w": 12, "h": 6}})
    response = client.post("/api/v1/dashboards", headers=bearer(ada),
                           json={"name": "Sales review", "description": "Monthly figures", "widgets": widgets})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def slides_of(response) -> Presentation:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    assert 'filename="Sales review.pptx"' in response.headers["Content-Disposition"]
    return Presentation(io.BytesIO(response.get_data()))


def texts(slide) -> str:
    return " ".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)


def chart_of(slide):
    (chart,) = [shape.chart for shape in slide.shapes if shape.has_chart]
    return chart


def test_every_widget_becomes_a_slide_with_native_charts_of_its_numbers(client, ada, board):
    deck = slides_of(client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx", headers=bearer(ada)))
    assert (deck.slide_width, deck.slide_height) == (Inches(13.333), Inches(7.5))
    slides = list(deck.slides)
    assert len(slides) == 1 + len(WIDGETS) + 1  # the 18-row table takes two slides
    title = texts(slides[0])
    assert "Sales review" in title and "Monthly figures" in title and "Filters applied" in title
    assert "Generated" in title
    for slide, (name, _spec) in zip(slides[1:], WIDGETS):
        assert name in texts(slide)

    bar = chart_of(slides[1])
    assert bar.chart_type == XL_CHART_TYPE.COLUMN_CLUSTERED
    plot = bar.plots[0]
    by_region = dict(zip(plot.categories, plot.series[0].values))
    # The query's sums: north 10+20+...+60 = 210, south 216, the third 222 (its label inert).
    assert by_region == {"north": 210.0, "south": 216.0, "'" + DDE: 222.0}

    line = chart_of(slides[2])
    assert line.chart_type == XL_CHART_TYPE.LINE_MARKERS
    assert list(line.plots[0].categories)[:2] == ["2024-01-01", "2024-02-01"]
    assert list(line.plots[0].series[0].values) == [33.0, 63.0, 93.0, 123.0, 153.0, 183.0]

    area = chart_of(slides[3])
    assert area.chart_type == XL_CHART_TYPE.AREA_STACKED and len(area.plots[0].series) == 3

    pie = chart_of(slides[4])
    assert pie.chart_type == XL_CHART_TYPE.PIE and sum(pie.plots[0].series[0].values) == 648.0

    scatter = chart_of(slides[5])
    assert scatter.chart_type == XL_CHART_TYPE.XY_SCATTER
    assert len(list(scatter.plots[0].series[0].values)) == 18

    assert "Total\n648" in texts(slides[6])  # the label over the large number
    assert any(shape.shape_type == 13 for shape in slides[7].shapes)  # the histogram, as a picture
    notes = texts(slides[8])
    assert "Read me" in notes and "The amounts are in euros." in notes and "• north" in notes

    (table,) = [shape.table for shape in slides[9].shapes if shape.has_table]
    assert [cell.text for cell in table.rows[0].cells] == ["region", "month", "amount"]
    assert len(table.rows) == 15  # 14 rows a slide and the header; the rest on the next slide


def test_long_tables_continue_on_more_slides_and_say_what_they_hold(client, ada, board):
    deck = slides_of(client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx", headers=bearer(ada)))
    slides = list(deck.slides)
    assert len(slides) == 1 + len(WIDGETS) + 1
    last = slides[-1]
    assert "Rows 15–18" in texts(last)
    (table,) = [shape.table for shape in last.shapes if shape.has_table]
    assert len(table.rows) == 1 + 4


def test_the_charts_workbooks_hold_no_formulas(client, ada, board):
    deck = slides_of(client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx", headers=bearer(ada)))
    checked = 0
    for slide in deck.slides:
        for shape in slide.shapes:
            if not shape.has_chart:
                continue
            workbook = openpyxl.load_workbook(io.BytesIO(shape.chart.part.chart_workbook.xlsx_part.blob))
            for row in workbook.active.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (cell.coordinate, cell.value)
                    checked += 1
    assert checked > 50


def test_slide_size_4_3_and_bad_sizes(client, ada, board):
    deck = slides_of(client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx&paper=4:3",
                                headers=bearer(ada)))
    assert (deck.slide_width, deck.slide_height) == (Inches(10), Inches(7.5))
    bad = client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx&paper=5:4", headers=bearer(ada))
    assert bad.status_code == 400 and "16:9 or 4:3" in bad.get_json()["error"]["message"]


def test_in_the_background_and_for_nobody_else(client, ada, bob, board):
    started = client.post(f"/api/v1/dashboards/{board['id']}/export/jobs", json={"format": "pptx"},
                          headers=bearer(ada))
    assert started.status_code == 201
    job = wait_export_job(client, ada, started.get_json()["job_id"])
    assert job["status"] == "done", job
    assert job["result"]["stats"]["slides"] == 1 + len(WIDGETS) + 1
    assert job["result"]["stats"]["charts"] == 5 and job["result"]["stats"]["pictures"] == 1
    file = client.get(f"/api/v1/reports/{started.get_json()['job_id']}/file", headers=bearer(ada))
    assert len(Presentation(io.BytesIO(file.get_data())).slides) == 1 + len(WIDGETS) + 1
    assert client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx", headers=bearer(bob)).status_code == 404


def test_libreoffice_opens_the_deck_and_prints_every_slide(client, ada, board, tmp_path):
    """The deck converts to PDF with LibreOffice (Debian's libreoffice-impress, installed by
    `make test`) without errors: one PDF page per slide, the charts' numbers readable."""
    import shutil
    import subprocess

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (make test-system-deps installs libreoffice-impress)")
    response = client.get(f"/api/v1/dashboards/{board['id']}/export?format=pptx", headers=bearer(ada))
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(response.get_data())
    slides = len(Presentation(io.BytesIO(response.get_data())).slides)
    done = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(deck)],
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "deck.pdf"
    assert pdf.exists() and pdf.stat().st_size > 10_000, (done.stdout, done.stderr)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1) == str(slides)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Sales review" in text and "Sales by region" in text and "648" in text
