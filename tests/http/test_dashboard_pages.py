"""The dashboard pages through their callbacks, as the browser posts them: widgets drawn
with filters and cross-filters, the editor, the public link; and a second user, a viewer
and an anonymous visitor who must not get past what they are allowed."""
import json
from pathlib import Path

import pytest

from errors import InvalidSpec
from tests.conftest import post_callback, render_page, sign_in
from tests.http.test_dashboard_click_filters import post_click_callback

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def match_key(type_name: str, prop: str) -> str:
    return json.dumps({"index": ["MATCH"], "type": type_name}, separators=(",", ":")) + "." + prop


def draw_widget(client, widget_id, key_id, key, state, prefix=""):
    """POST the MATCH callback that draws one widget."""
    output_id = {"index": widget_id, "type": f"{prefix}dash-widget-body"}
    body = {
        "output": match_key(f"{prefix}dash-widget-body", "children"),
        "outputs": {"id": output_id, "property": "children"},
        "inputs": [{"id": f"{prefix}dash-state", "property": "data", "value": state}],
        "state": [{"id": key_id, "property": "data", "value": key}],
        "changedPropIds": [f"{prefix}dash-state.data"],
    }
    return client.post("/_dash-update-component", json=body)


def widget_children(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json()["response"])


@pytest.fixture
def vgsales(app_storage, admin):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    return app_storage.datasets.create_from_file(principal, workspace.id, FIXTURES / "vgsales.csv", "vgsales.csv")


@pytest.fixture
def board(app_storage, admin, vgsales):
    principal = admin.principal()
    return app_storage.dashboards.create(principal, vgsales.workspace_id, {
        "name": "Games",
        "widgets": [
            {"id": "genre", "spec": {"type": "bar", "dataset_id": vgsales.id, "x": "Genre", "y": "Global_Sales",
                                     "agg": "sum", "title": "Sales by genre"},
             "layout": {"x": 0, "y": 0, "w": 6, "h": 6}},
            {"id": "total", "spec": {"type": "kpi", "dataset_id": vgsales.id, "y": "Global_Sales", "agg": "sum",
                                     "title": "Total sales"},
             "layout": {"x": 6, "y": 0, "w": 3, "h": 3}},
        ],
        "filters": [{"id": "platform", "column": "Platform", "kind": "multi_select", "value": None}],
    })


def test_widgets_draw_and_filters_change_them(client, app_storage, admin, board, vgsales):
    sign_in(client, "ada@example.com")
    body = widget_children(draw_widget(client, "genre", "dash-id", board["id"], {"filters": {}, "cross": []}))
    assert "Action" in body and "Sports" in body and '"type":"bar"' in body.replace(" ", "")

    everything = app_storage.queries.run(admin.principal(), vgsales.id, {"type": "kpi", "y": "Global_Sales",
                                                                         "agg": "sum"})
    wii = app_storage.queries.run(admin.principal(), vgsales.id, {
        "type": "kpi", "y": "Global_Sales", "agg": "sum",
        "filters": [{"column": "Platform", "op": "in", "value": ["Wii"]}]})
    assert wii["rows"] != everything["rows"]
    views = app_storage.dashboard_views
    unfiltered = views.render_widget(admin.principal(), board["id"], "total", {}, [])
    filtered = views.render_widget(admin.principal(), board["id"], "total", {"platform": ["Wii"]}, [])
    assert filtered["value"] == pytest.approx(wii["rows"][0][2])
    assert unfiltered["value"] == pytest.approx(everything["rows"][0][2])

    # A cross-filter from a click on the genre bar filters the KPI, not the bar itself.
    cross = [{"column": "Genre", "op": "=", "value": "Sports", "source": "genre"}]
    sports = app_storage.queries.run(admin.principal(), vgsales.id, {
        "type": "kpi", "y": "Global_Sales", "agg": "sum", "filters": [{"column": "Genre", "op": "=", "value": "Sports"}]})
    assert views.render_widget(admin.principal(), board["id"], "total", {}, cross)["value"] == \
        pytest.approx(sports["rows"][0][2])
    bar = views.render_widget(admin.principal(), board["id"], "genre", {}, cross)
    assert "Action" in json.dumps(bar["figure"])


def test_clicking_a_bar_sets_a_cross_filter(client, admin, board):
    sign_in(client, "ada@example.com")
    clicks = [("genre", {"points": [{"x": "Sports", "y": 1.0, "customdata": ["Sports"], "curveNumber": 0,
                                     "pointNumber": 0}]}), ("total", None)]
    response = post_click_callback(client, "dash-widget-graph", "genre", clicks, {"filters": {}, "cross": []},
                                   board["id"], ["platform"])
    assert response.status_code == 200, response.get_data(as_text=True)
    state = response.get_json()["response"]["dash-state"]["data"]
    assert state["cross"] == [{"column": "Genre", "op": "=", "value": "Sports", "source": "genre"}]


def test_second_user_cannot_draw_edit_or_open_the_dashboard(make_client, app_storage, admin, second_user, board):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    body = widget_children(draw_widget(bob, "genre", "dash-id", board["id"], {"filters": {}, "cross": []}))
    assert "Action" not in body and "widget-error" in body and "no dashboard" in body.lower()

    page = json.dumps(render_page(bob, f"/dashboards/{board['id']}").get_json())
    assert "Games" not in page

    # Saving a widget onto Ada's dashboard by posting its id: refused, nothing changes.
    response = post_callback(
        bob, [("editor-modal", "is_open"), ("editor-feedback", "children"), ("dash-rev", "data")],
        [("editor-save", "n_clicks", 1)],
        [({"type": "editor-field", "index": "ALL"}, "value", []),
         ({"type": "editor-filter-col", "index": "ALL"}, "value", []),
         ({"type": "editor-filter-op", "index": "ALL"}, "value", []),
         ({"type": "editor-filter-value", "index": "ALL"}, "value", []), ("editor-type", "value", "markdown"),
         ("editor-dataset", "value", None), ("editor-title", "value", "pwned"),
         ("editor-description", "value", ""), ("editor-target", "data", {"widget_id": None, "spec": {}}),
         ("dash-id", "data", board["id"]), ("dash-view", "data", {"edit": True}), ("dash-rev", "data", 0)],
        changed=["editor-save.n_clicks"])
    assert response.status_code == 200
    assert "no dashboard" in json.dumps(response.get_json()).lower()
    assert len(app_storage.dashboards.get(admin.principal(), board["id"])["widgets"]) == 2


def test_editor_saves_a_widget_with_its_own_filters(client, app_storage, admin, board, vgsales):
    sign_in(client, "ada@example.com")
    response = post_callback(
        client, [("editor-modal", "is_open"), ("editor-feedback", "children"), ("dash-rev", "data")],
        [("editor-save", "n_clicks", 1)],
        [({"type": "editor-field", "index": "ALL"}, "value", [("x", "Platform"), ("y", "Global_Sales"),
                                                             ("agg", "sum")]),
         ({"type": "editor-filter-col", "index": "ALL"}, "value", [(0, "Genre"), (1, "Year"), (2, None)]),
         ({"type": "editor-filter-op", "index": "ALL"}, "value", [(0, "in"), (1, "between"), (2, "=")]),
         ({"type": "editor-filter-value", "index": "ALL"}, "value", [(0, "Sports, Racing"), (1, "2000, 2005"),
                                                                    (2, None)]),
         ("editor-type", "value", "bar"), ("editor-dataset", "value", vgsales.id),
         ("editor-title", "value", "Sports and racing 2000-2005"), ("editor-description", "value", ""),
         ("editor-target", "data", {"widget_id": None, "spec": {}}), ("dash-id", "data", board["id"]),
         ("dash-view", "data", {"edit": True}), ("dash-rev", "data", 3)],
        changed=["editor-save.n_clicks"])
    assert response.get_json()["response"]["dash-rev"]["data"] == 4
    saved = app_storage.dashboards.get(admin.principal(), board["id"])["widgets"][-1]
    assert saved["spec"]["filters"] == [{"column": "Genre", "op": "in", "value": ["Sports", "Racing"]},
                                        {"column": "Year", "op": "between", "value": [2000, 2005]}]
    assert saved["layout"]["y"] >= 6  # placed below the widgets already there
    output = app_storage.dashboard_views.render_widget(admin.principal(), board["id"], saved["id"], {}, [])
    expected = app_storage.queries.run(admin.principal(), vgsales.id, {
        "type": "bar", "x": "Platform", "y": "Global_Sales", "agg": "sum",
        "filters": [{"column": "Genre", "op": "in", "value": ["Sports", "Racing"]},
                    {"column": "Year", "op": "between", "value": [2000, 2005]}]})
    assert output["kind"] == "figure" and len(expected["rows"]) > 3


def test_viewer_sees_but_cannot_change_the_dashboard(make_client, app_storage, admin, second_user, board):
    workspace = app_storage.workspaces.personal_workspace(admin.principal())
    app_storage.workspaces.add_member(admin.principal(), workspace.id, "bob@example.com", "viewer")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    assert "Action" in widget_children(draw_widget(bob, "genre", "dash-id", board["id"], {"filters": {}, "cross": []}))
    response = post_callback(
        bob, [("dash-rev", "data"), ("dash-edit-feedback", "children")],
        [({"type": "dash-widget-duplicate", "index": "ALL"}, "n_clicks", [("genre", 1)]),
         ({"type": "dash-widget-delete", "index": "ALL"}, "n_clicks", [("genre", 0)])],
        [("dash-id", "data", board["id"]), ("dash-rev", "data", 0)],
        changed=[json.dumps({"index": "genre", "type": "dash-widget-duplicate"}, separators=(",", ":")) + ".n_clicks"])
    assert "viewer" in json.dumps(response.get_json())
    assert len(app_storage.dashboards.get(admin.principal(), board["id"])["widgets"]) == 2


def test_public_link_draws_only_its_dashboard_and_dies_when_revoked(make_client, app_storage, admin, board):
    link = app_storage.dashboards.share(admin.principal(), board["id"])
    token = link["token"]
    visitor = make_client()  # not signed in
    assert visitor.get(link["url"]).status_code == 200
    assert visitor.get("/public/dashboards/not-a-token").status_code == 404

    body = widget_children(draw_widget(visitor, "genre", "public-dash-token", token, {"filters": {}, "cross": []},
                                       prefix="public-"))
    assert "Action" in body
    # The private callback with the dashboard id is closed to a visitor without a session.
    assert draw_widget(visitor, "genre", "dash-id", board["id"], {"filters": {}, "cross": []}).status_code == 401
    # A filter the dashboard does not have is refused.
    body = widget_children(draw_widget(visitor, "total", "public-dash-token", token,
                                       {"filters": {"nope": ["x"]}, "cross": [{"column": "Name", "op": "!=",
                                                                                "value": "x", "source": "genre"}]},
                                       prefix="public-"))
    assert "shared dashboard only takes" in body

    app_storage.dashboards.revoke_share(admin.principal(), board["id"])
    assert visitor.get(link["url"]).status_code == 404
    body = widget_children(draw_widget(visitor, "genre", "public-dash-token", token, {"filters": {}, "cross": []},
                                       prefix="public-"))
    assert "Action" not in body


def test_dashboards_list_create_duplicate_delete(client, make_client, app_storage, admin, second_user, board):
    sign_in(client, "ada@example.com")
    page = json.dumps(render_page(client, "/dashboards").get_json())
    assert "Games" in page and "dashboard-new-open" in page

    response = post_callback(client, [("dashboard-new-feedback", "children"), ("dashboards-redirect", "href")],
                             [("dashboard-new-create", "n_clicks", 1)],
                             [("dashboard-new-source", "value", ""), ("dashboard-new-name", "value", "Blank one")],
                             changed=["dashboard-new-create.n_clicks"])
    href = response.get_json()["response"]["dashboards-redirect"]["href"]
    new_id = int(href.rsplit("/", 1)[1])
    assert app_storage.dashboards.get(admin.principal(), new_id)["name"] == "Blank one"

    def press(who, kind, board_id):
        outputs = {"dashboard-duplicate": [("dashboards-list", "children"), ("dashboards-feedback", "children")],
                   "dashboard-delete": [("dashboard-delete-modal", "is_open"), ("dashboard-delete-text", "children"),
                                        ("dashboard-pending-id", "data")]}[kind]
        extra = [("dashboard-delete-cancel", "n_clicks", 0)] if kind == "dashboard-delete" else []
        return post_callback(who, outputs, [({"type": kind, "index": "ALL"}, "n_clicks", [(board_id, 1)]), *extra],
                             changed=[json.dumps({"index": board_id, "type": kind}, separators=(",", ":"))
                                      + ".n_clicks"])

    assert "Copy of Games" in json.dumps(press(client, "dashboard-duplicate", board["id"]).get_json())
    workspace = board["workspace_id"]
    assert len(app_storage.dashboards.list(admin.principal(), workspace)) == 3

    # Bob posts Ada's dashboard ids to the list's buttons: nothing is copied or deleted.
    bob = make_client()
    sign_in(bob, "bob@example.com")
    assert "no dashboard" in json.dumps(press(bob, "dashboard-duplicate", board["id"]).get_json()).lower()
    delete = post_callback(bob, [("dashboard-delete-modal", "is_open", ), ("dashboards-list", "children"),
                                 ("dashboards-feedback", "children")],
                           [("dashboard-delete-confirm", "n_clicks", 1)], [("dashboard-pending-id", "data", board["id"])],
                           changed=["dashboard-delete-confirm.n_clicks"])
    assert "no dashboard" in json.dumps(delete.get_json()).lower()
    assert len(app_storage.dashboards.list(admin.principal(), workspace)) == 3

    # Ada deletes her copy through the confirmation.
    post_callback(client, [("dashboard-delete-modal", "is_open"), ("dashboards-list", "children"),
                           ("dashboards-feedback", "children")],
                  [("dashboard-delete-confirm", "n_clicks", 1)], [("dashboard-pending-id", "data", new_id)],
                  changed=["dashboard-delete-confirm.n_clicks"])
    assert {b["name"] for b in app_storage.dashboards.list(admin.principal(), workspace)} == {"Games", "Copy of Games"}


def test_table_widget_pages_and_sorts_through_its_callback(client, app_storage, admin, vgsales, board):
    principal = admin.principal()
    widgets = board["widgets"] + [{"id": "games", "layout": {"x": 0, "y": 6, "w": 12, "h": 6}, "spec": {
        "type": "table", "dataset_id": vgsales.id, "columns": ["Name", "Global_Sales"], "page_size": 10}}]
    app_storage.dashboards.update(principal, board["id"], {"widgets": widgets})
    sign_in(client, "ada@example.com")

    def press(trigger_type, view, col=None):
        trigger = {"index": "games", "type": trigger_type, **({"col": col} if col else {})}
        sorts = [(json.dumps({"col": c, "index": "games", "type": "dash-table-sort"}), 1 if c == col else 0)
                 for c in ("Name", "Global_Sales")]
        body = {
            "output": next(k for k, c in client.application.extensions["datainsight_dash"].callback_map.items()
                           if "dash-widget-body" in k and any("dash-table-prev" in json.dumps(i["id"])
                                                              for i in c["inputs"])),
            "outputs": {"id": {"index": "games", "type": "dash-widget-body"}, "property": "children"},
            "inputs": [{"id": {"index": "games", "type": "dash-table-prev"}, "property": "n_clicks",
                        "value": 1 if trigger_type == "dash-table-prev" else 0},
                       {"id": {"index": "games", "type": "dash-table-next"}, "property": "n_clicks",
                        "value": 1 if trigger_type == "dash-table-next" else 0},
                       [{"id": json.loads(i), "property": "n_clicks", "value": v} for i, v in sorts]],
            "state": [{"id": {"index": "games", "type": "dash-table-view"}, "property": "data", "value": view},
                      {"id": "dash-state", "property": "data", "value": {"filters": {}, "cross": []}},
                      {"id": "dash-id", "property": "data", "value": board["id"]}],
            "changedPropIds": [json.dumps(trigger, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        }
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        return json.dumps(response.get_json())

    page_two = press("dash-table-next", {"page": 0})
    assert "11\\u201320 of 16,598 rows" in page_two or "11–20 of 16,598 rows" in page_two
    ordered = press("dash-table-sort", {"page": 1}, col="Global_Sales")
    assert "1\\u201310 of 16,598" in ordered or "1–10 of 16,598" in ordered
    lowest = app_storage.dashboard_views.render_widget(principal, board["id"], "games", {}, [],
                                                       {"sort": "Global_Sales", "descending": False})
    assert lowest["rows"][0][1] == min(r[1] for r in app_storage.queries.run(principal, vgsales.id, {
        "type": "table", "columns": ["Global_Sales"], "sort": "Global_Sales", "page_size": 1})["rows"])
    # A crafted sort column that is not in the dataset is refused with a message.
    with pytest.raises(InvalidSpec) as caught:
        app_storage.dashboard_views.render_widget(principal, board["id"], "games", {}, [], {"sort": 'x"; DROP'})
    assert "DROP" in caught.value.message


def test_opening_the_page_starts_the_widget_queries(client, make_client, app_storage, admin, second_user, board,
                                                    vgsales):
    """GET of the dashboard page warms the cache for the widgets the page will draw; a
    second user's GET of the same page computes nothing for them."""
    import time

    app_storage.queries.clear_cache()
    spec = board["widgets"][0]["spec"]
    bob = make_client()
    sign_in(bob, "bob@example.com")
    bob.get(f"/dashboards/{board['id']}")
    time.sleep(1.0)
    assert app_storage.queries.run(admin.principal(), vgsales.id, spec)["cached"] is False

    app_storage.queries.clear_cache()
    sign_in(client, "ada@example.com")
    assert client.get(f"/dashboards/{board['id']}").status_code == 200
    deadline = time.time() + 10
    while not app_storage.queries._cached(app_storage.queries._key(
            "q", vgsales, app_storage.queries.prepare(vgsales, spec, None))) and time.time() < deadline:
        time.sleep(0.05)
    assert app_storage.queries.run(admin.principal(), vgsales.id, spec)["cached"] is True


def test_the_same_query_at_once_runs_once(app_storage, admin, vgsales, monkeypatch):
    import threading

    queries = app_storage.queries
    queries.clear_cache()
    calls = []
    original = queries._execute

    def slow_execute(*args):
        calls.append(1)
        threading.Event().wait(0.3)
        return original(*args)

    monkeypatch.setattr(queries, "_execute", slow_execute)
    spec = {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum"}
    results = []
    threads = [threading.Thread(target=lambda: results.append(queries.run(admin.principal(), vgsales.id, spec)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len({json.dumps(r["rows"], default=str) for r in results}) == 1
    assert sorted(r["cached"] for r in results) == [False, True, True]


def _press_public_pager(client, widget_id, token, trigger_type, view, columns=(), col=None):
    """POST the public table pager callback as the browser does on a shared dashboard."""
    trigger = {"index": widget_id, "type": f"public-{trigger_type}", **({"col": col} if col else {})}
    key = next(k for k, c in client.application.extensions["datainsight_dash"].callback_map.items()
               if "public-dash-widget-body" in k and any("public-dash-table-prev" in json.dumps(i["id"])
                                                          for i in c["inputs"]))
    body = {
        "output": key,
        "outputs": {"id": {"index": widget_id, "type": "public-dash-widget-body"}, "property": "children"},
        "inputs": [{"id": {"index": widget_id, "type": "public-dash-table-prev"}, "property": "n_clicks",
                    "value": 1 if trigger_type == "dash-table-prev" else 0},
                   {"id": {"index": widget_id, "type": "public-dash-table-next"}, "property": "n_clicks",
                    "value": 1 if trigger_type == "dash-table-next" else 0},
                   [{"id": {"col": c, "index": widget_id, "type": "public-dash-table-sort"}, "property": "n_clicks",
                     "value": 1 if c == col else 0} for c in columns]],
        "state": [{"id": {"index": widget_id, "type": "public-dash-table-view"}, "property": "data", "value": view},
                  {"id": "public-dash-state", "property": "data", "value": {"filters": {}, "cross": []}},
                  {"id": "public-dash-token", "property": "data", "value": token}],
        "changedPropIds": [json.dumps(trigger, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json())


def test_public_table_pages_through_its_token_only(make_client, app_storage, admin, second_user, vgsales, board):
    """The shared page's table has the private page's pager, served by a public-* callback
    that reaches widgets only through the token; a widget of another dashboard (Bob's, or
    Ada's own unshared one) gets nothing."""
    principal = admin.principal()
    table = {"id": "games", "layout": {"x": 0, "y": 6, "w": 12, "h": 6}, "spec": {
        "type": "table", "dataset_id": vgsales.id, "columns": ["Name", "Global_Sales"], "page_size": 10}}
    app_storage.dashboards.update(principal, board["id"], {"widgets": board["widgets"] + [table]})
    token = app_storage.dashboards.share(principal, board["id"])["token"]
    visitor = make_client()  # not signed in

    first = json.dumps(render_page(visitor, f"/public/dashboards/{token}").get_json())
    assert "public-dash-table-next" in first and "1\\u201310 of 16,598 rows" in first

    page_two = _press_public_pager(visitor, "games", token, "dash-table-next", {"page": 0})
    assert "11\\u201320 of 16,598 rows" in page_two
    assert "public-dash-table-prev" in page_two  # the redrawn page keeps its pager
    expected = app_storage.queries.run(principal, vgsales.id, {"type": "table", "columns": ["Name"], "page": 1,
                                                               "page_size": 10})["rows"][0][1]
    assert json.dumps(expected)[1:-1] in page_two
    ordered = _press_public_pager(visitor, "games", token, "dash-table-sort", {"page": 3},
                                  columns=("Name", "Global_Sales"), col="Global_Sales")
    assert "1\\u201310 of 16,598 rows" in ordered and "Global_Sales \\u25b2" in ordered
    # A crafted sort column is refused with a message, not run.
    crafted = _press_public_pager(visitor, "games", token, "dash-table-sort", {"page": 0},
                                  columns=('x"; DROP',), col='x"; DROP')
    assert "rows" not in crafted and "DROP" in crafted

    # Widgets of other dashboards, named with this token, draw nothing.
    bob = second_user.principal()
    bobs_set = app_storage.datasets.create_from_file(
        bob, app_storage.workspaces.personal_workspace(bob).id, FIXTURES / "vgsales.csv", "mine.csv")
    app_storage.dashboards.create(bob, bobs_set.workspace_id, {"name": "Bob's", "widgets": [
        {"id": "secret", "layout": {"x": 0, "y": 0, "w": 6, "h": 6},
         "spec": {"type": "table", "dataset_id": bobs_set.id, "columns": ["Name"]}}]})
    app_storage.dashboards.create(principal, vgsales.workspace_id, {"name": "Ada's private", "widgets": [
        {"id": "private", "layout": {"x": 0, "y": 0, "w": 6, "h": 6},
         "spec": {"type": "table", "dataset_id": vgsales.id, "columns": ["Name"]}}]})
    for other in ("secret", "private"):
        response = _press_public_pager(visitor, other, token, "dash-table-next", {"page": 0})
        assert "of 16,598 rows" not in response and "not on the dashboard" in response
    # A wrong token gets nothing, and the private pager stays closed to a visitor.
    assert "of 16,598 rows" not in _press_public_pager(visitor, "games", "not-a-token", "dash-table-next", {})
    private_key = next(k for k in visitor.application.extensions["datainsight_dash"].callback_map
                       if k.startswith('{"index":["MATCH"],"type":"dash-widget-body"}'))
    assert visitor.post("/_dash-update-component", json={
        "output": private_key, "outputs": {"id": {"index": "games", "type": "dash-widget-body"},
                                           "property": "children"},
        "inputs": [], "state": [{"id": "dash-id", "property": "data", "value": board["id"]}],
        "changedPropIds": []}).status_code == 401
