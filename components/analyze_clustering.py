"""The Clustering tab: its form, the clusters with their descriptions, profiles, PCA map
and outliers, and the panel that saves the labels as a new dataset version."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from analytics.analysis_figures import cluster_colors, pca_figure
from components.analyze_common import (
    field,
    fmt,
    graph,
    job_panel,
    metric,
    sample_note,
    simple_table,
)


def layout():
    return html.Div(
        [
            dbc.Row(
                [
                    field("Features", dcc.Dropdown(id="clu-features", multi=True, placeholder="Columns to group by"),
                          width=6),
                    field("Number of clusters", dbc.Input(id="clu-k", type="number", min=2, max=50, step=1,
                                                          placeholder="Automatic"),
                          "Leave empty to choose k by silhouette.", width=2),
                    field("k from", dbc.Input(id="clu-k-low", type="number", min=2, max=20, step=1, value=2), width=1),
                    field("to", dbc.Input(id="clu-k-high", type="number", min=2, max=20, step=1, value=10), width=1),
                    field("Seed", dbc.Input(id="clu-seed", type="number", min=0, step=1, value=0), width=2),
                ]
            ),
            job_panel("clu", run_label="Cluster"),
            html.Div(
                [
                    html.H3("Save the labels", className="h6"),
                    html.P("Writes the dataset again with a column holding each row's cluster, as a new version "
                           "(earlier versions are kept). Needs the editor role.", className="small text-body-secondary"),
                    dbc.Row(field("Column name", dbc.Input(id="clu-label-name", value="cluster"), width=3)),
                    job_panel("clu-save", run_label="Save labels as a new version"),
                ],
                id="clu-save-area", className="border-top pt-3 mt-3", style={"display": "none"},
            ),
        ]
    )


def render(result: dict):
    k = result["k"]
    colors = cluster_colors(k)
    parts = [
        sample_note(result),
        *[dbc.Alert(w, color="warning", className="py-2 small") for w in result.get("warnings") or []],
        dbc.Row([
            metric("Clusters (k)", str(k), "clu-k-chosen"),
            metric("Silhouette", fmt(result["silhouette"]), "clu-silhouette"),
            metric("Davies-Bouldin", fmt(result["davies_bouldin"])),
            metric("Calinski-Harabasz", fmt(result["calinski_harabasz"])),
            metric("Rows clustered", fmt(result["sample_size"])),
        ]),
        html.P(("k chosen by the highest silhouette over k = {}..{}".format(*result["k_range"])
                if result["k_chosen_by"] == "silhouette" else "k as given")
               + (f"; silhouette on a random sample of {result['silhouette_sample']:,} rows"
                  if result["silhouette_sample"] < result["sample_size"] else "")
               + ". Higher silhouette and Calinski-Harabasz, lower Davies-Bouldin mean better separated clusters.",
               className="small text-body-secondary"),
        html.Div([dbc.Card(dbc.CardBody([
            html.Div([html.Span(f"Cluster {c['id']}", className="badge me-2",
                                style={"backgroundColor": colors[c["id"]]}),
                      html.Span(f"{c['size']:,} rows ({c['share']:.0%})", className="small text-body-secondary")]),
            html.P(c["description"], className="mb-0 mt-1 small clu-description"),
        ]), className="mb-2") for c in result["clusters"]], id="clu-descriptions"),
    ]
    figures = []
    if result["silhouette_by_k"]:
        ks = [s["k"] for s in result["silhouette_by_k"]]
        by_k = go.Figure([
            go.Scatter(x=ks, y=[s["silhouette"] for s in result["silhouette_by_k"]], mode="lines+markers",
                       name="silhouette"),
            go.Scatter(x=ks, y=[s["inertia"] for s in result["silhouette_by_k"]], mode="lines", yaxis="y2",
                       name="inertia (elbow)", line={"dash": "dot", "color": "grey"}),
        ])
        by_k.update_layout(title="Silhouette (and inertia) by k", xaxis_title="k", yaxis_title="Silhouette",
                           yaxis2={"title": "Inertia", "overlaying": "y", "side": "right", "showgrid": False},
                           legend={"orientation": "h", "y": -0.25})
        figures.append(dbc.Col(graph(by_k, "clu-silhouette-by-k", 320), md=6))
    scatter = pca_figure(result)  # shared with the dashboard's analysis widget
    if scatter is not None:
        figures.append(dbc.Col(graph(scatter, "clu-pca", 320), md=6))
    parts.append(dbc.Row(figures))
    parts.append(_profile_table(result))
    outliers = result["outliers"]
    parts.append(html.H3("Outliers", className="h6"))
    parts.append(html.P(f"{outliers['count']:,} row(s) lie {outliers['rule']}.", className="small text-body-secondary"))
    if outliers["top"]:
        names = result["features"]
        rows = [[f"{o['cluster']}", fmt(o["distance"]), *(fmt(o["values"].get(n)) for n in names)]
                for o in outliers["top"][:10]]
        parts.append(simple_table(["Cluster", "Distance", *names], rows, "clu-outliers"))
    parts.append(html.Details([html.Summary("How the features were prepared", className="small"),
                               html.Ul([html.Li(line) for line in result["preparation"]], className="small")]))
    return html.Div(parts)


def _profile_table(result):
    clusters = result["clusters"]
    numeric = list(clusters[0]["profile"]["numeric"]) if clusters else []
    categorical = list(clusters[0]["profile"]["categorical"]) if clusters else []
    header = ["Feature", "Overall", *[f"Cluster {c['id']}" for c in clusters]]
    rows = []
    for name in numeric:
        overall = clusters[0]["profile"]["numeric"][name]["overall_mean"]
        rows.append([f"{name} (mean)", fmt(overall),
                     *[_cell(c["profile"]["numeric"][name]["mean"], c["profile"]["numeric"][name]["z"]) for c in clusters]])
    for name in categorical:
        cells = []
        for c in clusters:
            top = c["profile"]["categorical"][name]["top"]
            cells.append(f"{top[0]['level']} ({top[0]['share']:.0%})" if top else "–")
        rows.append([f"{name} (top)", "", *cells])
    return html.Div([html.H3("Profiles", className="h6 mt-2"),
                     html.P("Means per cluster against the whole; ▲/▼ marks half a standard deviation or more "
                            "above/below.", className="small text-body-secondary"),
                     simple_table(header, rows, "clu-profiles")])


def _cell(value, z):
    mark = " ▲" if z >= 0.5 else " ▼" if z <= -0.5 else ""
    return f"{fmt(value)}{mark}"


def render_saved(result: dict):
    return dbc.Alert([f"Saved: version {result['version']} of ", html.A(result["name"], href=f"/datasets/{result['dataset_id']}",
                                                                        className="alert-link"),
                      f" has the column “{result['column']}” for all {result['rows']:,} rows."],
                     color="success", className="mb-0", id="clu-saved")
