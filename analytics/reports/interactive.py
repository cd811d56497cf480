"""A self-contained interactive HTML report: one file with plotly.js inline (no CDN), each
chart live (hover, zoom), KPIs, tables and markdown; it opens offline. A table shows the
rows the report carries (up to a widget query's row cap, 10,000) and, when it has more,
says how many and which file holds them all."""
from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

from analytics.reports.content import by_layout, cell_texts, format_number, generated_text, markdown_html, table_note
from analytics.reports.fetching import offline_figure

CSS = """
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0; background: #f8f9fa; color: #212529; }
header { background: white; padding: 1.5rem 2rem; border-bottom: 1px solid #dee2e6; }
header h1 { margin: 0 0 .5rem 0; font-size: 1.6rem; }
header .meta { color: #6c757d; font-size: .9rem; }
main { padding: 1rem 2rem; }
section h2 { font-size: 1.2rem; border-bottom: 1px solid #dee2e6; padding-bottom: .3rem; }
.grid { display: grid; grid-template-columns: repeat(12, 1fr); gap: .8rem; margin-bottom: .8rem; }
.widget { background: white; border: 1px solid #dee2e6; border-radius: .4rem; padding: .6rem; overflow: auto; }
.widget h3 { font-size: 1rem; margin: 0 0 .4rem 0; }
.kpi .value { font-size: 2rem; font-weight: bold; }
.kpi .label { color: #6c757d; }
.up { color: #198754; } .down { color: #dc3545; } .error { color: #dc3545; }
table { border-collapse: collapse; width: 100%; font-size: .8rem; }
th { background: #f1f3f5; text-align: left; position: sticky; top: 0; }
th, td { padding: .2rem .4rem; border-bottom: 1px solid #e9ecef; }
td.num { text-align: right; }
.table-wrap { max-height: 480px; overflow: auto; }
.note { color: #6c757d; font-size: .8rem; }
"""


TOPOJSON = Path(__file__).resolve().parents[2] / "assets" / "vendor-topojson" / "world_110m.json"


@lru_cache(maxsize=1)
def _geo_assets() -> str:
    """Country shapes inline for maps: plotly.js reads window.PlotlyGeoAssets before it
    would fetch them from its CDN, so maps draw offline too."""
    return "window.PlotlyGeoAssets = {topojson: {world_110m: " + TOPOJSON.read_text() + "}};"


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _esc(text) -> str:
    return html.escape("" if text is None else str(text))


def _script_json(value) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, default=str).replace("</", "<\\/").replace("<!--", "<\\!--")


def _widget(widget: dict, index: int, scripts: list) -> str:
    output = widget.get("output") or {}
    layout = widget.get("layout") or {}
    span = min(12, max(1, int(layout.get("w", 6))))
    title = widget.get("title") or output.get("title")
    heading = f"<h3>{_esc(title)}</h3>" if title else ""
    if "error" in output:
        body = f'<div class="error">{_esc(output["error"])}</div>'
    elif output.get("kind") == "figure":
        div_id = f"chart-{index}"
        height = max(220, int(layout.get("h", 4)) * 70 - 50)
        body = f'<div id="{div_id}" style="height:{height}px"></div>'
        figure = offline_figure(output["figure"])  # the reader's browser would fetch what it names
        scripts.append(f"Plotly.newPlot({json.dumps(div_id)}, {_script_json(figure.get('data') or [])}, "
                       f"{_script_json({**(figure.get('layout') or {}), 'autosize': True})}, "
                       "{responsive: true, displaylogo: false});")
    elif output.get("kind") == "kpi":
        fmt = output.get("format")
        delta = output.get("delta_pct")
        delta_html = ""
        if delta is not None:
            delta_html = (f'<div class="{"up" if delta >= 0 else "down"}">{delta:+.1f} % vs '
                          f'{_esc(format_number(output.get("previous"), fmt))}</div>')
        body = (f'<div class="kpi"><div class="value">{_esc(format_number(output.get("value"), fmt))}</div>'
                f'{delta_html}<div class="label">{_esc(output.get("label"))}</div></div>')
    elif output.get("kind") == "table":
        data = widget.get("data") or {"columns": output.get("columns") or [], "rows": output.get("rows") or []}
        head = "".join(f"<th>{_esc(c)}</th>" for c in data["columns"])
        texts = cell_texts(data["columns"], data["rows"], data.get("formats") or output.get("formats"))
        rows = "".join("<tr>" + "".join(
            f'<td class="num">{_esc(t)}</td>' if isinstance(v, (int, float)) and not isinstance(v, bool)
            else f"<td>{_esc(t)}</td>" for v, t in zip(row, text_row)) + "</tr>"
            for row, text_row in zip(data["rows"], texts))
        text = table_note(data, len(data["rows"]), "on this page")
        note = f'<div class="note">{_esc(text)}</div>' if text else ""
        body = f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{note}'
    elif output.get("kind") == "markdown":
        body = f'<div class="markdown">{markdown_html(output.get("text") or "")}</div>'
    else:
        body = ""
    return f'<div class="widget" style="grid-column: span {span}">{heading}{body}</div>'


def render_html(report: dict) -> bytes:
    title = report.get("title") or "Report"
    filters = "; ".join(f"{f['label']}: {f['value']}" for f in report.get("filters") or []) or "none"
    scripts: list[str] = []
    sections = []
    index = 0
    for tab in report["tabs"]:
        rows = []
        for row in by_layout(tab["widgets"]):
            cells = []
            for widget in row:
                cells.append(_widget(widget, index, scripts))
                index += 1
            rows.append('<div class="grid">' + "".join(cells) + "</div>")
        sections.append(f"<section><h2>{_esc(tab['title'])}</h2>{''.join(rows)}</section>")
    has_map = any(((w.get("output") or {}).get("figure") or {}).get("layout", {}).get("geo") is not None
                  for t in report["tabs"] for w in t["widgets"])
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<style>{CSS}</style><script>{_plotly_js()}</script>"
        + (f"<script>{_geo_assets()}</script>" if has_map else "")
        + "</head><body>"
        f"<header><h1>{_esc(title)}</h1>"
        + (f"<p>{_esc(report.get('description'))}</p>" if report.get("description") else "")
        + f"<div class='meta'>Filters: {_esc(filters)} · Generated {_esc(generated_text(report))}</div></header>"
        f"<main>{''.join(sections)}</main>"
        f"<script>{''.join(scripts)}</script></body></html>"
    )
    return page.encode("utf-8")
