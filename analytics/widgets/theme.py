"""The one look every widget figure shares. A small explicit template rather than plotly's
default one: the default is embedded in every figure's JSON (about 10 KB each), and a
dashboard's payload should be its data."""
from __future__ import annotations

from analytics.widgets.base import D3_FORMATS

# Bootstrap 5.3's palette first, then colour-blind-safe fillers.
COLORWAY = ["#0d6efd", "#fd7e14", "#198754", "#d63384", "#6f42c1", "#20c997", "#ffc107", "#dc3545",
            "#0dcaf0", "#6c757d", "#8c564b", "#17becf"]

TEMPLATE = {
    "layout": {
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12, "color": "#212529"},
        "colorway": COLORWAY,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"gridcolor": "#e9ecef", "zerolinecolor": "#dee2e6", "automargin": True},
        "yaxis": {"gridcolor": "#e9ecef", "zerolinecolor": "#dee2e6", "automargin": True},
        "hoverlabel": {"namelength": -1},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    }
}

SEQUENTIAL = [[0, "#e7f0ff"], [0.5, "#6ea8fe"], [1, "#052c65"]]


def base_layout(spec: dict, **extra) -> dict:
    """The layout every figure starts from: the template, tight margins (the card shows the
    title), and clicks that select a point so the UI can cross-filter on it."""
    layout = {
        "template": TEMPLATE,
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "autosize": True,
        "clickmode": "event+select",
        "hovermode": "closest",
        "showlegend": bool(extra.pop("showlegend", False)),
    }
    fmt = D3_FORMATS.get(spec.get("number_format") or "auto", "")
    layout.update(extra)
    if fmt:
        layout.setdefault("yaxis", {})
        layout["yaxis"] = {**layout["yaxis"], "tickformat": fmt}
    return layout


def _warm_up() -> None:
    """Plotly loads its validators on the first figure (about 0.2 s); pay that when the
    registry is imported at start-up rather than on someone's first widget."""
    import plotly.graph_objects as go

    go.Figure(data=[{"type": "scatter", "x": [0], "y": [0]}], layout=base_layout({})).to_plotly_json()


_warm_up()
