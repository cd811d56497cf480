"""A report as PowerPoint slides (issue 17, point 1): a title slide, then one slide per
widget in tab and reading order.

Bar, line, area, pie and scatter charts become native PowerPoint charts with their data
embedded (the person can restyle them, or edit the numbers, in PowerPoint); every other
chart is a high-resolution PNG drawn by the same kaleido renderer as the PDF. KPIs are a
large number with their change, tables are native tables split over several slides,
markdown is text. 16:9 by default, 4:3 on request.
"""
from __future__ import annotations

import io
import logging

from pptx import Presentation
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from analytics.reports.content import by_layout, cell_texts, generated_text, table_note
from analytics.reports.formulas import neutralise

log = logging.getLogger(__name__)

SLIDE_SIZES = {"16:9": (Inches(13.333), Inches(7.5)), "4:3": (Inches(10), Inches(7.5))}
MARGIN = Inches(0.5)
TITLE_HEIGHT = Inches(0.9)
FOOTER_HEIGHT = Inches(0.35)
TABLE_ROWS_PER_SLIDE = 14
TABLE_SLIDES_MAX = 5  # a longer table shows its first rows and says where the rest is
SLIDE_TABLE_ROWS = TABLE_ROWS_PER_SLIDE * TABLE_SLIDES_MAX
CHART_POINTS_MAX = 2_000  # past this a native chart is slow to open: drawn as a picture instead
NATIVE = {"bar", "line", "area", "pie", "scatter"}
INK = RGBColor(0x21, 0x25, 0x29)
MUTED = RGBColor(0x6C, 0x75, 0x7D)
UP, DOWN = RGBColor(0x19, 0x87, 0x54), RGBColor(0xDC, 0x35, 0x45)


def _text(frame, text: str, size: int, *, bold: bool = False, colour=INK, align=None) -> None:
    paragraph = frame.paragraphs[0]
    paragraph.text = text if isinstance(text, str) else str(text)
    paragraph.font.size = Pt(size)
    paragraph.font.bold = bold
    paragraph.font.color.rgb = colour
    if align is not None:
        paragraph.alignment = align


def _add_paragraph(frame, text: str, size: int, *, bold: bool = False, colour=INK, level: int = 0):
    paragraph = frame.add_paragraph()
    paragraph.text = text
    paragraph.level = level
    paragraph.font.size = Pt(size)
    paragraph.font.bold = bold
    paragraph.font.color.rgb = colour
    return paragraph


class _Deck:
    def __init__(self, report: dict, slide_size: str):
        self.report = report
        self.prs = Presentation()
        self.width, self.height = SLIDE_SIZES[slide_size]
        self.prs.slide_width, self.prs.slide_height = self.width, self.height
        self.blank = self.prs.slide_layouts[6]
        self.footer = f"{report.get('title') or 'Report'} · generated {generated_text(report)}"

    @property
    def body(self) -> tuple[int, int, int, int]:
        """(left, top, width, height) under the slide's title, above its footer."""
        top = MARGIN + TITLE_HEIGHT
        return MARGIN, top, self.width - 2 * MARGIN, self.height - top - MARGIN - FOOTER_HEIGHT

    def slide(self, title: str, subtitle: str | None = None):
        slide = self.prs.slides.add_slide(self.blank)
        box = slide.shapes.add_textbox(MARGIN, MARGIN * 0.6, self.width - 2 * MARGIN, TITLE_HEIGHT)
        box.text_frame.word_wrap = True
        _text(box.text_frame, title, 26, bold=True)
        if subtitle:
            _add_paragraph(box.text_frame, subtitle, 12, colour=MUTED)
        footer = slide.shapes.add_textbox(MARGIN, self.height - MARGIN - FOOTER_HEIGHT + Inches(0.1),
                                          self.width - 2 * MARGIN, FOOTER_HEIGHT)
        _text(footer.text_frame, self.footer, 9, colour=MUTED)
        return slide

    def note(self, slide, text: str | None) -> None:
        if not text:
            return
        left, top, width, height = self.body
        box = slide.shapes.add_textbox(left, top + height - Inches(0.35), width, Inches(0.35))
        box.text_frame.word_wrap = True
        _text(box.text_frame, text, 10, colour=MUTED)


def _title_slide(deck: _Deck) -> None:
    report = deck.report
    slide = deck.prs.slides.add_slide(deck.blank)
    box = slide.shapes.add_textbox(MARGIN, Inches(1.6), deck.width - 2 * MARGIN, Inches(4.5))
    frame = box.text_frame
    frame.word_wrap = True
    _text(frame, report.get("title") or "Report", 40, bold=True)
    if report.get("description"):
        _add_paragraph(frame, report["description"], 16, colour=MUTED)
    filters = report.get("filters") or []
    _add_paragraph(frame, "", 10)
    _add_paragraph(frame, "Filters applied", 14, bold=True)
    for flt in filters or [{"label": "None", "value": ""}]:
        text = f"{flt['label']}: {flt['value']}" if flt.get("value") not in (None, "") else flt["label"]
        _add_paragraph(frame, text, 13, level=1)
    _add_paragraph(frame, "", 10)
    _add_paragraph(frame, f"Generated {generated_text(report)}", 13, colour=MUTED)


def _category(value) -> str:
    """A category label as the chart's embedded workbook keeps it (neutralised: python-pptx
    writes it with xlsxwriter, which would store ``=...`` as a live formula)."""
    return neutralise(_label(value))


def _series_name(name, default: str) -> str:
    return neutralise(str(name)) if name not in (None, "") else default


def _label(value) -> str:
    if isinstance(value, str) and len(value) >= 19 and value[10:19] == "T00:00:00":
        return value[:10]  # a day from a time grain: the date is the label
    if isinstance(value, str) and len(value) > 10 and value[10] == "T":
        return value.replace("T", " ")[:16]
    return "" if value is None else str(value)


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _chart_type(kind: str, traces: list[dict], layout: dict, horizontal: bool):
    if kind == "pie":
        return XL_CHART_TYPE.DOUGHNUT if (traces[0].get("hole") or 0) > 0 else XL_CHART_TYPE.PIE
    if kind == "scatter":
        return XL_CHART_TYPE.XY_SCATTER
    if kind == "area":
        return XL_CHART_TYPE.AREA_STACKED if any(t.get("stackgroup") for t in traces) else XL_CHART_TYPE.AREA
    if kind == "line":
        return XL_CHART_TYPE.LINE_MARKERS
    stacked = layout.get("barmode") in ("stack", "relative")
    if horizontal:
        return XL_CHART_TYPE.BAR_STACKED if stacked else XL_CHART_TYPE.BAR_CLUSTERED
    return XL_CHART_TYPE.COLUMN_STACKED if stacked else XL_CHART_TYPE.COLUMN_CLUSTERED


def native_chart_data(kind: str, figure: dict):
    """(chart type, chart data) for a bar, line, area, pie or scatter figure, or None when
    its traces are not what such a chart holds (then it is drawn as a picture)."""
    traces = [t for t in figure.get("data") or [] if isinstance(t, dict)]
    if not traces or kind not in NATIVE:
        return None
    layout = figure.get("layout") or {}
    if kind == "pie":
        trace = traces[0]
        labels, values = trace.get("labels") or [], trace.get("values") or []
        if not labels or len(labels) != len(values) or len(labels) > CHART_POINTS_MAX:
            return None
        data = CategoryChartData()
        data.categories = [_category(v) for v in labels]
        data.add_series(_series_name(trace.get("name"), "Value"), [_number(v) for v in values])
        return _chart_type(kind, traces, layout, False), data
    if kind == "scatter":
        data = XyChartData()
        points = 0
        for trace in traces:
            xs, ys = trace.get("x") or [], trace.get("y") or []
            series = data.add_series(_series_name(trace.get("name"), "Points"))
            for x, y in zip(xs, ys):
                if _number(x) is not None and _number(y) is not None:
                    series.add_data_point(x, y)
                    points += 1
        if not points or points > CHART_POINTS_MAX:
            return None
        return _chart_type(kind, traces, layout, False), data
    horizontal = any(t.get("orientation") == "h" for t in traces)
    category_key, value_key = ("y", "x") if horizontal else ("x", "y")
    categories: list[str] = []
    seen: dict[str, int] = {}
    series_values = []
    for trace in traces:
        keys = [_category(v) for v in trace.get(category_key) or []]
        values = trace.get(value_key) or []
        if len(keys) != len(values):
            return None
        for key in keys:
            if key not in seen:
                seen[key] = len(categories)
                categories.append(key)
        series_values.append((_series_name(trace.get("name"), "Value"), dict(zip(keys, values))))
    if not categories or len(categories) * len(traces) > CHART_POINTS_MAX:
        return None
    data = CategoryChartData()
    data.categories = categories
    for name, by_category in series_values:
        data.add_series(name, [_number(by_category.get(c)) for c in categories])
    return _chart_type(kind, traces, layout, horizontal), data


def _chart_slide(deck: _Deck, slide, output: dict, native, renderer) -> None:
    """``native``: native_chart_data's answer for this widget (None: draw a picture)."""
    left, top, width, height = deck.body
    if native is not None:
        chart_type, data = native
        chart = slide.shapes.add_chart(chart_type, left, top, width, height, data).chart
        chart.has_title = False  # the slide's title names it; PowerPoint would repeat the series name
        round_chart = chart_type in (XL_CHART_TYPE.PIE, XL_CHART_TYPE.DOUGHNUT)
        chart.has_legend = len(data) > 1 or round_chart
        if not round_chart and chart_type != XL_CHART_TYPE.XY_SCATTER and _all_positive(data):
            chart.value_axis.minimum_scale = 0  # bars and areas measured from zero, as on screen
        if chart.has_legend:
            chart.legend.position = XL_LEGEND_POSITION.BOTTOM
            chart.legend.include_in_layout = False
        chart.font.size = Pt(12)
        return
    from analytics.reports.pdf import _for_print

    px_width, px_height = int(Emu(width).inches * 96), int(Emu(height).inches * 96)
    png = renderer.png(_for_print(output["figure"]), px_width, px_height, scale=2)
    slide.shapes.add_picture(io.BytesIO(png), left, top, width=width, height=height)


def _all_positive(data) -> bool:
    return all(v is None or v >= 0 for series in data for v in series.values)


def _kpi_slide(deck: _Deck, slide, output: dict) -> None:
    left, top, width, height = deck.body
    box = slide.shapes.add_textbox(left, top + Inches(0.6), width, height - Inches(0.6))
    frame = box.text_frame
    frame.word_wrap = True
    _text(frame, output.get("label") or "", 20, colour=MUTED, align=PP_ALIGN.CENTER)
    value = output.get("value_text") or ("" if output.get("value") is None else str(output.get("value")))
    _add_paragraph(frame, value or "No value", 72, bold=True).alignment = PP_ALIGN.CENTER
    delta = output.get("delta_pct")
    if isinstance(delta, (int, float)) and not isinstance(delta, bool):
        arrow = "▲" if delta > 0 else "▼" if delta < 0 else "■"
        versus = f" vs {output['previous_text']}" if output.get("previous_text") else " vs the previous period"
        line = _add_paragraph(frame, f"{arrow} {delta:+.1f} %{versus}", 20,
                              colour=UP if delta > 0 else DOWN if delta < 0 else MUTED)
        line.alignment = PP_ALIGN.CENTER


def _table_slides(deck: _Deck, widget: dict, output: dict) -> None:
    columns = [str(c) for c in output.get("columns") or []]
    rows = output.get("rows") or []
    shown = rows[:SLIDE_TABLE_ROWS]
    texts = cell_texts(columns, shown, output.get("formats"))
    pages = max(1, -(-len(texts) // TABLE_ROWS_PER_SLIDE))
    data = widget.get("data") or {"rows": rows, "total": output.get("total")}
    note = table_note(data, len(shown), "in these slides")
    title = widget.get("title") or "Table"
    for page in range(pages):
        part = texts[page * TABLE_ROWS_PER_SLIDE:(page + 1) * TABLE_ROWS_PER_SLIDE]
        subtitle = f"Rows {page * TABLE_ROWS_PER_SLIDE + 1}–{page * TABLE_ROWS_PER_SLIDE + len(part)}" \
            if pages > 1 else None
        slide = deck.slide(title, subtitle)
        if not columns:
            deck.note(slide, "This table has no columns to show.")
            continue
        left, top, width, height = deck.body
        row_height = Inches(0.36)
        shape = slide.shapes.add_table(len(part) + 1, len(columns), left, top, width,
                                       min(height - Inches(0.4), row_height * (len(part) + 1)))
        table = shape.table
        for c, name in enumerate(columns):
            cell = table.cell(0, c)
            cell.text = name
            cell.text_frame.paragraphs[0].font.size = Pt(11)
            cell.text_frame.paragraphs[0].font.bold = True
        for r, row in enumerate(part, start=1):
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = value
                cell.text_frame.paragraphs[0].font.size = Pt(10)
        if page == pages - 1:
            deck.note(slide, note if note else (None if rows else "No rows match the filters."))


def markdown_paragraphs(text: str) -> list[tuple[str, int, bool]]:
    """(text, bullet level, is heading) per block of a markdown text: slides carry its
    words and structure, not its markup."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text or "")
    out, level, heading = [], 0, False
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            level += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            level -= 1
        elif token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type == "inline":
            words = "".join(" " if child.type in ("softbreak", "hardbreak") else child.content
                            for child in token.children or [] if child.type in ("text", "code_inline", "softbreak",
                                                                                 "hardbreak"))
            out.append(((("• " if level else "") + words).strip(), max(0, level - 1), heading))
        elif token.type in ("fence", "code_block"):
            out.append((token.content.rstrip(), 0, False))
    return out


def _markdown_slide(deck: _Deck, slide, output: dict) -> None:
    left, top, width, height = deck.body
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    paragraphs = markdown_paragraphs(output.get("text") or output.get("markdown") or "")
    first = True
    for words, level, heading in paragraphs or [("", 0, False)]:
        size = 22 if heading else 16
        if first:
            _text(frame, words, size, bold=heading)
            frame.paragraphs[0].level = level
            first = False
        else:
            _add_paragraph(frame, words, size, bold=heading, level=level)


def write_pptx(report: dict, handle, slide_size: str = "16:9", renderer=None, progress=None) -> dict:
    """Write the report's slides to ``handle``; {"slides", "charts", "pictures"}."""
    from analytics.reports.figures import default_renderer

    renderer = renderer or default_renderer()
    deck = _Deck(report, slide_size)
    _title_slide(deck)
    widgets = [(tab, w) for tab in report["tabs"] for row in by_layout(tab["widgets"]) for w in row]
    charts = pictures = 0
    for index, (tab, widget) in enumerate(widgets):
        if progress:
            progress(index / max(1, len(widgets)), f"Slide {index + 2} of {len(widgets) + 1}")
        output = widget.get("output") or {}
        title = widget.get("title") or (widget.get("type") or "Widget").capitalize()
        subtitle = tab["title"] if len(report["tabs"]) > 1 else None
        if output.get("kind") == "table" and "error" not in output:
            _table_slides(deck, widget, output)
            continue
        slide = deck.slide(title, subtitle)
        if "error" in output:
            deck.note(slide, f"This widget could not be drawn: {output['error']}")
        elif output.get("kind") == "figure" and output.get("figure"):
            native = native_chart_data(widget.get("type") or "", output["figure"])
            _chart_slide(deck, slide, output, native, renderer)
            charts += native is not None
            pictures += native is None
        elif output.get("kind") == "kpi":
            _kpi_slide(deck, slide, output)
        elif output.get("kind") == "markdown":
            _markdown_slide(deck, slide, output)
        else:
            deck.note(slide, "This widget has nothing to show with the current filters.")
    deck.prs.save(handle)
    return {"slides": len(deck.prs.slides), "charts": charts, "pictures": pictures}
