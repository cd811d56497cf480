"""A dashboard (or any report) as a PDF: HTML and CSS laid out by WeasyPrint.

A title page (name, description, the filters applied, when it was generated and in
which time zone), then each tab on new pages with its widgets in the dashboard's grid
order: charts as vector SVG, KPIs as numbers, tables and pivots in full with their
header repeated on every page, markdown as text. Page numbers and the footer come from
CSS ``@page`` margin boxes; fonts are the system's DejaVu (no web fonts: offline).
"""
from __future__ import annotations

import base64
import html
import logging
import time

from analytics.reports.content import (
    by_layout,
    cell_texts,
    format_number,
    generated_text,
    markdown_html,
    table_note,
    total_rows,
)
from errors import InvalidInput

log = logging.getLogger(__name__)

PAPERS = {"a4": (210, 297), "letter": (215.9, 279.4)}  # millimetres, portrait
ORIENTATIONS = ("portrait", "landscape")
MARGIN_MM = 14
PX_PER_MM = 96 / 25.4
GRID_COLUMNS = 12
ROW_PX = 70  # one grid row of the dashboard, in CSS px (charts keep their proportions)
MAX_CHART_PX = 520
# A table of up to PDF_TABLE_ROWS rows (about three pages) is printed in full; a longer one
# shows its first PDF_FIRST_ROWS rows (a page) with its true count and refers to the Excel or
# CSV file, which hold every row: a report of many pages of table rows is read by nobody,
# and WeasyPrint lays out only about 100-150 rows a second on a busy core.
PDF_TABLE_ROWS = 150
PDF_FIRST_ROWS = 40


def page_size(paper: str, orientation: str) -> tuple[float, float]:
    """(width, height) in mm; InvalidInput naming the choices for anything else."""
    if paper not in PAPERS:
        raise InvalidInput(f"Unknown paper {paper!r}; choose a4 or letter")
    if orientation not in ORIENTATIONS:
        raise InvalidInput(f"Unknown orientation {orientation!r}; choose portrait or landscape")
    width, height = PAPERS[paper]
    return (height, width) if orientation == "landscape" else (width, height)


def _css(paper: str, orientation: str, title: str, footer: str) -> str:
    width, height = page_size(paper, orientation)
    esc = footer.replace("\\", "\\\\").replace('"', '\\"')
    return f"""
@page {{
  size: {width}mm {height}mm;
  margin: {MARGIN_MM}mm {MARGIN_MM}mm {MARGIN_MM + 4}mm {MARGIN_MM}mm;
  @bottom-left {{ content: "{esc}"; font-size: 7.5pt; color: #6c757d; }}
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages); font-size: 7.5pt; color: #6c757d; }}
}}
@page :first {{ @bottom-left {{ content: none; }} }}
html {{ font-family: "DejaVu Sans", sans-serif; font-size: 9pt; color: #212529; }}
h1 {{ font-size: 22pt; margin: 0 0 6mm 0; }}
h2.tab {{ font-size: 14pt; margin: 0 0 4mm 0; border-bottom: 1px solid #dee2e6; padding-bottom: 2mm; }}
.title-page {{ page-break-after: always; padding-top: 40mm; }}
.title-page .description {{ font-size: 11pt; color: #495057; margin-bottom: 8mm; white-space: pre-wrap; }}
.title-page dl {{ font-size: 10pt; }}
.title-page dt {{ font-weight: bold; margin-top: 3mm; }}
.title-page dd {{ margin-left: 0; }}
section.tab {{ page-break-before: always; }}
section.tab:first-of-type {{ page-break-before: auto; }}
.row {{ width: 100%; margin-bottom: 3mm; }}
.widget {{ display: inline-block; vertical-align: top; box-sizing: border-box; padding: 2mm;
           border: 1px solid #dee2e6; border-radius: 2mm; margin-right: -1px; page-break-inside: avoid; }}
.widget.full {{ display: block; width: 100% !important; page-break-inside: auto; margin-bottom: 3mm; }}
.widget h3 {{ font-size: 10pt; margin: 0 0 2mm 0; }}
.widget img {{ width: 100%; display: block; }}
.kpi .value {{ font-size: 22pt; font-weight: bold; margin: 2mm 0; }}
.kpi .delta.up {{ color: #198754; }} .kpi .delta.down {{ color: #dc3545; }}
.kpi .label {{ color: #6c757d; }}
.error {{ color: #dc3545; }}
.note {{ color: #6c757d; font-size: 7.5pt; margin-top: 1mm; }}
table.data {{ width: 100%; border-collapse: collapse; }}
table.data th, table.data td {{ font-family: "DejaVu Sans Mono", monospace; white-space: pre; text-align: left;
                                padding: 0.35mm 1mm; font-weight: normal; }}
table.data th {{ font-weight: bold; background: #e9ecef; border-bottom: 1px solid #adb5bd; }}
table.data tbody tr:nth-child(even) {{ background: #f4f5f7; }}
.markdown p {{ margin: 0 0 2mm 0; }}
"""


def _esc(text) -> str:
    return html.escape("" if text is None else str(text))


MONO_ADVANCE = 0.62  # DejaVu Sans Mono glyphs are 1233/2048 = 0.602 em wide; a little room to spare
TABLE_FONT_PT = (7.0, 5.0)  # the size tables start at, and the smallest they shrink to
CELL_GAP = 2  # characters between columns
MAX_CELL = 40  # characters of one cell before it is cut with an ellipsis


def _fit_widths(natural: list[int], capacity: int) -> tuple[list[int], int]:
    """(column widths in characters, gap) that fit ``capacity``: the widest columns give
    way first, then the gap narrows to one character; no column gets under 3."""
    widths = list(natural)
    gap = CELL_GAP
    while sum(widths) + gap * (len(widths) - 1) > capacity:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] > 6 or (gap == 1 and widths[widest] > 3):
            widths[widest] -= 1
        elif gap > 1:
            gap = 1
        else:
            break  # too many columns for the page: the line runs past the margin
    return widths, gap


def _table_html(columns: list, rows: list, note: str | None, width_px: float, formats: list | None = None) -> str:
    """A data table as one monospace line per row in a one-column table: WeasyPrint lays
    out a row as one text box instead of one box per cell (six times faster on 500 rows
    × 8 columns), the header still repeats on every page, numbers line up on the right,
    and the font shrinks (down to 5 pt) before long cells are cut with an ellipsis."""
    texts = [[text.replace("\n", " ").replace("\t", " ") for text in row] for row in cell_texts(columns, rows, formats)]
    numeric = [all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows if r[i] is not None)
               and any(r[i] is not None for r in rows) for i in range(len(columns))]
    natural = [min(MAX_CELL, max([len(str(c))] + [len(t[i]) for t in texts])) for i, c in enumerate(columns)]
    needed = sum(natural) + CELL_GAP * (len(natural) - 1)  # at full width and gap
    font_pt = TABLE_FONT_PT[0]
    for size in (7.0, 6.5, 6.0, 5.5, 5.0):
        font_pt = size
        if needed <= int((width_px - 8) / (size * 96 / 72 * MONO_ADVANCE)):
            break
    capacity = int((width_px - 8) / (font_pt * 96 / 72 * MONO_ADVANCE))
    widths, gap = _fit_widths(natural, capacity)

    def line(cells, right) -> str:
        parts = []
        for text, width, align_right in zip(cells, widths, right):
            if len(text) > width:
                text = text[: max(1, width - 1)] + "…"
            parts.append(text.rjust(width) if align_right else text.ljust(width))
        return (" " * gap).join(parts).rstrip()

    head = line([str(c) for c in columns], numeric)
    body = "".join(f"<tr><td>{_esc(line(t, numeric))}</td></tr>" for t in texts)
    note_html = f'<div class="note">{_esc(note)}</div>' if note else ""
    return (f'<table class="data" style="font-size: {font_pt}pt"><thead><tr><th>{_esc(head)}</th></tr></thead>'
            f"<tbody>{body}</tbody></table>{note_html}")


def pdf_rows(data: dict) -> list:
    """The rows of a table the PDF prints: all of them up to PDF_TABLE_ROWS, else the first
    page's worth (the note gives the true count and names the file with every row)."""
    if total_rows(data) <= PDF_TABLE_ROWS:
        return data["rows"][:PDF_TABLE_ROWS]
    return data["rows"][:PDF_FIRST_ROWS]


def _svg_img(svg: str) -> str:
    return f'<img src="data:image/svg+xml;base64,{base64.b64encode(svg.encode("utf-8")).decode("ascii")}">'


def _kpi_html(output: dict, sparkline_svg: str | None) -> str:
    fmt = output.get("format")
    parts = [f'<div class="value">{_esc(format_number(output.get("value"), fmt))}</div>']
    delta = output.get("delta_pct")
    if delta is not None:
        direction = "up" if delta >= 0 else "down"
        arrow = "▲" if delta >= 0 else "▼"
        parts.append(f'<div class="delta {direction}">{arrow} {delta:+.1f} % vs '
                     f'{_esc(format_number(output.get("previous"), fmt))}</div>')
    if output.get("label") and output.get("label") != output.get("title"):  # the title already says it
        parts.append(f'<div class="label">{_esc(output.get("label"))}</div>')
    if sparkline_svg:
        parts.append(_svg_img(sparkline_svg))
    return '<div class="kpi">' + "".join(parts) + "</div>"


def _is_full_width(widget: dict) -> bool:
    output = widget.get("output") or {}
    return output.get("kind") == "table"


def _widget_html(widget: dict, svgs: dict, content_px: float) -> str:
    output = widget.get("output") or {}
    layout = widget.get("layout") or {}
    title = widget.get("title") or output.get("title")
    heading = f"<h3>{_esc(title)}</h3>" if title and output.get("kind") != "kpi" else ""
    if "error" in output:
        body = f'<div class="error">This widget could not be drawn: {_esc(output["error"])}</div>'
    elif output.get("kind") == "figure":
        body = _svg_img(svgs[widget["id"]]) if widget["id"] in svgs else ""
    elif output.get("kind") == "kpi":
        heading = f"<h3>{_esc(title)}</h3>" if title else ""
        body = _kpi_html(output, svgs.get(widget["id"] + ":spark"))
    elif output.get("kind") == "table":
        data = widget.get("data") or {"columns": output.get("columns") or [], "rows": output.get("rows") or [],
                                       "total": output.get("total")}
        rows = pdf_rows(data)
        body = _table_html(data["columns"], rows, table_note(data, len(rows), "in this PDF"), content_px - 30,
                           data.get("formats"))
    elif output.get("kind") == "markdown":
        body = f'<div class="markdown">{markdown_html(output.get("text") or "")}</div>'
    else:
        body = ""
    if output.get("note") and "error" not in output:
        body += f'<div class="note">{_esc(output["note"])}</div>'
    if _is_full_width(widget):
        return f'<div class="widget full">{heading}{body}</div>'
    width_pct = min(GRID_COLUMNS, max(1, int(layout.get("w", 6)))) / GRID_COLUMNS * 100
    return f'<div class="widget" style="width: {width_pct:.3f}%">{heading}{body}</div>'


def chart_size(widget: dict, content_px: float) -> tuple[int, int]:
    """The chart's size in CSS px for the PDF: the widget's share of the page width and
    its grid height, so the page keeps the dashboard's proportions."""
    layout = widget.get("layout") or {}
    width = content_px * min(GRID_COLUMNS, max(1, int(layout.get("w", 6)))) / GRID_COLUMNS - 20
    height = min(MAX_CHART_PX, max(160, int(layout.get("h", 4)) * ROW_PX - 40))
    return max(160, int(width)), int(height)


def figures_to_draw(report: dict, content_px: float) -> list[tuple[str, dict, int, int]]:
    """(key, figure, width, height) for every chart and sparkline of the report."""
    out = []
    for tab in report["tabs"]:
        for widget in tab["widgets"]:
            output = widget.get("output") or {}
            if output.get("kind") == "figure" and output.get("figure"):
                width, height = chart_size(widget, content_px)
                out.append((widget["id"], _for_print(output["figure"]), width, height))
            elif output.get("kind") == "kpi" and output.get("sparkline"):
                width, _ = chart_size(widget, content_px)
                out.append((widget["id"] + ":spark", output["sparkline"], width, 50))
    return out


def _for_print(figure: dict) -> dict:
    """The figure with a white background and the page's font (the screen's transparent
    background would print as nothing behind gridlines), in SVG marks only."""
    fig = dict(figure)
    # WebGL traces come out of an SVG export as an empty bitmap: print them as SVG marks.
    fig["data"] = [{**trace, "type": "scatter"} if trace.get("type") == "scattergl" else trace
                   for trace in fig.get("data") or []]
    layout = dict(fig.get("layout") or {})
    layout.pop("height", None)
    layout.pop("width", None)
    layout.setdefault("paper_bgcolor", "white")
    layout["font"] = {**(layout.get("font") or {}), "family": "DejaVu Sans, sans-serif"}
    fig["layout"] = layout
    return fig


def _contents_line(tab: dict) -> str:
    count = len(tab["widgets"])
    return f"<dd>{_esc(tab['title'])} ({count} widget{'s' if count != 1 else ''})</dd>"


def report_html(report: dict, paper: str, orientation: str, svgs: dict) -> str:
    width, _ = page_size(paper, orientation)
    content_px = (width - 2 * MARGIN_MM) * PX_PER_MM
    title = report.get("title") or "Report"
    footer = f"{title} · generated {generated_text(report)}"
    filters = report.get("filters") or []
    filter_html = "".join(f"<dd>{_esc(f['label'])}: {_esc(f['value'])}</dd>" for f in filters) or "<dd>None</dd>"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<style>{_css(paper, orientation, title, footer)}</style></head><body>",
        f'<div class="title-page"><h1>{_esc(title)}</h1>',
        f'<div class="description">{_esc(report.get("description"))}</div>' if report.get("description") else "",
        f"<dl><dt>Filters applied</dt>{filter_html}<dt>Generated</dt><dd>{_esc(generated_text(report))}</dd>",
        "<dt>Contents</dt>" + "".join(_contents_line(tab) for tab in report["tabs"]),
        "</dl></div>",
    ]
    for tab in report["tabs"]:
        parts.append(f'<section class="tab"><h2 class="tab">{_esc(tab["title"])}</h2>')
        for row in by_layout(tab["widgets"]):
            parts.append('<div class="row">' + "".join(_widget_html(w, svgs, content_px) for w in row) + "</div>")
        if not tab["widgets"]:
            parts.append('<p class="note">This tab has no widgets.</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)


def render_pdf(report: dict, paper: str = "a4", orientation: str = "portrait", renderer=None,
               progress=None) -> tuple[bytes, dict]:
    """(the PDF's bytes, {"pages", "charts", "chart_seconds", "layout_seconds"}).
    ``progress(fraction, message)`` hears about each chart drawn."""
    import weasyprint

    from analytics.reports.fetching import url_fetcher
    from analytics.reports.figures import default_renderer

    renderer = renderer or default_renderer()
    width, _ = page_size(paper, orientation)
    content_px = (width - 2 * MARGIN_MM) * PX_PER_MM
    todo = figures_to_draw(report, content_px)
    started = time.perf_counter()
    svgs = {}
    for index, (key, figure, w, h) in enumerate(todo):
        if progress:
            progress(0.1 + 0.7 * index / max(1, len(todo)), f"Drawing chart {index + 1} of {len(todo)}")
        svgs[key] = renderer.svg(figure, w, h)
    chart_seconds = time.perf_counter() - started
    if progress:
        progress(0.85, "Laying out the pages")
    started = time.perf_counter()
    # The only way out of WeasyPrint: data: URIs and the app's assets (fetching.py).
    document = weasyprint.HTML(string=report_html(report, paper, orientation, svgs), url_fetcher=url_fetcher()).render()
    pdf = document.write_pdf()
    stats = {"pages": len(document.pages), "charts": len(todo), "chart_seconds": round(chart_seconds, 3),
             "layout_seconds": round(time.perf_counter() - started, 3)}
    log.info("report PDF: %s", stats)
    return pdf, stats
