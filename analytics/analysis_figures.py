"""Figures and tables of analysis results (the JSON of ``storage.analyses``), shared by
the Analyze tabs (``components/analyze_*.py``) and the dashboard's analysis widget
(``analytics/widgets/analysis.py``), so a result looks the same in both places.

Pure: a result dict in, a plotly ``go.Figure`` (or a plain table) out; no Dash, no ids.
"""
from __future__ import annotations

import plotly.graph_objects as go

# History shown before the holdout: enough for a season's shape, small for the browser.
HISTORY_SHOWN = 400
# Cluster colours, in cluster id order (the tab's cards and the map use the same ones).
CLUSTER_PALETTE = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#6c757d",
                   "#0dcaf0", "#ffc107"]


def cluster_colors(k: int) -> list[str]:
    return [CLUSTER_PALETTE[i % len(CLUSTER_PALETTE)] for i in range(k)]


def _pct(value) -> str:
    return "–" if value is None else f"{value:,.1f} %"


def _num(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


# --- time series -------------------------------------------------------------------------


def forecast_figure(result: dict) -> go.Figure:
    """History, the holdout forecast and the future forecast with their prediction
    intervals, and the seasonal-naive baseline over the holdout."""
    level = round(result["interval"] * 100)
    history = result["history"][-(HISTORY_SHOWN + len(result["holdout_forecast"])):]
    held, future = result["holdout_forecast"], result["forecast"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[p["date"] for p in history], y=[p["value"] for p in history], name="Actual",
                             mode="lines", line={"color": "#495057", "width": 1.5}))
    for rows, name, color, fill in ((held, "Holdout forecast", "#d63384", "rgba(214,51,132,0.15)"),
                                    (future, "Forecast", "#0d6efd", "rgba(13,110,253,0.15)")):
        dates = [r["date"] for r in rows]
        fig.add_trace(go.Scatter(x=dates + dates[::-1], y=[r["high"] for r in rows] + [r["low"] for r in rows][::-1],
                                 fill="toself", fillcolor=fill, line={"width": 0}, hoverinfo="skip",
                                 name=f"{level} % interval", showlegend=name == "Forecast"))
        fig.add_trace(go.Scatter(x=dates, y=[r["value"] for r in rows], name=name, mode="lines",
                                 line={"color": color, "width": 2}))
    fig.add_trace(go.Scatter(x=[r["date"] for r in held], y=[r["baseline"] for r in held], name="Seasonal naive",
                             mode="lines", line={"color": "#fd7e14", "width": 1, "dash": "dot"}))
    if held:
        fig.add_vrect(x0=held[0]["date"], x1=held[-1]["date"], fillcolor="rgba(0,0,0,0.04)", line_width=0,
                      annotation_text="holdout", annotation_position="top left")
    fig.update_layout(title=f"{result['agg']} per {result['grain']}: forecast by {result['model_label']}",
                      legend={"orientation": "h", "y": -0.15})
    return fig


def forecast_error_line(result: dict) -> str:
    """The holdout error beside the baseline's, in one line (a widget's title or note)."""
    holdout, baseline = result["holdout"], result["baseline"]
    return (f"Holdout MAPE {_pct(holdout['mape'])} (seasonal naive {_pct(baseline['mape'])}); "
            f"MAE {_num(holdout['mae'])}, RMSE {_num(holdout['rmse'])} over {holdout.get('periods', '?')} periods")


# --- funnels and journeys -------------------------------------------------------------------


def funnel_figure(result: dict) -> go.Figure:
    steps = result["steps"]
    fig = go.Figure(go.Funnel(y=[s["name"] for s in steps], x=[s["entities"] for s in steps],
                              textinfo="value+percent initial", marker={"color": "#0d6efd"}))
    fig.update_layout(title="Entities reaching each step")
    return fig


def sankey_figure(result: dict) -> go.Figure:
    """Nodes are (position, event); a link carries the entities going from one to the next."""
    nodes: dict[tuple, int] = {}

    def node(position, name):
        return nodes.setdefault((position, name), len(nodes))

    sources, targets, values = [], [], []
    for link in result["links"]:
        if link["target"] == "(end)":
            continue  # the end of a journey is where its band stops
        sources.append(node(link["position"], link["source"]))
        targets.append(node(link["position"] + 1, link["target"]))
        values.append(link["entities"])
    labels = [f"{name}" for (_position, name) in nodes]
    fig = go.Figure(go.Sankey(node={"label": labels, "pad": 12, "thickness": 14},
                              link={"source": sources, "target": targets, "value": values}))
    fig.update_layout(title=f"Journeys of {result['entities']:,} entities, first {result['depth']} steps")
    return fig


def retention_figure(result: dict) -> go.Figure:
    """Cohorts (rows) by periods since joining (columns): the share still active, in %."""
    cohorts = result["cohorts"]
    width = max((len(c["retention"]) for c in cohorts), default=0)
    z = [[c["retention"][k] * 100 if k < len(c["retention"]) else None for k in range(width)] for c in cohorts]
    labels = [f"{c['cohort']} ({c['size']:,})" for c in cohorts]
    heat = go.Figure(go.Heatmap(z=z, x=[str(k) for k in range(width)], y=labels, colorscale="Blues", zmin=0, zmax=100,
                                text=[[f"{v:.0f}%" if v is not None else "" for v in row] for row in z],
                                texttemplate="%{text}", hovertemplate="%{y}, +%{x}: %{z:.1f}%<extra></extra>"))
    heat.update_layout(title=f"Share of each cohort active, by {result['grain']}s since joining",
                       yaxis={"autorange": "reversed"}, xaxis_title=f"{result['grain']}s since joining")
    return heat


def lifecycle_figure(result: dict) -> go.Figure:
    life = result["lifecycle"]
    periods = [str(p["period"]) for p in life]
    bars = go.Figure()
    for key, color, sign in (("new", "#198754", 1), ("retained", "#0d6efd", 1), ("resurrected", "#6f42c1", 1),
                             ("churned", "#dc3545", -1)):
        bars.add_trace(go.Bar(x=periods, y=[sign * p[key] for p in life], name=key, marker_color=color))
    bars.update_layout(barmode="relative", title=f"Lifecycle per {result['grain']}", legend={"orientation": "h"})
    return bars


# --- customer segments ----------------------------------------------------------------------


def rfm_segments_figure(result: dict) -> go.Figure:
    """Customers per named segment, largest share labelled."""
    segments = result["segments"]
    bars = go.Figure(go.Bar(y=[s["name"] for s in segments][::-1], x=[s["customers"] for s in segments][::-1],
                            orientation="h", marker_color="#0d6efd",
                            text=[f"{s['share'] * 100:.1f} %" for s in segments][::-1], textposition="auto"))
    bars.update_layout(title="Customers per segment")
    return bars


def rfm_treemap_figure(result: dict) -> go.Figure:
    """The segments as areas sized by customers (hover: revenue and its share)."""
    segments = [s for s in result["segments"] if s["customers"]]
    fig = go.Figure(go.Treemap(
        labels=[s["name"] for s in segments], parents=[""] * len(segments), values=[s["customers"] for s in segments],
        customdata=[[s["revenue"], (s["revenue_share"] or 0) * 100] for s in segments],
        texttemplate="%{label}<br>%{value:,} customers<br>%{percentRoot:.1%}",
        hovertemplate="%{label}: %{value:,} customers<br>revenue %{customdata[0]:,.2f} "
                      "(%{customdata[1]:.1f} %)<extra></extra>"))
    fig.update_layout(title="RFM segments by customers")
    return fig


def rfm_grid_figure(result: dict) -> go.Figure:
    grid = {(g["r"], g["f"]): g["customers"] for g in result["grid"]}
    heat = go.Figure(go.Heatmap(z=[[grid.get((r, f), 0) for f in range(1, 6)] for r in range(1, 6)],
                                x=[str(f) for f in range(1, 6)], y=[str(r) for r in range(1, 6)], colorscale="Blues",
                                texttemplate="%{z}", hovertemplate="R %{y}, F %{x}: %{z}<extra></extra>"))
    heat.update_layout(title="Customers by recency (R) and frequency (F) score", xaxis_title="F score",
                       yaxis_title="R score")
    return heat


def clv_segments_figure(result: dict) -> go.Figure:
    by_segment = result["by_segment"]
    fig = go.Figure([
        go.Bar(x=[s["name"] for s in by_segment], y=[s["historic"] for s in by_segment], name="Mean historic CLV"),
        go.Bar(x=[s["name"] for s in by_segment], y=[s["predicted"] for s in by_segment],
               name=f"Mean predicted CLV ({result['clv_months']} months)"),
    ])
    fig.update_layout(title="Customer lifetime value by segment", barmode="group", legend={"orientation": "h"})
    return fig


def top_customers_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """The top-customers table of RFM and CLV: (header, rows) of plain values."""
    header = ["Customer", "Segment", "Recency (days)", "Frequency", "Monetary", "RFM", "Predicted CLV"]
    body = [[str(r["customer"]), r["segment"], r["recency"], r["frequency"], r["monetary"],
             f"{r['r_score']}{r['f_score']}{r['m_score']}", r["predicted_clv"]] for r in rows]
    return header, body


# --- clustering ---------------------------------------------------------------------------


def pca_figure(result: dict) -> go.Figure | None:
    """The rows on the first two principal components, coloured by cluster, with the
    centroids; None when the result has no PCA map (one feature)."""
    pca = result.get("pca")
    if not pca:
        return None
    k = result["k"]
    colors = cluster_colors(k)
    scatter = go.Figure()
    for cid in range(k):
        xs = [x for x, c in zip(pca["x"], pca["cluster"]) if c == cid]
        ys = [y for y, c in zip(pca["y"], pca["cluster"]) if c == cid]
        scatter.add_trace(go.Scattergl(x=xs, y=ys, mode="markers", name=f"Cluster {cid}",
                                       marker={"size": 5, "opacity": 0.7, "color": colors[cid]}))
    scatter.add_trace(go.Scatter(x=pca["centroids"]["x"], y=pca["centroids"]["y"], mode="markers",
                                 name="centroids", marker={"symbol": "x", "size": 12, "color": "black"}))
    ev = pca["explained_variance"]
    scatter.update_layout(title=f"PCA map ({len(pca['x']):,} points)", xaxis_title=f"PC1 ({ev[0]:.0%})",
                          yaxis_title=f"PC2 ({ev[1]:.0%})")
    return scatter


def cluster_sizes_figure(result: dict) -> go.Figure:
    clusters = result["clusters"]
    colors = cluster_colors(result["k"])
    fig = go.Figure(go.Bar(x=[f"Cluster {c['id']}" for c in clusters], y=[c["size"] for c in clusters],
                           marker_color=[colors[c["id"]] for c in clusters],
                           text=[f"{c['share']:.0%}" for c in clusters], textposition="auto",
                           hovertext=[c["description"] for c in clusters], hoverinfo="text"))
    fig.update_layout(title=f"Rows per cluster (k = {result['k']}, silhouette {result['silhouette']:.3f})")
    return fig


# --- regression, correlation, statistics ---------------------------------------------------


def coefficients_table(result: dict) -> tuple[list[str], list[list]]:
    logistic = result["model"] == "logistic"
    header = ["Term", "Estimate", "Std error", "z" if logistic else "t", "p", "95 % CI low", "95 % CI high"]
    if logistic:
        header += ["Odds ratio"]
    rows = []
    for c in result["coefficients"]:
        row = [c["term"], c["estimate"], c["std_error"], c["t"], c["p"], c["ci_low"], c["ci_high"]]
        if logistic:
            row.append(c.get("odds_ratio"))
        rows.append(row)
    return header, rows


def regression_summary(result: dict) -> str:
    if result["model"] == "logistic":
        return f"Logistic regression, n = {result['n']:,}, pseudo R² {result['r2']:.4f}"
    return f"OLS, n = {result['n']:,}, R² {result['r2']:.4f}, adjusted R² {result['adj_r2']:.4f}"


def correlation_figure(result: dict) -> go.Figure:
    cols = result["columns"]
    matrix = result["matrix"]
    text = [[f"{v:.2f}" if v is not None else "" for v in row] for row in matrix]
    heat = go.Figure(go.Heatmap(z=matrix, x=cols, y=cols, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
                                text=text, texttemplate="%{text}", hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>"))
    heat.update_layout(title=f"{result['method'].capitalize()} correlation")
    heat.update_yaxes(autorange="reversed")
    return heat


def correlation_pairs_table(result: dict) -> tuple[list[str], list[list]]:
    return ["Pair", "r", "p", "n"], [[f"{p['a']} × {p['b']}", p["r"], p["p"], p["n"]] for p in result["pairs"]]


MAX_STATS_ROWS = 500


def stats_table(result: dict) -> tuple[list[str], list[list]]:
    """Descriptive statistics (numeric and other columns in one table), the pivot, or the
    test's groups (or contingency table), as (header, rows) of plain values."""
    analysis = result.get("analysis")
    if analysis == "pivot":
        corner = f"{result['rows']} \\ {result['columns']}" if result.get("columns") else result["rows"]
        rows = [[label if label is not None else "(missing)", *line]
                for label, line in zip(result["row_labels"], result["cells"])]
        return [corner, *map(str, result["column_labels"])], rows[:MAX_STATS_ROWS]
    if analysis == "test":
        if result.get("groups"):
            return (["Group", "n", "Mean", "Std dev", "Median"],
                    [[g["name"], g["n"], g["mean"], g["std"], g["median"]] for g in result["groups"]])
        table = result.get("table") or {"rows": [], "columns": [], "counts": []}
        return ([f"{result['column']} \\ {result['group']}", *table["columns"]],
                [[level, *line] for level, line in zip(table["rows"], table["counts"])])
    groups = result["group_by"]
    header = [*groups, "Column", "Count", "Missing", "Mean", "Std dev", "Min", "25 %", "Median", "75 %", "Max",
              "Distinct", "Most frequent"]
    rows = []
    for r in result["rows"][:MAX_STATS_ROWS]:
        keys = [r["group"].get(g) or "(missing)" for g in groups]
        if "mean" in r:
            rows.append([*keys, r["column"], r["count"], r["missing"], r["mean"], r["std"], r["min"], r["q1"],
                         r["median"], r["q3"], r["max"], None, None])
        else:
            rows.append([*keys, r["column"], r["count"], r["missing"], None, None, None, None, None, None, None,
                         r.get("distinct_values"), r.get("top")])
    return header, rows


def stats_summary(result: dict) -> str | None:
    if result.get("analysis") == "test":
        p = result.get("p")
        return f"{result['test']}: statistic {result['statistic']:.4g}, p = {p:.4g}" if p is not None else result["test"]
    if result.get("analysis") == "pivot":
        value = f"{result['agg']} of {result['values']}" if result.get("values") else "count of rows"
        return f"Each cell: {value}"
    return None
