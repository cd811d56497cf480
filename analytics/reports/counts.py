"""How many of each table's rows a report file holds, in numbers and in words, for the
download dialog and the API (a build's ``stats["tables"]``): the table's true row count
after the filters, the rows in this file, and where every row is when this file has
fewer. The words come from the same rules the files' own notes use."""
from __future__ import annotations

from analytics.reports.content import EXCEL_MAX_ROWS, total_rows, where_all_rows
from analytics.reports.pdf import pdf_rows
from analytics.reports.slides import SLIDE_TABLE_ROWS

_FILE_NAMES = {"pdf": "this PDF", "html": "this web page", "xlsx": "this Excel file", "zip": "the CSV file",
               "csv": "this CSV file", "pptx": "these slides"}


def rows_in_file(data: dict, fmt: str) -> int:
    """The rows of a table that a file of format ``fmt`` holds."""
    total = total_rows(data)
    if fmt == "pdf":
        return len(pdf_rows(data))
    if fmt == "html":
        return len(data["rows"])
    if fmt == "pptx":
        return min(len(data["rows"]), SLIDE_TABLE_ROWS)
    if fmt == "xlsx":
        return min(total, EXCEL_MAX_ROWS)
    return total  # csv and zip: every row


def rows_sentence(title: str, total: int, held: int, fmt: str, capped: bool = False) -> str:
    """'All orders: 336,776 rows; this PDF has the first 40, and the Excel and CSV files hold
    all of them.' ``capped``: the widget's query stopped at the row cap, so ``total`` is
    that cap, not a count."""
    name = _FILE_NAMES.get(fmt, "this file")
    noun = "row" if total == 1 else "rows"
    if capped:
        return (f"{title}: the first {total:,} rows (a widget query's limit; there may be more); {name} has "
                f"{'all of them' if held >= total else f'the first {held:,}'}.")
    if held >= total:
        return f"{title}: {total:,} {noun}, all of them in {name}."
    return f"{title}: {total:,} {noun}; {name} has the first {held:,}, and {where_all_rows(total)}."


def table_counts(report: dict, fmt: str, widget_id: str | None = None) -> list[dict]:
    """[{"widget", "title", "rows", "in_file", "text"}] for every table and pivot of the
    report (of one widget for a CSV)."""
    out = []
    for tab in report["tabs"]:
        for widget in tab["widgets"]:
            data = widget.get("data")
            if data is None or (widget.get("output") or {}).get("kind") != "table":
                continue
            if widget_id is not None and widget["id"] != str(widget_id):
                continue
            title = widget.get("title") or "Table"
            total, held = total_rows(data), rows_in_file(data, fmt)
            out.append({"widget": widget["id"], "title": title, "rows": total, "in_file": held,
                        "text": rows_sentence(title, total, held, fmt, bool(data.get("capped")))})
    return out
