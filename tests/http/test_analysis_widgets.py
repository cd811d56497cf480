"""Analysis widgets on dashboards: POST /api/v1/dashboards/{id}/widgets adds a forecast
and RFM segments, the dashboard (page, API, public link) draws them, a new dataset version
recomputes them, a viewer cannot add one, another workspace gets 404, and the public link
reaches only the widgets' own analyses."""
import csv
import json
import threading
import time
from pathlib import Path

import pytest

from storage.errors import Forbidden, NotFound
from tests.conftest import (
    _input_name,
    _post_callback,
    bearer,
    post_callback,
    render_page,
    sign_in,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FORECAST = {"date": "date", "value": "revenue", "agg": "sum", "grain": "day", "horizon": 14, "holdout": 30}
RFM = {"customer": "CustomerID", "date": "InvoiceDate", "amount": "UnitPrice", "quantity": "Quantity"}


def _dataset(app_storage, admin, path, name, workspace_id=None):
    principal = admin.principal()
    workspace_id = workspace_id or app_storage.workspaces.personal_workspace(principal).id
    return app_storage.datasets.create_from_file(principal, workspace_id, path, name)


@pytest.fixture
def revenue(app_storage, admin):
    return _dataset(app_storage, admin, FIXTURES / "online-retail-daily-revenue.csv", "revenue.csv")


@pytest.fixture
def retail(app_storage, admin):
    return _dataset(app_storage, admin, FIXTURES / "online-retail-20k.csv", "retail.csv")


def _board(client, token, name="Analyses", **extra):
    response = client.post("/api/v1/dashboards", json={"name": name, **extra}, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _add(client, token, board_id, spec, **extra):
    return client.post(f"/api/v1/dashboards/{board_id}/widgets", json={"spec": spec, **extra}, headers=bearer(token))


def _render(client, token, board_id, widget_id, body=None):
    response = client.post(f"/api/v1/dashboards/{board_id}/widgets/{widget_id}/render", json=body or {},
                           headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _forecast_trace(output):
    return next(t for t in output["figure"]["data"] if t.get("name") == "Forecast")


def _segment_counts(output):
    bar = output["figure"]["data"][0]
    return dict(zip(bar["y"], bar["x"]))


def test_forecast_and_rfm_widgets_draw_and_follow_new_versions(client, ada, app_storage, admin, revenue, retail,
                                                                 tmp_path):
    board = _board(client, ada, widgets=[{"id": "kpi", "spec": {"type": "kpi", "agg": "count",
                                                                 "dataset_id": retail.id}}])
    forecast_spec = {"type": "analysis", "dataset_id": revenue.id, "kind": "forecast", "params": FORECAST,
                     "title": "Revenue forecast"}
    added = _add(client, ada, board["id"], forecast_spec)
    assert added.status_code == 201, added.get_json()
    rfm_spec = {"type": "analysis", "dataset_id": retail.id, "kind": "rfm", "params": {**RFM, "dataset_id": retail.id},
                "view": "bar", "title": "Segments"}
    added = _add(client, ada, board["id"], rfm_spec)
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    kpi, forecast, rfm = body["widgets"]
    # Appended below the others, full width; the spec normalised (params without dataset_id).
    assert forecast["layout"] == {"x": 0, "y": kpi["layout"]["y"] + kpi["layout"]["h"], "w": 12, "h": 6}
    assert rfm["layout"]["y"] == forecast["layout"]["y"] + 6
    assert forecast["spec"]["view"] == "line" and rfm["spec"]["params"] == RFM

    # The same numbers as the analysis itself.
    direct = app_storage.analyses.run(admin.principal(), "forecast", {**FORECAST, "dataset_id": revenue.id})
    drawn = _render(client, ada, board["id"], forecast["id"])
    assert drawn["kind"] == "figure"
    assert _forecast_trace(drawn)["y"] == pytest.approx([p["value"] for p in direct["forecast"]])
    assert f"{direct['holdout']['mape']:.1f} %" in drawn["figure"]["layout"]["title"]["text"]
    assert "seasonal naive" in drawn["figure"]["layout"]["title"]["text"]
    assert "filters" in drawn["note"] and "do not apply" in drawn["note"]
    segments = app_storage.analyses.run(admin.principal(), "rfm", {**RFM, "dataset_id": retail.id})
    drawn_rfm = _render(client, ada, board["id"], rfm["id"])
    assert _segment_counts(drawn_rfm) == {s["name"]: s["customers"] for s in segments["segments"]}
    assert f"{segments['customers']:,} customers" in drawn_rfm["note"]

    # Dashboard filters and cross-filters leave an analysis widget alone.
    filtered = _render(client, ada, board["id"], rfm["id"], {
        "filters": [{"column": "Country", "op": "=", "value": "France"}],
        "dashboard_filters": [{"id": "c", "column": "Country", "kind": "multi_select", "value": ["France"]}]})
    assert _segment_counts(filtered) == _segment_counts(drawn_rfm)

    # A new version: revenue doubled; retail cut to the first half of its rows.
    doubled = tmp_path / "revenue.csv"
    with open(FIXTURES / "online-retail-daily-revenue.csv", newline="") as src, open(doubled, "w", newline="") as out:
        rows = list(csv.reader(src))
        writer = csv.writer(out)
        writer.writerow(rows[0])
        writer.writerows([[d, float(v) * 2] for d, v in rows[1:]])
    app_storage.datasets.add_version(admin.principal(), revenue.id, doubled, "revenue.csv")
    redrawn = _render(client, ada, board["id"], forecast["id"])
    assert _forecast_trace(redrawn)["y"] == pytest.approx([2 * v for v in _forecast_trace(drawn)["y"]], rel=1e-3)
    assert redrawn["analysis"]["version"] == 2 and drawn["analysis"]["version"] == 1

    half = tmp_path / "retail.csv"
    lines = (FIXTURES / "online-retail-20k.csv").read_text().splitlines()
    half.write_text("\n".join(lines[:10_001]) + "\n")
    app_storage.datasets.add_version(admin.principal(), retail.id, half, "retail.csv")
    smaller = app_storage.analyses.run(admin.principal(), "rfm", {**RFM, "dataset_id": retail.id})
    assert smaller["customers"] < segments["customers"]
    redrawn_rfm = _render(client, ada, board["id"], rfm["id"])
    assert _segment_counts(redrawn_rfm) == {s["name"]: s["customers"] for s in smaller["segments"]}
    assert f"{smaller['customers']:,} customers" in redrawn_rfm["note"]


def test_the_dashboard_page_draws_analysis_widgets(client, app_storage, admin, retail):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    board = app_storage.dashboards.create(principal, workspace.id, {"name": "Segments"})
    app_storage.dashboards.add_widget(principal, board["id"], {"spec": {
        "type": "analysis", "dataset_id": retail.id, "kind": "rfm", "params": RFM, "view": "treemap",
        "title": "RFM treemap"}})
    sign_in(client, admin.email)
    page = json.dumps(render_page(client, f"/dashboards/{board['id']}").get_json())
    assert "RFM treemap" in page and "treemap" in page and "Champions" in page
    assert "do not apply" in page


def test_bad_widgets_are_refused_with_a_message(client, ada, revenue):
    board = _board(client, ada)
    cases = [
        ({"type": "analysis", "dataset_id": revenue.id, "kind": "astrology", "params": {}}, "must be one of"),
        ({"type": "analysis", "dataset_id": revenue.id, "kind": "forecast", "params": "date=date"},
         "must be a JSON object"),
        ({"type": "analysis", "dataset_id": revenue.id, "kind": "forecast", "params": FORECAST, "view": "table"},
         "shows one of line"),
        ({"type": "analysis", "dataset_id": revenue.id, "kind": "forecast", "params": {**FORECAST, "dataset_id": 999}},
         "another dataset"),
        ({"type": "analysis", "kind": "forecast", "params": FORECAST}, "needs a dataset_id"),
    ]
    for spec, message in cases:
        response = _add(client, ada, board["id"], spec)
        assert response.status_code == 400, spec
        assert message in response.get_json()["error"]["message"], response.get_json()
    assert _add(client, ada, board["id"], {"type": "analysis", "dataset_id": revenue.id, "kind": "forecast",
                                           "params": FORECAST}, color="red").status_code == 400
    assert _add(client, ada, board["id"], {"type": "analysis", "dataset_id": revenue.id, "kind": "forecast",
                                           "params": FORECAST}, tab="nope").status_code == 400
    # Params the analysis refuses: the widget shows the analysis's own message.
    added = _add(client, ada, board["id"], {"type": "analysis", "dataset_id": revenue.id, "kind": "forecast",
                                            "params": {**FORECAST, "value": "nope"}})
    assert added.status_code == 201
    widget = added.get_json()["widgets"][-1]
    failed = client.post(f"/api/v1/dashboards/{board['id']}/widgets/{widget['id']}/render", json={},
                         headers=bearer(ada))
    assert failed.status_code == 400 and "nope" in failed.get_json()["error"]["message"]
    # Any widget type goes through the same route.
    kpi = _add(client, ada, board["id"], {"type": "kpi", "agg": "count", "dataset_id": revenue.id},
               layout={"x": 6, "y": 0, "w": 3, "h": 2})
    assert kpi.status_code == 201 and kpi.get_json()["widgets"][-1]["layout"] == {"x": 6, "y": 0, "w": 3, "h": 2}


def test_viewer_cannot_add_and_another_workspace_gets_404(client, ada, bob, app_storage, admin, second_user):
    team = app_storage.workspaces.create(admin.principal(), "Team").id
    app_storage.workspaces.add_member(admin.principal(), team, "bob@example.com", "viewer")
    dataset = _dataset(app_storage, admin, FIXTURES / "online-retail-20k.csv", "retail.csv", team)
    board = _board(client, ada, workspace_id=team)
    spec = {"type": "analysis", "dataset_id": dataset.id, "kind": "rfm", "params": RFM}
    refused = _add(client, bob, board["id"], spec)
    assert refused.status_code == 403
    assert client.get(f"/api/v1/dashboards/{board['id']}", headers=bearer(ada)).get_json()["widgets"] == []

    mine = _board(client, ada, name="Personal")
    other = _dataset(app_storage, admin, FIXTURES / "online-retail-20k.csv", "private.csv")
    # Bob has no access to ada's personal workspace: her dashboard is not there for him...
    assert _add(client, bob, mine["id"], {**spec, "dataset_id": other.id}).status_code == 404
    # ...nor can he put her dataset on a dashboard of his own.
    his = _board(client, bob, name="His")
    assert _add(client, bob, his["id"], {**spec, "dataset_id": other.id}).status_code == 404
    # A dashboard uses its own workspace's data: the team dataset does not go on ada's personal board.
    wrong = _add(client, ada, mine["id"], spec)
    assert wrong.status_code == 400 and "another workspace" in wrong.get_json()["error"]["message"]


def test_public_link_draws_the_analysis_and_nothing_else(client, ada, app_storage, admin, retail, revenue):
    board = _board(client, ada)
    body = _add(client, ada, board["id"], {"type": "analysis", "dataset_id": retail.id, "kind": "rfm", "params": RFM,
                                           "title": "Segments"}).get_json()
    widget_id = body["widgets"][0]["id"]
    link = client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).get_json()
    shared = app_storage.queries.render_shared(link["token"], widget_id)
    segments = app_storage.analyses.run(admin.principal(), "rfm", {**RFM, "dataset_id": retail.id})
    assert _segment_counts(shared) == {s["name"]: s["customers"] for s in segments["segments"]}

    visitor = client.application.test_client()
    page = json.dumps(render_page(visitor, f"/public/dashboards/{link['token']}").get_json())
    assert "Customers per segment" in page and "Champions" in page

    # The link runs only the stored widgets: no other widget id, no filters of its own,
    # no analysis API (the token is not an API key, and a visitor is not signed in).
    with pytest.raises(NotFound):
        app_storage.queries.render_shared(link["token"], "another-analysis")
    with pytest.raises(Forbidden):
        app_storage.queries.render_shared(link["token"], widget_id, [{"column": "Country", "op": "in",
                                                                      "value": ["France"]}])
    for kind, params in (("forecast", {**FORECAST, "dataset_id": revenue.id}), ("rfm", {**RFM, "dataset_id": retail.id})):
        assert visitor.post(f"/api/v1/analyze/{kind}", json=params).status_code == 401
        assert visitor.post(f"/api/v1/analyze/{kind}", json=params, headers=bearer(link["token"])).status_code == 401
    assert visitor.post(f"/api/v1/dashboards/{board['id']}/widgets", json={"spec": {}},
                        headers=bearer(link["token"])).status_code == 401
    # Revoked: the analysis widget is gone with the rest.
    assert client.delete(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).status_code == 204
    with pytest.raises(NotFound):
        app_storage.queries.render_shared(link["token"], widget_id)


def _match_key(client, output_types: list[str]) -> str:
    """The callback map key of the MATCH callback writing these aw-* outputs."""
    callbacks = client.application.extensions["datainsight_dash"].callback_map
    found = [k for k in callbacks if all(f'"type":"aw-{t}"' in k for t in output_types) and "MATCH" in k]
    assert len(found) == 1, found
    return found[0]


def _save(client, prefix, kind, params, board, new_name="", title="Segments", view="bar"):
    def pid(name):
        return {"prefix": prefix, "type": f"aw-{name}"}

    response = _post_callback(
        client, _match_key(client, ["feedback", "board"]),
        [(pid("feedback"), "children"), (pid("board"), "options"), (pid("board"), "value")],
        [(pid("save"), "n_clicks", 1)],
        [(pid("kind"), "data", kind), (pid("params"), "data", params), (pid("board"), "value", board),
         (pid("new-name"), "value", new_name), (pid("title"), "value", title), (pid("view"), "value", view)],
        changed=[json.dumps(pid("save"), sort_keys=True, separators=(",", ":")) + ".n_clicks"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json()["response"])


def _open(client, prefix, params):
    def pid(name):
        return {"prefix": prefix, "type": f"aw-{name}"}

    response = post_callback(
        client, [(pid("modal"), "is_open"), (pid("board"), "options"), (pid("board"), "value"), (pid("params"), "data"),
                 (pid("feedback"), "children")],
        [(pid("open"), "n_clicks", 1)], [(f"{prefix}-params", "data", params)],
        changed=[json.dumps(pid("open"), sort_keys=True, separators=(",", ":")) + ".n_clicks"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json()["response"])


def test_add_to_dashboard_callbacks_for_the_owner_and_a_crafted_post(make_client, app_storage, admin, second_user,
                                                                      retail):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    board = app_storage.dashboards.create(principal, workspace.id, {"name": "Customer overview"})
    params = {**RFM, "dataset_id": retail.id}

    owner = make_client()
    sign_in(owner, admin.email)
    opened = _open(owner, "rfm", params)
    assert "Customer overview" in opened and "New dashboard" in opened
    saved = _save(owner, "rfm", "rfm", params, board["id"])
    assert "Added to" in saved and f"/dashboards/{board['id']}" in saved
    widgets = app_storage.dashboards.get(principal, board["id"])["widgets"]
    assert [(w["spec"]["kind"], w["spec"]["title"], w["spec"]["params"]) for w in widgets] == [("rfm", "Segments", RFM)]
    created = _save(owner, "ts", "forecast", {**FORECAST, "dataset_id": retail.id}, "__new__", "Outlook", "Forecast",
                    "line")
    assert "Added to \\u201cOutlook\\u201d" in created
    assert "Outlook" in [b["name"] for b in app_storage.dashboards.list(principal, workspace.id)]

    intruder = make_client()
    sign_in(intruder, second_user.email)
    peek = _open(intruder, "rfm", params)
    assert "There is no dataset" in peek and "Customer overview" not in peek
    for target in (board["id"], "__new__"):
        refused = _save(intruder, "rfm", "rfm", params, target, "Stolen")
        assert "There is no" in refused and "Added to" not in refused
    assert len(app_storage.dashboards.get(principal, board["id"])["widgets"]) == 1
    his = app_storage.workspaces.personal_workspace(second_user.principal())
    assert app_storage.dashboards.list(second_user.principal(), his.id) == []


def test_the_editor_keeps_an_analysis_widgets_params():
    from callbacks.dashboard_editor import spec_from_form

    stored = {"type": "analysis", "dataset_id": 3, "kind": "rfm", "params": RFM, "view": "bar", "title": "Old"}
    states = [{"id": {"type": "editor-field", "index": "kind"}, "value": "rfm"},
              {"id": {"type": "editor-field", "index": "view"}, "value": "treemap"}]
    spec = spec_from_form("analysis", 3, "New", "", states, None, stored)
    assert spec == {"type": "analysis", "dataset_id": 3, "title": "New", "kind": "rfm", "view": "treemap",
                    "params": RFM}
    # A widget of another type gets nothing from it.
    assert "params" not in spec_from_form("bar", 3, "", "", [], None, stored)


def _poll(client, board_id, widget_id, prefix="", key_id="dash-id"):
    """The poll of a widget still being computed, as the renderer posts it."""
    callback_map = client.application.extensions["datainsight_dash"].callback_map
    key = next(k for k, c in callback_map.items() if any(_input_name(i["id"]) == f"{prefix}dash-widget-poll"
                                                          for i in c["inputs"]))
    poll = {"index": widget_id, "type": f"{prefix}dash-widget-poll"}
    body = {"output": key, "outputs": {"id": {"index": widget_id, "type": f"{prefix}dash-widget-body"},
                                       "property": "children"},
            "inputs": [{"id": poll, "property": "n_intervals", "value": 1}],
            "state": [{"id": f"{prefix}dash-state", "property": "data", "value": {"filters": {}, "cross": []}},
                      {"id": key_id, "property": "data", "value": board_id}],
            "changedPropIds": [json.dumps(poll, separators=(",", ":"), sort_keys=True) + ".n_intervals"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.dumps(response.get_json())


def test_a_slow_analysis_does_not_hold_the_page(make_client, app_storage, admin, retail, monkeypatch):
    """An analysis not computed yet is waited for briefly; then the page arrives with the
    widget saying it is computing, polls, and gets it drawn. A report waits for it."""
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    board = app_storage.dashboards.create(principal, workspace.id, {"name": "Segments", "widgets": [
        {"id": "seg", "spec": {"type": "analysis", "dataset_id": retail.id, "kind": "rfm", "params": RFM,
                               "view": "treemap", "title": "RFM treemap"}},
        {"id": "n", "spec": {"type": "kpi", "agg": "count", "dataset_id": retail.id, "title": "Rows"}}]})
    gate = threading.Event()
    real = app_storage.analyses.run_on

    def held(*args, **kwargs):
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(app_storage.analyses, "run_on", held)
    monkeypatch.setattr(app_storage.queries, "analysis_wait", 0.2)
    ada = make_client()
    sign_in(ada, admin.email)
    started = time.monotonic()
    page = json.dumps(render_page(ada, f"/dashboards/{board['id']}").get_json())
    assert time.monotonic() - started < 10
    assert "Computing this analysis" in page and "dash-widget-poll" in page and "Champions" not in page
    assert "20,000" in page  # the other widget is drawn meanwhile
    assert "Computing this analysis" in _poll(ada, board["id"], "seg")

    # Another user polling Ada's widget learns nothing.
    app_storage.users.create_user(principal, "bob@example.com", "bob's long password 1", "Bob")
    bob = make_client()
    sign_in(bob, "bob@example.com", "bob's long password 1")
    crafted = _poll(bob, board["id"], "seg")
    assert "no dashboard" in crafted and "Champions" not in crafted and "Computing" not in crafted

    gate.set()
    deadline = time.monotonic() + 60
    while "Computing this analysis" in (drawn := _poll(ada, board["id"], "seg")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Champions" in drawn and "dash-widget-poll" not in drawn
