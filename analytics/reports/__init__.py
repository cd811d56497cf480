"""Reports: a dashboard (or any report built the same way) as PDF, Excel, CSV, ZIP of
CSVs, PowerPoint slides or a self-contained interactive HTML file. Pure: storage collects the report (access
checked, widgets queried) as the plain dict described in ``content``; these modules only
lay it out."""
from __future__ import annotations

from analytics.reports.content import widget_data
from analytics.reports.figures import BrowserMissing, FigureRenderer, default_renderer
from analytics.reports.interactive import render_html
from analytics.reports.pdf import render_pdf
from analytics.reports.slides import SLIDE_SIZES, write_pptx
from analytics.reports.tabular import write_csv, write_xlsx, write_zip

FORMATS = {
    "pdf": ("application/pdf", ".pdf"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "html": ("text/html; charset=utf-8", ".html"),
    "zip": ("application/zip", ".zip"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"),
}

__all__ = ["FORMATS", "SLIDE_SIZES", "write_pptx", "BrowserMissing", "FigureRenderer", "default_renderer", "render_html", "render_pdf",
           "widget_data", "write_csv", "write_xlsx", "write_zip"]
