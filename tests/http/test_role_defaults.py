"""Defaults read from column roles, through the callbacks as the browser posts them: the
widget editor starts a new widget on the main measure with its own aggregation and a
category or the time, and labels each column with its role; the Analyze forms start on
real measures, the time, a customer id; generating a dashboard over the API never
averages a year. Another user reaches none of it."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from callbacks.analyze_common import picked
from components.analyze_common import NUMERIC, Picker
from tests.conftest import bearer, post_callback, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _load(app_storage, admin, name):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    return app_storage.datasets.create_from_file(principal, workspace.id, FIXTURES / name, Path(name).name)


def _controls(tree) -> dict:
    """{field name: the dropdown's props} of an editor form drawn by the callback."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props") or {}
            cid = props.get("id")
            if isinstance(cid, dict) and cid.get("type") == "editor-field":
                found[cid["index"]] = props
            for value in props.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(tree)
    return found


def _draw_fields(client, type_name, dataset_id):
    response = post_callback(client, [("editor-fields", "children")],
                             [("editor-type", "value", type_name), ("editor-dataset", "value", dataset_id),
                              ("editor-target", "data", {"widget_id": None, "spec": {}})],
                             changed=["editor-target.data"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]["editor-fields"]["children"]


@pytest.fixture
def flights(app_storage, admin):
    return _load(app_storage, admin, "public/flights_sample.csv")


def test_editor_starts_a_widget_from_the_roles(client, admin, flights):
    sign_in(client, "ada@example.com")
    bar = _controls(_draw_fields(client, "bar", flights.id))
    assert (bar["x"]["value"], bar["y"]["value"], bar["agg"]["value"]) == ("origin", "distance", "sum")
    # The value's options: measures first, each labelled with its role.
    labels = [o["label"] for o in bar["y"]["options"]]
    assert labels[0] == "distance  ·  measure, adds up"
    assert [o["value"] for o in bar["y"]["options"][:4]] == ["distance", "air_time", "dep_delay", "arr_delay"]
    assert "year  ·  one value" in labels and any(label.startswith("month  ·  date part") for label in labels)
    line = _controls(_draw_fields(client, "line", flights.id))
    assert (line["x"]["value"], line["time_grain"]["value"], line["y"]["value"]) == ("time_hour", "week", "distance")
    assert line["x"]["options"][0]["value"] == "time_hour"
    kpi = _controls(_draw_fields(client, "kpi", flights.id))
    assert (kpi["y"]["value"], kpi["agg"]["value"]) == ("distance", "sum")
    histogram = _controls(_draw_fields(client, "histogram", flights.id))
    assert histogram["x"]["value"] == "distance"
    scatter = _controls(_draw_fields(client, "scatter", flights.id))
    assert {scatter["x"]["value"], scatter["y"]["value"]} <= {"distance", "air_time", "dep_delay", "arr_delay"}


def test_editor_without_measures_counts_rows(client, app_storage, admin):
    sign_in(client, "ada@example.com")
    events = _load(app_storage, admin, "events-ecom-journey/ecom-sample.csv")
    kpi = _controls(_draw_fields(client, "kpi", events.id))
    assert kpi["agg"]["value"] == "count" and kpi["y"]["value"] is None  # never a sum of user_id
    pie = _controls(_draw_fields(client, "pie", events.id))
    assert pie["agg"]["value"] == "count" and pie["x"]["value"] == "platform"


def test_editor_fields_of_another_users_dataset_are_refused(make_client, app_storage, admin, second_user, flights):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    body = json.dumps(_draw_fields(bob, "bar", flights.id))
    assert "no dataset" in body.lower() and "dep_delay" not in body and "distance" not in body


def _schema(client, dataset_id):
    response = post_callback(client, [("analyze-schema", "data"), ("analyze-dataset-info", "children")],
                             [("analyze-dataset", "value", dataset_id)], changed=["analyze-dataset.value"])
    return response.get_json()["response"]["analyze-schema"]["data"]


def _fill(client, ids, schema, current=None):
    current = current or [None] * len(ids)
    outputs = [(i, "options") for i in ids] + [(i, "value") for i in ids]
    response = post_callback(client, outputs, [("analyze-schema", "data", schema)],
                             [(i, "value", v) for i, v in zip(ids, current)], changed=["analyze-schema.data"])
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()["response"]
    return {i: answer[i]["value"] for i in ids}, {i: answer[i]["options"] for i in ids}


def test_analyze_pickers_start_from_the_roles(client, app_storage, admin, flights):
    sign_in(client, "ada@example.com")
    schema = _schema(client, flights.id)
    roles = {c["name"]: c["role"] for c in schema}
    assert roles["year"] == "constant" and roles["dep_delay"] == "measure" and roles["time_hour"] == "time"
    values, options = _fill(client, ["ts-date", "ts-value", "ts-multiply"], schema)
    assert values == {"ts-date": "time_hour", "ts-value": "distance", "ts-multiply": None}
    assert options["ts-value"][0]["value"] == "distance"
    ids = ["stats-columns", "stats-group-by", "stats-pivot-rows", "stats-pivot-columns", "stats-pivot-values",
           "stats-test-column", "stats-test-group", "corr-columns", "corr-scatter", "reg-target", "reg-features",
           "clu-features"]
    values, _ = _fill(client, ids, schema)
    measures = {"distance", "air_time", "dep_delay", "arr_delay"}
    for picker in ("stats-columns", "corr-columns", "clu-features"):
        assert set(values[picker]) == measures, picker
    assert values["reg-target"] == "distance" and set(values["reg-features"]) == measures - {"distance"}
    assert values["stats-test-column"] == "distance" and values["stats-test-group"] == "origin"
    assert values["stats-group-by"] is None  # no grouping unless asked
    # A choice the new schema still offers is kept.
    kept, _ = _fill(client, ["ts-date", "ts-value", "ts-multiply"], schema, ["time_hour", "dep_delay", None])
    assert kept["ts-value"] == "dep_delay"


def test_timeseries_aggregation_follows_the_measure(client, admin, flights):
    sign_in(client, "ada@example.com")
    schema = _schema(client, flights.id)

    def agg(value, multiply=None):
        response = post_callback(client, [("ts-agg", "value")],
                                 [("ts-value", "value", value), ("ts-multiply", "value", multiply)],
                                 [("analyze-schema", "data", schema)], changed=["ts-value.value"])
        return response.get_json()["response"]["ts-agg"]["value"]

    assert (agg("distance"), agg("dep_delay"), agg(None)) == ("sum", "mean", "count")
    # A rate times another measure (delay minutes × distance, price × quantity) is an amount: summed.
    assert agg("dep_delay", multiply="distance") == "sum"


def test_segment_and_journey_pickers(client, app_storage, admin):
    sign_in(client, "ada@example.com")
    retail = _load(app_storage, admin, "online-retail-20k.csv")
    values, _ = _fill(client, ["seg-customer", "seg-date", "seg-amount", "seg-quantity", "seg-order"],
                      _schema(client, retail.id))
    assert values == {"seg-customer": "CustomerID", "seg-date": "InvoiceDate", "seg-amount": "UnitPrice",
                      "seg-quantity": "Quantity", "seg-order": "InvoiceNo"}
    events = _load(app_storage, admin, "events-ecom-journey/ecom-sample.csv")
    values, _ = _fill(client, ["fj-entity", "fj-event", "fj-time"], _schema(client, events.id))
    assert values == {"fj-entity": "user_id", "fj-event": "event", "fj-time": "timestamp"}


def test_another_user_gets_no_schema_or_roles(make_client, admin, second_user, flights):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    assert _schema(bob, flights.id) is None


def test_picked_without_roles_keeps_the_old_labels():
    schema = [{"name": "a", "type": "integer"}, {"name": "b", "type": "text"}]
    options_a, value_a = picked(schema, [Picker(NUMERIC, "measure", lambda c: c.main_measure())], [None])
    assert options_a == [{"label": "a (integer)", "value": "a"}] and value_a is None


def test_generate_over_the_api_never_aggregates_date_parts(client, ada):
    data = {"file": (io.BytesIO((FIXTURES / "public" / "flights_sample.csv").read_bytes()), "flights_sample.csv")}
    dataset = client.post("/api/v1/datasets", data=data, headers=bearer(ada)).get_json()
    response = client.post(f"/api/v1/datasets/{dataset['id']}/dashboard", headers=bearer(ada))
    assert response.status_code == 201
    board = response.get_json()
    from analytics.column_choice import aggregated_columns

    used = set().union(*(aggregated_columns(w["spec"]) for w in board["widgets"]))
    assert not used & {"year", "month", "day", "hour", "minute", "flight"}
    assert {"dep_delay", "distance"} <= used
    assert all(w["spec"]["description"] for w in board["widgets"])


def test_choosing_a_target_takes_it_out_of_the_features(client, admin, flights):
    """The regression form preselects features; a target chosen among them leaves them
    (a fit would refuse a target that is also a feature)."""
    sign_in(client, "ada@example.com")

    def features_after(target, features):
        response = post_callback(client, [("reg-features", "value")], [("reg-target", "value", target)],
                                 [("reg-features", "value", features)], changed=["reg-target.value"])
        return response.get_json()["response"]["reg-features"]["value"]

    assert features_after("dep_delay", ["dep_delay", "distance", "air_time"]) == ["distance", "air_time"]
    assert features_after("dep_delay", ["dep_delay"]) is None
