"""Plotly figures of a profile, as plain dicts (aggregates only: a few dozen points
each), shared by the Profile tab and the HTML download."""
from __future__ import annotations

from analytics.widgets.theme import COLORWAY, TEMPLATE

BLUE = COLORWAY[0]
DIVERGING = [[0.0, "#b02a37"], [0.5, "#f8f9fa"], [1.0, "#0a58ca"]]
SEQUENTIAL = [[0.0, "#f8f9fa"], [1.0, "#0a58ca"]]
METHOD_LABELS = {"pearson": "Pearson r", "spearman": "Spearman ρ", "cramers_v": "Cramér's V"}


def _layout(height: int, **extra) -> dict:
    layout = {"template": TEMPLATE, "height": height, "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
              "showlegend": False, "bargap": 0.05}
    layout.update(extra)
    return layout


def _short(value, limit: int = 28) -> str:
    text = "(empty)" if value == "" else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


LOG_SCALE_RATIO = 100


def needs_log_scale(counts: list[int]) -> bool:
    """A number histogram whose tallest bar is over LOG_SCALE_RATIO times its shortest
    non-empty one (skewed data: prices, quantities) is drawn on a log axis, so that the tail is
    seen at all rather than as bars one pixel high."""
    filled = [c for c in counts if c > 0]
    return len(filled) > 1 and max(filled) > LOG_SCALE_RATIO * min(filled)


def column_figure(col: dict) -> dict | None:
    """A histogram for numbers and dates, a bar of the top values otherwise."""
    histogram = col.get("histogram")
    if histogram and col["kind"] in ("numeric", "temporal") and sum(histogram["counts"]):
        edges, counts = histogram["edges"], histogram["counts"]
        if col["kind"] == "numeric":
            centers = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
            widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
            trace = {"type": "bar", "x": centers, "y": counts, "width": widths, "marker": {"color": BLUE},
                     "hovertemplate": "%{x}<br>%{y:,} rows<extra></extra>"}
        else:
            trace = {"type": "bar", "x": edges[:-1], "y": counts, "marker": {"color": BLUE}, "offset": 0,
                     "hovertemplate": "from %{x}<br>%{y:,} rows<extra></extra>"}
        yaxis = {"title": None}
        if col["kind"] == "numeric" and needs_log_scale(counts):  # over time, a quiet day is no tail
            yaxis = {"type": "log", "title": {"text": "rows (log)", "font": {"size": 10}}}
        return {"data": [trace], "layout": _layout(170, yaxis=yaxis, xaxis={"title": None})}
    top = col.get("top_values") or []
    if not top:
        return None
    labels = [_short(t["value"]) for t in reversed(top)]
    return {"data": [{"type": "bar", "orientation": "h", "y": labels, "x": [t["count"] for t in reversed(top)],
                      "marker": {"color": BLUE}, "hovertemplate": "%{y}: %{x:,} rows<extra></extra>"}],
            "layout": _layout(max(120, 22 * len(top) + 30), yaxis={"type": "category"})}


def weekday_figure(col: dict) -> dict | None:
    counts = col.get("weekday_counts")
    if not counts:
        return None
    return {"data": [{"type": "bar", "x": list(counts), "y": list(counts.values()), "marker": {"color": COLORWAY[1]},
                      "hovertemplate": "%{x}: %{y:,} rows<extra></extra>"}], "layout": _layout(130)}


def hour_figure(col: dict) -> dict | None:
    counts = col.get("hour_counts")
    if not counts:
        return None
    return {"data": [{"type": "bar", "x": list(range(24)), "y": counts, "marker": {"color": COLORWAY[2]},
                      "hovertemplate": "%{x}:00: %{y:,} rows<extra></extra>"}],
            "layout": _layout(130, xaxis={"dtick": 3})}


def heatmap_figure(profile: dict, method: str = "pearson") -> dict | None:
    block = (profile.get("correlations") or {}).get(method)
    if not block or len(block["columns"]) < 2:
        return None
    names = block["columns"]
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in block["matrix"]]
    low = 0.0 if method == "cramers_v" else -1.0
    size = max(260, min(640, 36 * len(names) + 120))
    return {"data": [{"type": "heatmap", "z": block["matrix"], "x": names, "y": names, "zmin": low, "zmax": 1.0,
                      "colorscale": SEQUENTIAL if method == "cramers_v" else DIVERGING, "text": text,
                      "texttemplate": "%{text}" if len(names) <= 14 else None, "hoverongaps": False,
                      "hovertemplate": "%{y} × %{x}: %{z:.3f}<extra>" + METHOD_LABELS[method] + "</extra>"}],
            "layout": _layout(size, yaxis={"autorange": "reversed", "type": "category"},
                              xaxis={"type": "category", "tickangle": -45})}


def missing_figure(profile: dict) -> dict | None:
    missing = profile.get("missing") or {}
    names, shares = missing.get("columns") or [], missing.get("shares") or []
    if not names:
        return None
    return {"data": [{"type": "bar", "x": names, "y": [s or 0 for s in shares], "marker": {"color": COLORWAY[7]},
                      "hovertemplate": "%{x}: %{y:.1%} missing<extra></extra>"}],
            "layout": _layout(220, yaxis={"tickformat": ".0%", "range": [0, 1]},
                              xaxis={"type": "category", "tickangle": -45})}


def nullity_figure(profile: dict) -> dict | None:
    block = (profile.get("missing") or {}).get("nullity_correlation")
    if not block or len(block["columns"]) < 2:
        return None
    return heatmap_figure({"correlations": {"pearson": block}}, "pearson")
