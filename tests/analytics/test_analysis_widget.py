"""The analysis widget type: its spec normalised and checked, and every kind's real result
(computed by the analysis service on the test fixtures) drawn as the widget output with
the result's own numbers, small enough for a dashboard."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.widgets import REGISTRY, widget_type
from analytics.widgets.analysis import FILTER_NOTE, KINDS, VIEWS
from analytics.widgets.spec import normalize_spec
from errors import InvalidSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WIDGET = widget_type("analysis")


def spec(kind, view=None, params=None, **extra):
    raw = {"type": "analysis", "dataset_id": 7, "kind": kind, "params": params if params is not None else {}, **extra}
    if view:
        raw["view"] = view
    return normalize_spec(raw, [])


# --- the spec ---------------------------------------------------------------------------------


def test_normalize_fills_the_default_view_and_keeps_params():
    out = spec("forecast", params={"date": "date", "value": "revenue", "horizon": 30, "dataset_id": "7"},
               title="Revenue")
    assert out == {"version": 1, "type": "analysis", "dataset_id": 7, "title": "Revenue", "description": "",
                   "kind": "forecast", "view": "line", "params": {"date": "date", "value": "revenue", "horizon": 30},
                   "filters": []}
    assert spec("rfm")["view"] == "bar" and spec("rfm", "treemap")["view"] == "treemap"
    assert set(KINDS) == {"stats", "correlation", "regression", "clustering", "forecast", "funnel", "retention",
                          "journeys", "rfm", "clv"}
    assert REGISTRY["analysis"].editor_creatable is False


@pytest.mark.parametrize(("raw", "message"), [
    ({"kind": "astrology", "params": {}}, "'Analysis' must be one of forecast, funnel"),
    ({"kind": "event_names", "params": {}}, "'Analysis' must be one of"),
    ({"params": {}}, "Choose a value for 'Analysis'"),
    ({"kind": "forecast", "params": ["date"]}, "'Parameters' must be a JSON object"),
    ({"kind": "forecast", "params": "date"}, "'Parameters' must be a JSON object"),
    ({"kind": "forecast", "params": {"notes": "x" * 30_000}}, "at most 20,000 characters"),
    ({"kind": "forecast", "params": {}, "view": "treemap"}, "A forecast widget shows one of line, not 'treemap'"),
    ({"kind": "forecast", "params": {}, "view": "radar"}, "'View' must be one of"),
    ({"kind": "rfm", "params": {"dataset_id": 8}}, "another dataset than the widget's"),
    ({"kind": "rfm", "params": {}, "colour": "red"}, "Unknown spec field 'colour'"),
])
def test_bad_specs_are_refused_with_a_message(raw, message):
    with pytest.raises(InvalidSpec) as caught:
        normalize_spec({"type": "analysis", "dataset_id": 7, **raw}, [])
    assert message in caught.value.message


# --- drawing real results -----------------------------------------------------------------------


@pytest.fixture
def results(storage, owner, make_dataset, mall):
    """One real result of every kind, computed by the analysis service."""
    revenue = make_dataset(FIXTURES / "online-retail-daily-revenue.csv", "revenue")
    retail = make_dataset(FIXTURES / "online-retail-20k.csv", "retail")
    events = make_dataset(FIXTURES / "events-ecom-journey" / "ecom-sample.csv", "events")
    clicks = {"entity": "user_id", "event": "event", "time": "timestamp"}
    sales = {"customer": "CustomerID", "date": "InvoiceDate", "amount": "UnitPrice", "quantity": "Quantity"}
    asks = {
        "stats": (mall, {"group_by": ["Genre"]}),
        "correlation": (mall, {"method": "spearman"}),
        "regression": (mall, {"target": "Spending Score (1-100)", "features": ["Age", "Genre"]}),
        "clustering": (mall, {"features": ["Annual Income (k$)", "Spending Score (1-100)"], "k": 5, "seed": 0}),
        "forecast": (revenue, {"date": "date", "value": "revenue", "horizon": 14, "holdout": 30}),
        "funnel": (events, {**clicks, "steps": ["catalog", "product_view", "add_to_cart", "cart", "purchase"]}),
        "retention": (events, clicks),
        "journeys": (events, clicks),
        "rfm": (retail, sales),
        "clv": (retail, sales),
    }
    return {kind: storage.analyses.run(owner, kind, {**params, "dataset_id": dataset.id})
            for kind, (dataset, params) in asks.items()}


def draw(result, kind, view=None):
    output = WIDGET.render(result, spec(kind, view))
    assert len(json.dumps(output)) < 100_000, f"{kind}/{view} payload too big"
    assert FILTER_NOTE in output["note"]
    assert output["analysis"] == {"kind": kind, "version": 1}
    return output


def trace(output, index=0):
    return output["figure"]["data"][index]


def test_every_kind_and_view_draws(results):
    for kind, views in VIEWS.items():
        for view in views:
            output = draw(results[kind], kind, view)
            assert output["kind"] in ("figure", "table"), (kind, view)
            if output["kind"] == "table":
                assert output["rows"] and len(output["columns"]) == len(output["rows"][0])
                assert output["total"] == len(output["rows"])


def test_forecast_shows_the_interval_and_the_holdout_error(results):
    result = results["forecast"]
    output = draw(result, "forecast")
    names = [t.get("name") for t in output["figure"]["data"]]
    assert {"Actual", "Holdout forecast", "Forecast", "95 % interval", "Seasonal naive"} <= set(names)
    forecast = next(t for t in output["figure"]["data"] if t.get("name") == "Forecast")
    assert forecast["y"] == [p["value"] for p in result["forecast"]] and len(forecast["y"]) == 14
    band = next(t for t in output["figure"]["data"] if t.get("fill") == "toself" and t.get("showlegend") is not False)
    assert band["y"][:14] == [p["high"] for p in result["forecast"]]
    title = output["figure"]["layout"]["title"]["text"]
    assert f"holdout MAPE {result['holdout']['mape']:.1f} %" in title
    assert f"seasonal naive {result['baseline']['mape']:.1f} %" in title
    assert f"over {result['holdout']['periods']} periods" in output["note"]
    # The verdict's headline (which is better, and whether it matters) opens the note.
    assert output["note"].startswith(result["verdict"]["headline"])


def test_funnel_retention_and_journeys(results):
    funnel = results["funnel"]
    assert trace(draw(funnel, "funnel"))["x"] == [s["entities"] for s in funnel["steps"]]
    table = draw(funnel, "funnel", "table")
    assert [r[1] for r in table["rows"]] == [s["entities"] for s in funnel["steps"]]
    assert table["rows"][-1][4] == pytest.approx(funnel["steps"][-1]["drop_off"])

    retention = results["retention"]
    heat = trace(draw(retention, "retention"))
    assert heat["type"] == "heatmap" and len(heat["y"]) == len(retention["cohorts"])
    assert heat["z"][0][0] == pytest.approx(retention["cohorts"][0]["retention"][0] * 100)

    journeys = results["journeys"]
    sankey = trace(draw(journeys, "journeys"))
    shown = [link for link in journeys["links"] if link["target"] != "(end)"]
    assert sankey["type"] == "sankey" and sum(sankey["link"]["value"]) == sum(link["entities"] for link in shown)


def test_rfm_and_clv(results):
    rfm = results["rfm"]
    bars = trace(draw(rfm, "rfm"))
    assert dict(zip(bars["y"], bars["x"])) == {s["name"]: s["customers"] for s in rfm["segments"]}
    tree = trace(draw(rfm, "rfm", "treemap"))
    assert dict(zip(tree["labels"], tree["values"])) == {s["name"]: s["customers"] for s in rfm["segments"]
                                                         if s["customers"]}
    top = draw(rfm, "rfm", "table")
    assert top["columns"][0] == "Customer" and top["rows"][0][0] == str(rfm["top_customers"][0]["customer"])
    assert top["rows"][0][4] == pytest.approx(rfm["top_customers"][0]["monetary"])

    clv = results["clv"]
    table = draw(clv, "clv")
    assert [r[6] for r in table["rows"]] == pytest.approx([c["predicted_clv"] for c in clv["top_customers"]])
    by_segment = draw(clv, "clv", "bar")
    assert trace(by_segment, 1)["y"] == pytest.approx([s["predicted"] for s in clv["by_segment"]])


def test_clustering_regression_correlation_stats(results):
    clusters = results["clustering"]
    scatter = draw(clusters, "clustering", "scatter")
    assert len(scatter["figure"]["data"]) == clusters["k"] + 1  # one trace per cluster, then the centroids
    assert sum(len(t["x"]) for t in scatter["figure"]["data"][:-1]) == len(clusters["pca"]["x"])
    sizes = trace(draw(clusters, "clustering", "bar"))
    assert sizes["y"] == clusters["sizes"] and sum(sizes["y"]) == 200

    regression = results["regression"]
    table = draw(regression, "regression")
    assert [r[0] for r in table["rows"]] == [c["term"] for c in regression["coefficients"]]
    assert "C(Genre)[T.Male]" in [r[0] for r in table["rows"]]
    assert [r[1] for r in table["rows"]] == pytest.approx([c["estimate"] for c in regression["coefficients"]])
    assert f"R² {regression['r2']:.4f}" in table["note"]

    correlation = results["correlation"]
    heat = trace(draw(correlation, "correlation"))
    assert heat["z"] == correlation["matrix"] and heat["x"] == correlation["columns"]
    pairs = draw(correlation, "correlation", "table")
    assert pairs["rows"][0][1] == pytest.approx(correlation["pairs"][0]["r"])

    stats = results["stats"]
    described = draw(stats, "stats")
    assert described["columns"][:2] == ["Genre", "Column"]
    age = [r for r in described["rows"] if r[1] == "Age"]
    assert {r[0] for r in age} == {"Female", "Male"}
    expected = {row["group"]["Genre"]: row["mean"] for row in stats["rows"] if row["column"] == "Age"}
    assert {r[0]: r[4] for r in age} == pytest.approx(expected)
