"""What a report holds, as plain data every format reads: the dashboard's title page and
each tab's widgets with their rendered output and their data as a table.

A report is a dict::

    {"title", "description", "filters": [{"label", "value"}], "generated_at": aware datetime,
     "timezone": "Europe/Paris", "tabs": [{"title", "widgets": [widget, ...]}]}

and a widget ``{"id", "title", "type", "layout": {x, y, w, h}, "output": the registry's
output (figure, kpi, table, markdown or {"error"}), "data": {"columns", "rows", "note"}}``,
where ``data`` is what the widget's query returned (tables in full), named for people.
"""
from __future__ import annotations

import datetime as dt
import re

from markdown_it import MarkdownIt

from analytics.widgets.formatting import format_number  # noqa: F401 - re-exported: reports format KPIs like the screen

# The widget queries' column aliases, as the spec field they come from.
_ALIASES = {"x": "x", "g": "group", "b": "x", "c": "columns", "s": "size", "lat": "lat", "lon": "lon"}
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def markdown_html(text: str) -> str:
    """Markdown as HTML, raw HTML in the text escaped (the text is the author's, the
    reader's PDF viewer should see text, not markup)."""
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


def widget_data(spec: dict, output: dict, result: dict | None) -> dict | None:
    """The widget's numbers as one table {"columns", "rows", "note"}, or None (markdown,
    errors). Tables and pivots as shown; KPIs as measure, value, previous, change; charts
    as their query's rows, with columns named after the spec's fields."""
    kind = output.get("kind")
    if kind == "markdown" or "error" in output:
        return None
    if kind == "table":
        rows = output.get("rows") or []
        note = None
        total = output.get("total")
        if isinstance(total, int) and total > len(rows) and spec.get("type") == "table":
            note = f"The first {len(rows):,} of {total:,} rows"
        return {"columns": list(output.get("columns") or []), "rows": rows, "note": note}
    if kind == "kpi":
        return {"columns": ["Measure", "Value", "Previous", "Change %"],
                "rows": [[output.get("label"), output.get("value"), output.get("previous"), output.get("delta_pct")]],
                "note": None}
    if result is None:
        return None
    columns = list(result.get("columns") or [])
    keep = [i for i, c in enumerate(columns) if not c.startswith("__")]
    headers = [_header(columns[i], spec) for i in keep]
    rows = [[row[i] for i in keep] for row in result.get("rows") or []]
    note = "The first rows only: the query's result was capped" if result.get("truncated") else None
    return {"columns": headers, "rows": rows, "note": note}


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
