"""Reports of dashboards: PDF, Excel, interactive HTML, a ZIP of CSVs or one widget's CSV,
with the filters of the dashboard URL, for a signed-in viewer or a share link that
allows exports. Access is checked here (DashboardService / the share token); the files
are laid out by ``analytics.reports``.

Every widget is queried as the dashboard draws it (the same filters, cross-filters and
drill-downs, the same cache), except that a table is asked for its first rows up to the
row cap (10,000, for the PDF and the HTML page) with its true count, instead of the page
on screen; the Excel and CSV files read all its rows from DuckDB in batches as they are
written (``TableRows``), so they hold the whole table in bounded memory. Excel, ZIP and
CSV files are written to a temp file, not into memory. To query exactly as the dashboard does this
module uses the view and query services' own steps (``DashboardViewService.viewed_spec``,
``cross_for``, ``QueryService.prepare``/``result_on``/``dataset_in_workspace``), as
``DashboardViewService`` itself does, rather than a second copy of them.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics import reports as layout
from analytics.reports.counts import table_counts
from analytics.widgets import widget_type
from analytics.widgets.base import plain
from analytics.widgets.spec import normalize_spec
from storage.audit import NO_AUDIT
from storage.dashboard_views import (
    active_filters,
    cross_for,
    in_parallel,
    parse_view_state,
)
from storage.duck import connect, literal
from storage.errors import InvalidInput, NotFound
from storage.exports import safe_filename
from storage.principal import Principal

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("pdf", "xlsx", "html", "zip", "csv", "pptx")
KEEP_FILES = dt.timedelta(hours=6)  # rendered files wait this long for their download


STREAM_BATCH = 20_000  # rows fetched from DuckDB at a time while a file is written


@dataclass
class ReportFile:
    """A built report: its bytes (PDF, HTML) or the temp file it was written to (Excel,
    ZIP, CSV: possibly a million rows), which the caller moves, streams or discards."""

    data: bytes | None
    mimetype: str
    filename: str
    stats: dict
    path: Path | None = None

    @property
    def content(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def table_rows_sql(spec: dict, schema: list[dict], source_sql: str) -> tuple[str, list]:
    """Every row of a normalised table spec, in the widget's order, with its filters: the
    table widget's own query without the page."""
    return widget_type("table").rows_query(spec, schema, source_sql)


def _cell(value):
    """A database value as a spreadsheet cell: dates, numbers and text as they are; NaN
    as empty; anything else (decimals, intervals, lists) as plain JSON-like values."""
    if value is None or isinstance(value, (str, int, dt.date)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return plain(value)


class TableRows:
    """Every row of a table widget, read from DuckDB in batches when a file is written
    (``data["stream"]`` of the report): a connection of its own under the app's memory
    limit, closed when the rows end or the writer stops early."""

    def __init__(self, parquet_path: Path, spec: dict, schema: list[dict], tmp_dir: Path):
        self.sql, self.params = table_rows_sql(spec, schema, f"read_parquet({literal(str(parquet_path))})")
        self.tmp_dir = tmp_dir

    def __call__(self, limit: int | None = None):
        con = connect(self.tmp_dir)
        try:
            sql = self.sql
            params = list(self.params)
            if limit is not None:
                sql = f"SELECT * FROM ({sql}) AS all_rows LIMIT ${len(params) + 1}"
                params.append(int(limit))
            cursor = con.execute(sql, params)
            while True:
                batch = cursor.fetchmany(STREAM_BATCH)
                if not batch:
                    break
                yield [[_cell(v) for v in row] for row in batch]
        finally:
            con.close()


def check_timezone(name) -> str:
    name = name or "UTC"
    if not isinstance(name, str) or len(name) > 64:
        raise InvalidInput("The time zone must be a name such as Europe/Paris or UTC")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {name!r}; use a name such as Europe/Paris or UTC") from None
    return name


def check_options(fmt, paper, orientation, widget) -> tuple[str, str, str]:
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"Unknown export format {fmt!r}; choose pdf, xlsx, html, zip, csv or pptx")
    if not isinstance(paper or "", str) or not isinstance(orientation or "", str):
        raise InvalidInput("Give the paper (a4, letter, ...) and the orientation (portrait or landscape) as text")
    if fmt == "pptx":
        return fmt, slide_size(paper), "landscape"
    paper = (paper or "a4").lower()
    orientation = (orientation or "portrait").lower()
    layout.pdf.page_size(paper, orientation)  # InvalidInput naming the choices
    if fmt == "csv" and not widget:
        raise InvalidInput("A CSV export is of one widget: add widget=<widget id>")
    return fmt, paper, orientation


def slide_size(paper: str | None) -> str:
    """Slides take ``paper=16:9`` (the default) or ``paper=4:3``; a paper size (the
    download dialog's A4 or Letter, a schedule made for PDF) means the default."""
    size = (paper or "16:9").lower()
    if size in ("a4", "a3", "a5", "letter", "legal"):
        return "16:9"
    if size not in layout.SLIDE_SIZES:
        raise InvalidInput(f"Unknown slide size {paper!r}; choose {' or '.join(layout.SLIDE_SIZES)}")
    return size


def _scaled(progress, low: float, high: float):
    """``progress`` with fractions mapped into [low, high] (None stays None)."""
    if progress is None:
        return None
    return lambda fraction, message: progress(low + (high - low) * min(1.0, max(0.0, fraction)), message)


def _filter_text(flt: dict) -> str:
    value = flt.get("value")
    if flt.get("kind") == "multi_select":
        return ", ".join(str(v) for v in value)
    low, high = (list(value) + [None, None])[:2]
    if low in (None, ""):
        return f"up to {high}"
    if high in (None, ""):
        return f"from {low}"
    return f"{low} – {high}"


class ReportService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, dashboards, views, datasets, queries, jobs, data_dir: Path, renderer=None):
        self.dashboards = dashboards
        self.views = views
        self.datasets = datasets
        self.queries = queries
        self.jobs = jobs
        self.renderer = renderer  # None: the process-wide kaleido renderer
        self.files_dir = Path(data_dir) / "reports"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir = Path(data_dir) / "tmp"  # DuckDB spills here while a big table is read

    # --- collecting ---------------------------------------------------------------------

    def collect(self, principal: Principal, dashboard_id, view: dict | None = None, timezone: str = "UTC",
                now: dt.datetime | None = None) -> dict:
        """The report of a dashboard the principal can view (NotFound otherwise), with the
        view's filter values and cross-filters."""
        board = self.dashboards.get(principal, dashboard_id)
        view = view or {}
        values, cross = view.get("filters") or {}, view.get("cross") or []

        def one(widget):
            return self._widget_report(board, widget, values, cross,
                                       lambda ds_id: self.datasets.get(principal, ds_id))

        return self._assemble(board, values, timezone, one, now)

    def collect_shared(self, token: str, view: dict | None = None, timezone: str = "UTC") -> dict:
        """The report of a shared dashboard, only when its link allows exports (NotFound
        for an unknown or revoked link, Forbidden when exports are off). A link carries
        the dashboard's own filters only, so cross-filters are not applied here."""
        board = self.dashboards.get_shared(token)[0]
        self.dashboards.require_share_export(token)
        view = view or {}
        values = view.get("filters") or {}

        def one(widget):
            return self._widget_report(board, widget, values, [],
                                       lambda ds_id: self.queries.dataset_in_workspace(ds_id, board["workspace_id"]))

        return self._assemble(board, values, timezone, one)

    def _assemble(self, board: dict, values: dict, timezone: str, one, now: dt.datetime | None = None) -> dict:
        timezone = check_timezone(timezone)
        filters = [{"label": f.get("label") or f["column"], "value": _filter_text(f)}
                   for f in active_filters(board, values) if f.get("value")]
        widgets = board.get("widgets") or []
        rendered = in_parallel(widgets, one)
        tabs = []
        for tab in board.get("tabs") or []:
            items = []
            for widget in widgets:
                if widget.get("tab") != tab["id"]:
                    continue
                item = rendered[str(widget["id"])]
                if "error" in item and "output" not in item:  # the widget failed as a whole
                    item = {"output": {"error": item["error"]}, "data": None}
                spec = widget["spec"]
                items.append({"id": str(widget["id"]), "title": spec.get("title") or "", "type": spec.get("type"),
                              "layout": widget.get("layout") or {}, "number_format": spec.get("number_format"),
                              "output": item["output"], "data": item["data"]})
            tabs.append({"id": tab["id"], "title": tab["title"], "widgets": items})
        return {"title": board["name"], "description": board.get("description") or "", "filters": filters,
                "generated_at": (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(timezone)), "timezone": timezone, "tabs": tabs,
                "dashboard_id": board["id"], "workspace_id": board.get("workspace_id")}

    def _widget_report(self, board: dict, widget: dict, values: dict, cross: list, dataset_of) -> dict:
        """{"output", "data"} of one widget: what the dashboard shows, and its numbers."""
        spec = dict(widget["spec"])
        if spec.get("type") == "markdown":
            output = widget_type("markdown").render(None, normalize_spec(spec, []))
            return {"output": {**output, "title": spec.get("title")}, "data": None}
        dataset = dataset_of(spec["dataset_id"])
        viewed = self.views.viewed_spec(widget, spec, dataset.schema, board, values, cross,
                                        self.views.queries.parameters_of(dataset))
        extra = cross_for(widget["id"], cross, {c["name"]: c["type"] for c in dataset.schema})
        normalized = self.queries.prepare(dataset, viewed, extra or None)
        stream = None
        if normalized["type"] == "table":
            # The first rows up to the row cap and the true count after the filters (a
            # count(*) in the same query), not the page on screen; Excel and CSV read every
            # row from the database as they are written.
            normalized["page"], normalized["page_size"] = 0, self.queries.row_cap
            result = self.queries.result_on(dataset, normalized)
            output = widget_type("table").render(result, normalized)
            if self.queries.rows_elsewhere(dataset):
                # A live table or query: the file holds a sample, so the export is the rows
                # the query gave, capped, and says so.
                if isinstance(output.get("total"), int) and output["total"] > len(output.get("rows") or []):
                    output = {**output, "truncated": True}
            else:
                stream = TableRows(self.datasets.file_path(dataset), normalized, dataset.schema, self.tmp_dir)
        elif normalized["type"] == "analysis":
            # Not a query: the engine runs the analysis (its table views become the data).
            result, output = None, self.queries.render_on(dataset, normalized, complete=True)
        else:
            output = self.queries.render_on(dataset, normalized)  # the dashboard's own cached drawing
            result = self.queries.result_on(dataset, normalized)  # and its rows, cached alike
        output = {**output, "title": spec.get("title")}
        return {"output": output, "data": layout.widget_data(normalized, output, result, stream)}

    # --- building files -----------------------------------------------------------------

    def build(self, report: dict, fmt: str, paper: str = "a4", orientation: str = "portrait",
              widget_id: str | None = None, progress=None) -> ReportFile:
        """The file of ``report`` in ``fmt``: PDF and HTML in memory; Excel, ZIP and CSV in a
        temp file under the reports folder (``ReportFile.path``). ``stats["tables"]`` says
        how many of each table's rows the file holds (and where the rest is)."""
        fmt, paper, orientation = check_options(fmt, paper, orientation, widget_id)
        mimetype, extension = layout.FORMATS[fmt]
        stats: dict = {}
        started = time.perf_counter()
        if fmt == "pdf":
            content, stats = layout.render_pdf(report, paper, orientation, renderer=self.renderer, progress=progress)
            built = ReportFile(content, mimetype, safe_filename(report["title"], extension), stats)
        elif fmt == "html":
            built = ReportFile(layout.render_html(report), mimetype, safe_filename(report["title"], extension), stats)
        elif fmt == "csv":
            widget = next((w for t in report["tabs"] for w in t["widgets"] if w["id"] == str(widget_id)), None)
            if widget is None:
                raise NotFound(f"There is no widget {widget_id!r} on this dashboard")
            if widget.get("data") is None:
                raise InvalidInput(f"The widget {widget.get('title') or widget_id!r} has no data to export")
            name = safe_filename(f"{report['title']} - {widget.get('title') or widget['id']}", extension)
            built = self._to_file(lambda handle: layout.write_csv(widget, handle), mimetype, name,
                                  extension)
        else:
            def write(handle):
                if fmt == "xlsx":
                    layout.write_xlsx(report, handle, progress=_scaled(progress, 0.1, 0.95))
                elif fmt == "pptx":
                    stats.update(layout.write_pptx(report, handle, paper, renderer=self.renderer,
                                                   progress=_scaled(progress, 0.1, 0.95)))
                else:
                    layout.write_zip(report, handle)

            built = self._to_file(write, mimetype, safe_filename(report["title"], extension), extension)
            built.stats.update(stats)
        built.stats["seconds"] = round(time.perf_counter() - started, 3)
        built.stats["bytes"] = built.size
        built.stats["tables"] = table_counts(report, fmt, widget_id if fmt == "csv" else None)
        return built

    def _to_file(self, write, mimetype: str, filename: str, extension: str) -> ReportFile:
        path = self.files_dir / f"{uuid.uuid4().hex}.part{extension}"
        try:
            with open(path, "wb") as handle:
                write(handle)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return ReportFile(None, mimetype, filename, {}, path)

    def export(self, principal: Principal, dashboard_id, fmt: str, *, view: dict | None = None, paper="a4",
               orientation="portrait", widget_id=None, timezone="UTC", progress=None) -> ReportFile:
        check_options(fmt, paper, orientation, widget_id)
        report = self.collect(principal, dashboard_id, view, timezone)
        built = self.build(report, fmt, paper, orientation, widget_id, progress)
        self._record_export(principal, report, fmt, widget_id)
        return built

    def export_shared(self, token: str, fmt: str, *, view: dict | None = None, paper="a4", orientation="portrait",
                      widget_id=None, timezone="UTC") -> ReportFile:
        check_options(fmt, paper, orientation, widget_id)
        report = self.collect_shared(token, view, timezone)
        built = self.build(report, fmt, paper, orientation, widget_id)
        self._record_export(None, report, fmt, widget_id, actor="public link")
        return built

    def _record_export(self, principal, report: dict, fmt: str, widget_id=None, **extra) -> None:
        """``report``: a collected report, or a dashboard (both name their id and workspace)."""
        self.audit.record(principal, "dashboard.exported", target_type="dashboard",
                          target_id=report.get("dashboard_id", report.get("id")),
                          target_name=report.get("title", report.get("name")), workspace_id=report.get("workspace_id"),
                          format=fmt, widget=widget_id, **extra)

    def export_profile(self, principal: Principal, dataset_id, fmt: str, *, paper="a4", orientation="portrait",
                       timezone="UTC", profiles=None) -> ReportFile:
        """A dataset's profile through the same renderers (pdf, xlsx, html or zip);
        Conflict while the profile is still being computed."""
        from analytics.reports.profile_report import profile_report
        from storage.errors import Conflict

        if fmt == "csv":
            raise InvalidInput("A profile exports as pdf, xlsx, html or zip")
        check_options(fmt, paper, orientation, None)
        dataset = self.datasets.get(principal, dataset_id)
        profile = profiles.get(principal, dataset.id)
        if profile.get("status") != "ready":
            raise Conflict(f"The profile is still being computed ({round(100 * (profile.get('progress') or 0))} %); "
                           "export it when it is ready" if profile.get("status") == "running" else
                           f"The profile could not be computed: {profile.get('message')}")
        report = profile_report(dataset.name, profile, check_timezone(timezone))
        return self.build(report, fmt, paper, orientation)

    @staticmethod
    def view_from_args(args) -> dict:
        """The dashboard URL's view state from request arguments (filters, xf, tab)."""
        return parse_view_state(args.get("filters"), args.get("xf"), args.get("tab"))

    # --- in the background, for the UI --------------------------------------------------------

    def start_export(self, principal: Principal, dashboard_id, fmt: str, *, view=None, paper="a4",
                     orientation="portrait", timezone="UTC") -> str:
        """A job that renders the report to a file kept for a few hours; its result names
        the file, fetched by ``job_file`` (GET /api/v1/reports/<job id>/file)."""
        if fmt == "csv":
            raise InvalidInput("A CSV export is of one widget: GET /api/v1/dashboards/<id>/export?format=csv&widget=<id>")
        check_options(fmt, paper, orientation, None)
        board = self.dashboards.get(principal, dashboard_id)  # NotFound before a job exists
        self.sweep()

        self._record_export(principal, board, fmt)
        params = {"dashboard_id": board["id"], "view": view, "format": fmt, "paper": paper,
                  "orientation": orientation, "timezone": timezone}
        return self.jobs.start(principal, "report", board["workspace_id"], params, message="Queued")

    def render_export(self, principal: Principal, params: dict, reporter) -> dict:
        """The job (storage/job_kinds.py "report"): render the report to a file of its own
        name, written whole (temp file and rename); run again, it renders again."""
        fmt, paper, orientation = params["format"], params["paper"], params["orientation"]
        reporter(0.02, "Querying the widgets", force=True)
        report = self.collect(principal, params["dashboard_id"], params["view"], params["timezone"])
        reporter.check()
        reporter(0.1, "Laying out the report", force=True)
        built = self.build(report, fmt, paper, orientation, progress=lambda p, m: (reporter.check(), reporter(p, m)))
        name = f"{uuid.uuid4().hex}{layout.FORMATS[fmt][1]}"
        path = self.files_dir / name
        if built.path is not None:
            built.path.replace(path)
        else:
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(built.content)
            tmp.replace(path)
        return {"file": name, "filename": built.filename, "mimetype": built.mimetype, "format": fmt,
                "size": built.stats["bytes"], "stats": built.stats}

    def job_file(self, principal: Principal, job_id) -> tuple[Path, str, str]:
        """(path, mimetype, download name) of a finished export job of this person."""
        job = self.jobs.get(principal, job_id)  # NotFound for anyone else's job
        result = job.get("result") or {}
        if job["kind"] != "report" or job["status"] != "done" or "file" not in result:
            raise NotFound("This report is not ready (or failed); start the export again")
        path = self.files_dir / Path(result["file"]).name
        if not path.is_file():
            raise NotFound("This report file has expired; export again")
        return path, result["mimetype"], result["filename"]

    def sweep(self) -> None:
        """Forget rendered files older than KEEP_FILES."""
        limit = time.time() - KEEP_FILES.total_seconds()
        for path in self.files_dir.glob("*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
            except OSError:
                pass


def report_summary_html(report: dict) -> str:
    """A short HTML summary for an email body: the title, filters and the KPIs."""
    import html as h

    from analytics.reports.content import format_number, generated_text

    rows = []
    for tab in report["tabs"]:
        for widget in tab["widgets"]:
            out = widget.get("output") or {}
            if out.get("kind") == "kpi":
                delta = out.get("delta_pct")
                delta_text = "" if delta is None else f" ({delta:+.1f} %)"
                rows.append(f"<tr><td style='padding:4px 12px 4px 0'>{h.escape(str(out.get('label') or ''))}</td>"
                            f"<td style='padding:4px 0;font-weight:bold;text-align:right'>"
                            f"{h.escape(format_number(out.get('value'), out.get('format')))}{h.escape(delta_text)}</td></tr>")
    filters = "; ".join(f"{f['label']}: {f['value']}" for f in report.get("filters") or [])
    parts = [f"<h2 style='font-family:sans-serif'>{h.escape(report['title'])}</h2>",
             f"<p style='font-family:sans-serif;color:#555'>Generated {h.escape(generated_text(report))}"
             + (f" · Filters: {h.escape(filters)}" if filters else "") + "</p>"]
    if rows:
        parts.append("<table style='font-family:sans-serif;border-collapse:collapse'>" + "".join(rows) + "</table>")
    parts.append("<p style='font-family:sans-serif;color:#555'>The full report is attached.</p>")
    return "".join(parts)
