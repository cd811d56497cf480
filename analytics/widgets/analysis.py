"""Analysis: the result of an Analyze tab (a forecast, RFM segments, a funnel ...) on a
dashboard. No SQL query of its own: the widget names an analysis ``kind`` and its
``params`` (set by the Analyze tab's "Add to dashboard", not typed in the editor), the
engine runs it through the analysis service, cached per dataset version, so a new version
of the dataset recomputes it, and ``render`` draws the result with the same figure
builders as the Analyze tab (``analytics/analysis_figures.py``).

Dashboard filters and cross-filters do not apply: an analysis is computed on the whole
dataset, and the widget says so in a note.
"""
from __future__ import annotations

from analytics import analysis_figures as figures
from analytics.widgets.base import (
    EditorField,
    WidgetType,
    f_description,
    f_title,
    plain,
)
from analytics.widgets.theme import TEMPLATE
from errors import InvalidSpec

# Analysis kind -> the views a widget can show of its result; the first is the default.
VIEWS: dict[str, tuple[str, ...]] = {
    "forecast": ("line",),
    "funnel": ("funnel", "table"),
    "retention": ("heatmap", "bar"),
    "journeys": ("sankey",),
    "rfm": ("bar", "treemap", "table"),
    "clv": ("table", "bar"),
    "clustering": ("scatter", "bar"),
    "regression": ("table",),
    "correlation": ("heatmap", "table"),
    "stats": ("table",),
}
KINDS = tuple(VIEWS)
ALL_VIEWS = tuple(dict.fromkeys(v for views in VIEWS.values() for v in views))
KIND_LABELS = {"forecast": "Forecast", "funnel": "Funnel", "retention": "Cohort retention", "journeys": "Journeys",
               "rfm": "RFM segments", "clv": "Customer lifetime value", "clustering": "Clustering",
               "regression": "Regression", "correlation": "Correlation", "stats": "Statistics"}
VIEW_LABELS = {"line": "Line chart", "funnel": "Funnel", "table": "Table", "heatmap": "Heatmap", "bar": "Bar chart",
               "sankey": "Flow diagram", "treemap": "Treemap", "scatter": "Scatter plot"}
FILTER_NOTE = "Computed on the whole dataset: dashboard filters and clicks on other charts do not apply."
MAX_TABLE_ROWS = 500


def _figure(fig, note: str | None = None, legend: bool = False) -> dict:
    """A plotly figure in the dashboard's look, as plain JSON, with its note."""
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else None
    fig.update_layout(template=TEMPLATE, autosize=True, height=None,
                      margin={"l": 8, "r": 8, "t": 36 if title else 8, "b": 8},
                      title={"text": title, "font": {"size": 13}, "x": 0, "xanchor": "left"} if title else None,
                      showlegend=legend)
    if legend:
        fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0})
    return {"kind": "figure", "figure": plain(fig.to_plotly_json()), "note": note}


def _table(header: list, rows: list[list], note: str | None = None) -> dict:
    rows = [[plain(v) for v in row] for row in rows[:MAX_TABLE_ROWS]]
    return {"kind": "table", "columns": [str(h) for h in header], "rows": rows, "total": len(rows), "page": 0,
            "page_size": max(len(rows), 1), "note": note}


def _join(*parts) -> str:
    return " ".join(p.rstrip(".") + "." for p in parts if p)


class Analysis(WidgetType):
    name = "analysis"
    label = "Analysis"
    icon = "graph-up-arrow"
    # Made from an Analyze tab's result ("Add to dashboard"), whose params the editor
    # cannot type: the editor offers it only for a widget that already is one.
    editor_creatable = False
    fields = [
        f_title(), f_description(),
        EditorField("kind", "Analysis", "choice", required=True, choices=list(KINDS), labels=KIND_LABELS),
        EditorField("view", "View", "choice", choices=list(ALL_VIEWS), labels=VIEW_LABELS,
                    help="Each analysis has its own views (RFM: bar, treemap or table); "
                         "one it lacks is refused with the list"),
        EditorField("params", "Parameters", "object",
                    help="The analysis parameters, set by the Analyze tab's “Add to dashboard”"),
    ]

    def normalize(self, spec, schema):
        views = VIEWS[spec["kind"]]
        if spec.get("view") is None:
            spec["view"] = views[0]
        elif spec["view"] not in views:
            raise InvalidSpec(f"A {spec['kind']} widget shows one of {', '.join(views)}, not {spec['view']!r}")
        params = dict(spec["params"])
        own = params.pop("dataset_id", None)
        if own not in (None, "") and spec.get("dataset_id") is not None and str(own) != str(spec["dataset_id"]):
            raise InvalidSpec("The analysis parameters name another dataset than the widget's")
        spec["params"] = params  # the widget's dataset_id is the one the analysis runs on
        return spec

    def query(self, spec, schema, source_sql):
        return None  # the engine runs the analysis instead (QueryService._render_analysis)

    def render(self, result, spec):
        """The analysis ``result`` (the JSON of storage.analyses) as the widget output."""
        output = RENDERERS[spec["kind"]](result, spec["view"])
        output["note"] = _join(output.get("note"), FILTER_NOTE)
        output["analysis"] = {"kind": spec["kind"], "version": result.get("version")}
        return output


def _forecast(result, view):
    fig = figures.forecast_figure(result)
    # The holdout error beside the baseline's is the point of the widget: in its title, in
    # the measure the verdict used (MASE where MAPE means nothing: values near zero); the
    # verdict's headline (which is better, and whether it matters) opens the note.
    holdout, baseline, verdict = result["holdout"], result["baseline"], result.get("verdict") or {}
    if verdict.get("metric") == "mase":
        errors = f"holdout MASE {figures._num(holdout.get('mase'))} vs seasonal naive {figures._num(baseline.get('mase'))}"
    else:
        errors = f"holdout MAPE {figures._pct(holdout['mape'])} vs seasonal naive {figures._pct(baseline['mape'])}"
    fig.update_layout(title=f"Forecast ({result['model']}): {errors}")
    return _figure(fig, _join(verdict.get("headline"), figures.forecast_error_line(result)), legend=True)


def _funnel(result, view):
    steps = result["steps"]
    if view == "table":
        return _table(["Step", "Entities", "Conversion", "From previous", "Drop-off"],
                      [[s["name"], s["entities"], s["conversion"], s["step_conversion"], s["drop_off"]] for s in steps])
    note = f"{result['converted']:,} of {result['entered']:,} entities converted"
    return _figure(figures.funnel_figure(result), note)


def _retention(result, view):
    if view == "bar":
        return _figure(figures.lifecycle_figure(result), result["definition"], legend=True)
    return _figure(figures.retention_figure(result), result["definition"])


def _journeys(result, view):
    return _figure(figures.sankey_figure(result), result["definition"])


def _rfm(result, view):
    note = f"{result['customers']:,} customers on {result['reference_day']}"
    if view == "treemap":
        return _figure(figures.rfm_treemap_figure(result), note)
    if view == "table":
        return _table(*figures.top_customers_table(result["top_customers"]), note="Top customers by monetary value")
    return _figure(figures.rfm_segments_figure(result), note)


def _clv(result, view):
    if view == "bar":
        return _figure(figures.clv_segments_figure(result), result["method"], legend=True)
    return _table(*figures.top_customers_table(result["top_customers"]), note="Top customers by predicted CLV")


def _clustering(result, view):
    note = (f"k = {result['k']}, silhouette {result['silhouette']:.3f}, {result['sample_size']:,} rows clustered"
            + (" (a random sample)" if result.get("sampled") else ""))
    fig = figures.pca_figure(result) if view == "scatter" else None
    if fig is None:  # one feature has no PCA map: the sizes say the most
        fig = figures.cluster_sizes_figure(result)
    else:  # up to 2,000 points: 4 significant digits keep the map and halve the payload
        for trace in fig.data:
            trace.x = [float(f"{v:.4g}") for v in trace.x]
            trace.y = [float(f"{v:.4g}") for v in trace.y]
    return _figure(fig, note, legend=view == "scatter")


def _regression(result, view):
    return _table(*figures.coefficients_table(result), note=_join(figures.regression_summary(result),
                                                                  "Formula: " + result["formula"]))


def _correlation(result, view):
    if view == "table":
        return _table(*figures.correlation_pairs_table(result), note=result["note"])
    return _figure(figures.correlation_figure(result), result["note"])


def _stats(result, view):
    return _table(*figures.stats_table(result), note=figures.stats_summary(result))


RENDERERS = {"forecast": _forecast, "funnel": _funnel, "retention": _retention, "journeys": _journeys, "rfm": _rfm,
             "clv": _clv, "clustering": _clustering, "regression": _regression, "correlation": _correlation,
             "stats": _stats}

WIDGET = Analysis()
