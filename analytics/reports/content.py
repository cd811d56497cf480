"""What a report holds, as plain data every format reads: the dashboard's title page and
each tab's widgets with their rendered output and their data as a table.

A report is a dict::

    {"title", "description", "filters": [{"label", "value"}], "generated_at": aware datetime,
     "timezone": "Europe/Paris", "tabs": [{"title", "widgets": [widget, ...]}]}

and a widget ``{"id", "title", "type", "layout": {x, y, w, h}, "output": the registry's
output (figure, kpi, table, markdown or {"error"}), "data": {"columns", "rows", "note",
"total", "stream"}}``, where ``data`` is what the widget's query returned, named for people.

A table widget can hold far more rows than a report should carry in memory: ``rows`` are
then its first rows (up to the query's row cap), ``total`` its true row count after the
filters (a ``count(*)`` in SQL) and ``stream(limit)`` an iterator of row batches from the
database, which the Excel and CSV writers read so that those files hold every row
(``all_rows``). Every note a format writes about a table says how many rows the data has,
how many this file holds and why (``table_note``).
"""
from __future__ import annotations

import datetime as dt
import html
import re

from markdown_it import MarkdownIt

from analytics.reports.fetching import markdown_image
from analytics.widgets.base import ROW_CAP
from analytics.widgets.formatting import format_cell, table_formats
from analytics.widgets.formatting import format_number  # noqa: F401 - re-exported: reports format KPIs like the screen

# Excel's own limit: 1,048,576 rows a sheet, one of them the header.
EXCEL_MAX_ROWS = 1_048_575

# The widget queries' column aliases, as the spec field they come from.
_ALIASES = {"x": "x", "g": "group", "b": "x", "c": "columns", "s": "size", "lat": "lat", "lon": "lon"}
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def _image(renderer, tokens, idx, options, env) -> str:
    """A markdown image the report may show (embedded, or from the app's assets), else a
    note in its place: a PDF or HTML export fetches nothing an author points it at."""
    token = tokens[idx]
    source = markdown_image(str(token.attrGet("src") or ""))
    if source is not None:
        token.attrSet("src", source)
        return renderer.image(tokens, idx, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env) or "untitled"
    return (f'<span class="note">[Image not included: {html.escape(alt)}. Reports show only images '
            "embedded in the text or kept in the app's assets.]</span>")


_md.add_render_rule("image", _image)


def markdown_html(text: str) -> str:
    """Markdown as HTML, raw HTML in the text escaped (the text is the author's, the
    reader's PDF viewer should see text, not markup), links kept (markdown-it refuses
    javascript:, vbscript:, file: and data: links) and images only when embedded
    (``_image``)."""
    return _md.render(text or "")


def measure_label(spec: dict) -> str:
    from analytics.widgets.kpi import measure_label as label

    try:
        return label(spec)
    except (KeyError, ValueError, TypeError):
        return "Value"


def _header(alias: str, spec: dict) -> str:
    if alias in ("y", "v"):
        if spec.get("type") in ("scatter", "histogram", "box") or "agg" not in spec:
            return spec.get("y") or spec.get("x") or alias  # raw values, not an aggregate
        return measure_label(spec)
    field = _ALIASES.get(alias)
    value = spec.get(field) if field else None
    if isinstance(value, str) and value:
        if alias in ("x", "b") and spec.get("time_grain"):
            return f"{value} ({spec['time_grain']})"
        return value
    return alias


def _histogram_data(spec: dict, output: dict) -> dict | None:
    """A histogram as one row per bar with that bar's own bounds: the figure's traces carry
    ``customdata`` [[lower, upper], ...] beside the counts, whatever the binning was."""
    traces = [t for t in (output.get("figure") or {}).get("data") or []
              if isinstance(t.get("customdata"), list) and t.get("y") is not None]
    if not traces:
        return None
    column = spec.get("x") or "value"
    series = len(traces) > 1
    rows = []
    for trace in traces:
        for bounds, count in zip(trace["customdata"], trace["y"]):
            lower, upper = (list(bounds) + [None, None])[:2] if isinstance(bounds, (list, tuple)) else (bounds, bounds)
            rows.append(([trace.get("name")] if series else []) + [lower, upper, count])
    columns = (["Series"] if series else []) + [f"{column} from", f"{column} to", "Count"]
    return {"columns": columns, "rows": rows, "note": None}


def widget_data(spec: dict, output: dict, result: dict | None, stream=None) -> dict | None:
    """The widget's numbers as one table {"columns", "rows", "note", "total"[, "stream"]},
    or None (markdown, errors). Tables and pivots as shown; KPIs as measure, value,
    previous, change; histograms as their bins' bounds and counts; charts as their query's
    rows, with columns named after the spec's fields. ``stream`` (a table widget with more
    rows than ``rows``) yields the rest from the database for the Excel and CSV files."""
    kind = output.get("kind")
    if kind == "markdown" or "error" in output:
        return None
    if kind == "table":
        rows = output.get("rows") or []
        total = output.get("total")
        data = {"columns": list(output.get("columns") or []), "rows": rows, "note": None,
                "total": total if isinstance(total, int) else len(rows), "formats": output.get("formats")}
        if spec.get("type") == "table" and data["total"] > len(rows) and stream is not None:
            data["stream"] = stream
        elif output.get("truncated"):
            data["note"], data["capped"] = capped_note(len(rows)), True
        return data
    if kind == "kpi":
        return {"columns": ["Measure", "Value", "Previous", "Change %"],
                "rows": [[output.get("label"), output.get("value"), output.get("previous"), output.get("delta_pct")]],
                "note": None, "total": 1}
    if spec.get("type") == "histogram" and kind == "figure":
        found = _histogram_data(spec, output)
        if found is not None:
            found["total"] = len(found["rows"])
            return found
    if result is None:
        return None
    columns = list(result.get("columns") or [])
    keep = [i for i, c in enumerate(columns) if not c.startswith("__")]
    headers = [_header(columns[i], spec) for i in keep]
    rows = [[row[i] for i in keep] for row in result.get("rows") or []]
    capped = bool(result.get("truncated"))
    return {"columns": headers, "rows": rows, "note": capped_note(len(rows)) if capped else None, "total": len(rows),
            "capped": capped}


def capped_note(shown: int) -> str:
    """A chart's or pivot's query result stops at the row cap; its full size is unknown."""
    return (f"Only the first {shown:,} rows of this widget's result: a widget's query returns at most "
            f"{ROW_CAP:,} rows. Add a filter or a coarser grouping to see everything.")


def total_rows(data: dict) -> int:
    total = data.get("total")
    return total if isinstance(total, int) and total >= len(data["rows"]) else len(data["rows"])


def where_all_rows(total: int) -> str:
    """Which export file holds every one of ``total`` rows."""
    if total <= EXCEL_MAX_ROWS:
        return "the Excel and CSV files hold all of them"
    return (f"the CSV file holds all of them (an Excel sheet holds at most {EXCEL_MAX_ROWS:,}, "
            "so the Excel file has the first rows only)")


def table_note(data: dict, shown: int, where: str = "in this file") -> str | None:
    """The note under a table that shows ``shown`` of its rows (``where``: "in this PDF"):
    the true count, what this file holds and where the rest is; the data's own note (a
    capped result) when every row it has is shown."""
    total = total_rows(data)
    if shown >= total:
        return data.get("note")
    if data.get("capped"):  # the query stopped at the row cap: the true count is not known
        return (f"Showing the first {shown:,} rows {where}; the Excel and CSV files hold the first {total:,}. "
                f"{data['note']}")
    return f"Showing the first {shown:,} of {total:,} rows {where}; {where_all_rows(total)}."


def all_rows(data: dict, limit: int | None = None):
    """Every row of the widget's data, up to ``limit``, in batches: from the database when
    the data has a ``stream`` (a big table), else from ``rows``."""
    stream = data.get("stream")
    if stream is not None:
        yield from stream(limit)
        return
    rows = data["rows"] if limit is None else data["rows"][:limit]
    for start in range(0, len(rows), 10_000):
        yield rows[start:start + 10_000]


def by_layout(widgets: list[dict]) -> list[list[dict]]:
    """Widgets in reading order as rows of the dashboard grid: those starting on the same
    grid row side by side, left to right."""
    rows: dict[int, list[dict]] = {}
    for widget in widgets:
        rows.setdefault(int((widget.get("layout") or {}).get("y", 0)), []).append(widget)
    return [sorted(rows[y], key=lambda w: (w.get("layout") or {}).get("x", 0)) for y in sorted(rows)]


def generated_text(report: dict) -> str:
    when = report["generated_at"]
    return f"{when:%Y-%m-%d %H:%M} {report.get('timezone') or 'UTC'}"


def cell_texts(columns: list, rows: list, formats: list | None = None) -> list[list[str]]:
    """The cells of a PDF or HTML table as text, one number format per column (the
    widget's own when it has them: years 2013, one number of decimals), so a column never
    mixes "9952" and "10,086.02"."""
    if not formats or len(formats) != len(columns):
        formats = table_formats(list(columns), rows)
    return [[format_cell(v, f) if isinstance(v, (int, float)) and not isinstance(v, bool) else plain_cell(v)
             for v, f in zip(row, formats)] for row in rows]


def plain_cell(value):
    """A cell value as text for PDF and HTML tables."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def slug(text: str, default: str = "widget") -> str:
    return re.sub(r"[^\w\-]+", "_", text or "", flags=re.UNICODE).strip("_")[:60] or default
