"""A dataset's profile as a report (the same dict the dashboard reports use), so the PDF,
Excel and HTML renderers lay it out: an overview (size, missing cells, duplicates and the
alerts), the column statistics, the correlations as a heat map, missing values per column
and each numeric column's histogram."""
from __future__ import annotations

import datetime as dt

from analytics.widgets.theme import base_layout

STAT_COLUMNS = [("name", "Column"), ("type", "Type"), ("count", "Values"), ("missing_share", "Missing"),
                ("distinct", "Distinct"), ("min", "Min"), ("max", "Max"), ("mean", "Mean"), ("median", "Median"),
                ("std", "Std dev")]
MAX_HISTOGRAMS = 12


def _kpi(wid: str, title: str, value, fmt: str, x: int) -> dict:
    output = {"kind": "kpi", "value": value, "previous": None, "delta_pct": None, "label": title, "format": fmt,
              "sparkline": None, "title": title}
    data = {"columns": ["Measure", "Value"], "rows": [[title, value]], "note": None}
    return {"id": wid, "title": title, "type": "kpi", "layout": {"x": x, "y": 0, "w": 3, "h": 2}, "output": output,
            "data": data}


def _figure(wid: str, title: str, data: list, layout: dict, y: int, table: dict, w: int = 12, h: int = 5,
            x: int = 0) -> dict:
    return {"id": wid, "title": title, "type": "figure", "layout": {"x": x, "y": y, "w": w, "h": h},
            "output": {"kind": "figure", "figure": {"data": data, "layout": {**base_layout({}), **layout}}, "title": title},
            "data": table}


def profile_report(dataset_name: str, profile: dict, timezone: str = "UTC", now: dt.datetime | None = None) -> dict:
    from zoneinfo import ZoneInfo

    table = profile["table"]
    overview = [
        _kpi("rows", "Rows", table["rows"], ",.0f", 0),
        _kpi("columns", "Columns", table["columns"], ",.0f", 3),
        _kpi("missing", "Missing cells", table["missing_cells_share"], ".1%", 6),
        _kpi("duplicates", "Duplicate rows", table["duplicate_rows"], ",.0f", 9),
    ]
    alerts = profile.get("alerts") or []
    text = ("\n".join(f"- {a['message']}" for a in alerts) if alerts else "Nothing unusual.")
    overview.append({"id": "alerts", "title": "Alerts", "type": "markdown", "layout": {"x": 0, "y": 2, "w": 12, "h": 3},
                     "output": {"kind": "markdown", "text": text, "title": None}, "data": None})
    columns = profile.get("columns") or []
    rows = [[c.get(key) for key, _ in STAT_COLUMNS] for c in columns]
    stats = {"columns": [label for _, label in STAT_COLUMNS], "rows": rows, "note": None}
    column_widgets = [{"id": "stats", "title": "Column statistics", "type": "table", "layout": {"x": 0, "y": 0, "w": 12, "h": 6},
                       "output": {"kind": "table", "columns": stats["columns"], "rows": rows, "total": len(rows),
                                  "title": "Column statistics"}, "data": stats}]
    missing = profile.get("missing") or {}
    if missing.get("columns"):
        column_widgets.append(_figure(
            "missing_chart", "Missing values per column",
            [{"type": "bar", "x": missing["columns"], "y": missing["shares"], "marker": {"color": "#dc3545"}}],
            {"yaxis": {"tickformat": ".0%"}}, 6,
            {"columns": ["Column", "Missing share"], "rows": [list(p) for p in zip(missing["columns"], missing["shares"])],
             "note": None}))
    correlation_widgets = []
    pearson = (profile.get("correlations") or {}).get("pearson") or {}
    if pearson.get("columns"):
        names, matrix = pearson["columns"], pearson["matrix"]
        correlation_widgets.append(_figure(
            "pearson", "Correlation (Pearson)",
            [{"type": "heatmap", "x": names, "y": names, "z": matrix, "zmin": -1, "zmax": 1, "colorscale": "RdBu",
              "reversescale": True}], {}, 0,
            {"columns": ["Column"] + names, "rows": [[n] + list(r) for n, r in zip(names, matrix)], "note": None}, h=6))
    top = (profile.get("correlations") or {}).get("top_pairs") or []
    if top:
        pairs = [[" × ".join(p["columns"]), p["method"], p["value"]] for p in top]
        correlation_widgets.append({"id": "pairs", "title": "Strongest pairs", "type": "table",
                                    "layout": {"x": 0, "y": 6, "w": 12, "h": 4},
                                    "output": {"kind": "table", "columns": ["Columns", "Method", "Value"], "rows": pairs,
                                               "total": len(pairs), "title": "Strongest pairs"},
                                    "data": {"columns": ["Columns", "Method", "Value"], "rows": pairs, "note": None}})
    histograms = []
    for column in columns:
        hist = column.get("histogram")
        if not isinstance(hist, dict) or not hist.get("counts") or len(histograms) >= MAX_HISTOGRAMS:
            continue
        edges = hist.get("edges") or hist.get("bins") or []
        counts = hist["counts"]
        if len(edges) != len(counts) + 1:
            continue
        mids = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
        i = len(histograms)
        histograms.append(_figure(
            f"hist_{i}", column["name"], [{"type": "bar", "x": mids, "y": counts, "marker": {"color": "#0d6efd"}}],
            {"bargap": 0.02}, (i // 2) * 4,
            {"columns": ["From", "To", "Rows"], "rows": [[edges[j], edges[j + 1], counts[j]] for j in range(len(counts))],
             "note": None}, w=6, h=4, x=(i % 2) * 6))
    tabs = [{"id": "overview", "title": "Overview", "widgets": overview},
            {"id": "columns", "title": "Columns", "widgets": column_widgets}]
    if correlation_widgets:
        tabs.append({"id": "correlations", "title": "Correlations", "widgets": correlation_widgets})
    if histograms:
        tabs.append({"id": "distributions", "title": "Distributions", "widgets": histograms})
    generated = (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(timezone))
    return {"title": f"Profile of {dataset_name}",
            "description": f"Profiled {profile.get('generated_at', '')[:16].replace('T', ' ')} UTC "
                           f"(version {profile.get('version')})",
            "filters": [], "generated_at": generated, "timezone": timezone, "tabs": tabs}
