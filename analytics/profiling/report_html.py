"""The profile as one self-contained HTML file: plotly.js inline, no link to anything
outside the file, so it opens offline and can be mailed or archived."""
from __future__ import annotations

import html
import json
from functools import lru_cache

from analytics.profiling import figures
from analytics.profiling.alerts import ALERT_TYPES
from analytics.profiling.semantic import HINT_LABELS

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f8f9fa;color:#212529}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.2rem;margin:28px 0 12px}h3{font-size:1rem;margin:0}
.muted{color:#6c757d;font-size:.875rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.stat,.card{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:12px}
.stat b{display:block;font-size:1.3rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
.card header{display:flex;justify-content:space-between;align-items:baseline;gap:8px;margin-bottom:8px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:.75rem;background:#e7f1ff;color:#0a58ca;margin-right:4px}
.badge.alert{background:#fff3cd;color:#664d03}
table{border-collapse:collapse;width:100%;font-size:.85rem}td{padding:2px 6px;border-bottom:1px solid #f1f3f5}
td:last-child{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}
ul.alerts{list-style:none;padding:0;margin:0}ul.alerts li{padding:6px 8px;border-bottom:1px solid #eee;background:#fff}
a{color:#0a58ca}
"""


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def anchor(name: str) -> str:
    """The id of a column's card: stable, and safe in HTML and URLs."""
    return "col-" + name.encode("utf-8").hex()


def format_value(value, kind: str | None = None) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def pct(value) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def stat_rows(col: dict) -> list[tuple[str, str]]:
    """The label/value rows of a column's stats table, by kind."""
    rows = [("Count", format_value(col["count"])), ("Missing", f"{format_value(col['missing'])} ({pct(col['missing_share'])})"),
            ("Distinct", format_value(col["distinct"]) + (" (estimated)" if col.get("distinct_estimated") else ""))]
    kind = col["kind"]
    if kind == "numeric":
        for label, key in (("Mean", "mean"), ("Std deviation", "std"), ("Min", "min"), ("5 %", "q05"), ("25 %", "q25"),
                           ("Median", "median"), ("75 %", "q75"), ("95 %", "q95"), ("Max", "max"), ("IQR", "iqr"),
                           ("Skewness", "skewness"), ("Kurtosis", "kurtosis"), ("Sum", "sum"), ("Zeros", "zeros"),
                           ("Negatives", "negatives"), ("Infinite", "infinite")):
            rows.append((label, format_value(col.get(key))))
    elif kind == "text":
        rows += [("Length min / mean / max", (f"{format_value(col.get('length_min'))} / "
                                              f"{format_value(col.get('length_mean'))} / "
                                              f"{format_value(col.get('length_max'))}")),
                 ("Empty strings", format_value(col.get("empty"))), ("Seen once", format_value(col.get("singletons"))),
                 ("Imbalance", format_value(col.get("imbalance")))]
    elif kind == "temporal":
        rows += [("First", format_value(col.get("min"))), ("Last", format_value(col.get("max"))),
                 ("In the future", format_value(col.get("future"))), ("Before 1900", format_value(col.get("before_1900")))]
    elif kind == "boolean":
        rows += [("True", format_value(col.get("true_count"))), ("False", format_value(col.get("false_count")))]
    return rows


def _figure(figure: dict | None, number: list[int]) -> str:
    if not figure:
        return ""
    number[0] += 1
    div = f"fig{number[0]}"
    payload = json.dumps({"data": figure["data"], "layout": figure["layout"]}, separators=(",", ":")).replace("</", "<\\/")
    return (f'<div id="{div}"></div><script>(function(f){{Plotly.newPlot("{div}",f.data,f.layout,'
            f'{{"displaylogo":false,"responsive":true}});}})({payload});</script>')


def render_html(profile: dict, title: str) -> str:
    esc = html.escape
    n = [0]
    table = profile["table"]
    types = ", ".join(f"{count} {kind}" for kind, count in sorted(table["types"].items()))
    overview = [("Rows", format_value(table["rows"])), ("Columns", format_value(table["columns"])),
                ("Missing cells", f"{format_value(table['missing_cells'])} ({pct(table['missing_cells_share'])})"),
                ("Duplicate rows", f"{format_value(table['duplicate_rows'])} ({pct(table['duplicate_rows_share'])})")]
    if table.get("size_bytes") is not None:
        size, unit = float(table["size_bytes"]), "B"
        for unit in ("B", "KB", "MB", "GB"):  # binary units, as the dataset page shows them
            if size < 1024 or unit == "GB":
                break
            size /= 1024
        overview.append(("Size on disk", f"{size:,.1f} {unit}"))
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Profile · {esc(title)}</title>",
             f"<style>{CSS}</style><script>{_plotly_js()}</script></head><body><main>",
             (f"<h1>{esc(title)}</h1><p class='muted'>Profile of version {profile.get('version')}, computed "
              f"{esc(str(profile.get('generated_at', ''))[:19].replace('T', ' '))} UTC. "
              f"Columns by type: {esc(types)}.</p>"),
             "<div class='grid'>" + "".join(f"<div class='stat'><span class='muted'>{esc(k)}</span><b>{esc(v)}</b></div>"
                                            for k, v in overview) + "</div>"]
    for estimate in profile.get("estimates") or []:
        size = f" of {estimate['sample_rows']:,} rows" if estimate.get("sample_rows") else ""
        parts.append(f"<p class='muted'>Estimated: {esc(estimate['what'])} ({esc(estimate['method'])}{size}).</p>")
    parts.append(f"<h2>Alerts ({len(profile['alerts'])})</h2><ul class='alerts'>")
    for alert in profile["alerts"]:
        label = esc(ALERT_TYPES.get(alert["type"], alert["type"]))
        link = f" <a href='#{anchor(alert['column'])}'>{esc(alert['column'])}</a>" if alert.get("column") else ""
        parts.append(f"<li><span class='badge alert'>{label}</span>{esc(alert['message'])}{link}</li>")
    parts.append("</ul><h2>Columns</h2><div class='cards'>")
    for col in profile["columns"]:
        badges = "".join(f"<span class='badge'>{esc(HINT_LABELS.get(h, h))}</span>" for h in col.get("semantic") or [])
        badges += "".join(f"<span class='badge alert'>{esc(ALERT_TYPES.get(a, a))}</span>" for a in col.get("alerts") or [])
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in stat_rows(col))
        extra = _figure(figures.weekday_figure(col), n) + _figure(figures.hour_figure(col), n)
        parts.append(f"<section class='card' id='{anchor(col['name'])}'><header><h3>{esc(col['name'])}</h3>"
                     f"<span class='muted'>{esc(col['type'])}</span></header><div>{badges}</div>"
                     f"<div class='cols'><table>{rows}</table><div>{_figure(figures.column_figure(col), n)}{extra}</div></div>"
                     "</section>")
    parts.append("</div><h2>Correlations</h2>")
    for method, label in figures.METHOD_LABELS.items():
        block = (profile.get("correlations") or {}).get(method)
        figure = figures.heatmap_figure(profile, method)
        if figure:
            note = f" (on a sample of {block['rows_used']:,} rows)" if block.get("sampled") else ""
            parts.append(f"<h3>{esc(label)}{esc(note)}</h3>{_figure(figure, n)}")
    pairs = (profile.get("correlations") or {}).get("top_pairs") or []
    if pairs:
        parts.append("<h3>Strongest pairs</h3><table>" + "".join(
            f"<tr><td>{esc(p['columns'][0])} × {esc(p['columns'][1])} ({esc(figures.METHOD_LABELS[p['method']])})</td>"
            f"<td>{p['value']:.3f}</td></tr>" for p in pairs) + "</table>")
    parts.append("<h2>Missing values</h2>" + _figure(figures.missing_figure(profile), n))
    nullity = figures.nullity_figure(profile)
    if nullity:
        parts.append("<h3>Missing together (correlation of missing values)</h3>" + _figure(nullity, n))
    parts.append("<p class='muted'>Definitions: standard deviation with n − 1; quantiles by linear interpolation; "
                 "skewness and kurtosis bias-corrected as pandas computes them; NaN counts as missing; infinities "
                 "are counted apart and left out of the statistics; empty strings are values.</p></main></body></html>")
    return "".join(parts)
