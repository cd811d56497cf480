"""Clicking a bar on a dashboard that has a filter on the bar's column: the click sets the
chip and the filter's dropdown; clearing the chip clears the dropdown; changing the
dropdown by hand takes the chip away. Through the callbacks as the browser posts them,
and a second user whose crafted click gets nothing."""
import json
from pathlib import Path

import pytest

from tests.conftest import _input_name, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPORTS_CLICK = {"points": [{"x": "Sports", "y": 1.0, "customdata": ["Sports"], "curveNumber": 0, "pointNumber": 0}]}


def _key(client, input_type: str) -> str:
    """The callback_map key of the callback whose pattern input is ``input_type`` and that
    writes the dashboard state."""
    callbacks = client.application.extensions["datainsight_dash"].callback_map
    return next(k for k, c in callbacks.items()
                if "dash-state.data" in k and any(_input_name(i["id"]) == input_type for i in c["inputs"]))


def post_click_callback(client, input_type: str, triggered: str, inputs: list, state: dict, board_id, selects: list,
                        prefix: str = "", key_id: str = "dash-id"):
    """POST the click (``dash-widget-graph``) or chip (``dash-chip``) callback; ``inputs``
    are (index, value) of the pattern input, ``selects`` the ids of the page's
    multi-select dropdowns (the wildcard output)."""
    body = {
        "output": _key(client, f"{prefix}{input_type}"),
        "outputs": [{"id": f"{prefix}dash-state", "property": "data"},
                    [{"id": {"index": s, "type": f"{prefix}dash-filter-select"}, "property": "value"} for s in selects]],
        "inputs": [[{"id": {"index": i, "type": f"{prefix}{input_type}"},
                     "property": "clickData" if input_type.endswith("graph") else "n_clicks", "value": v}
                    for i, v in inputs]],
        "state": [{"id": f"{prefix}dash-state", "property": "data", "value": state},
                  {"id": key_id, "property": "data", "value": board_id}],
        "changedPropIds": [json.dumps({"index": triggered, "type": f"{prefix}{input_type}"}, separators=(",", ":"))
                           + (".clickData" if input_type.endswith("graph") else ".n_clicks")],
    }
    return client.post("/_dash-update-component", json=body)


def set_filters_callback(client, board_id, selects: list, state: dict):
    """POST set_filters as the browser does when a multi-select dropdown changes."""
    key = _key(client, "dash-filter-select")
    inputs = [[{"id": {"index": fid, "type": "dash-filter-select"}, "property": "value", "value": v}
               for fid, v in selects]] + [[] for _ in range(4)]
    body = {"output": key, "outputs": {"id": "dash-state", "property": "data"}, "inputs": inputs,
            "state": [{"id": "dash-state", "property": "data", "value": state},
                      {"id": "dash-id", "property": "data", "value": board_id}],
            "changedPropIds": [json.dumps({"index": selects[0][0], "type": "dash-filter-select"},
                                          separators=(",", ":")) + ".value"]}
    return client.post("/_dash-update-component", json=body)


@pytest.fixture
def board(app_storage, admin):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    vgsales = app_storage.datasets.create_from_file(principal, workspace.id, FIXTURES / "vgsales.csv", "vgsales.csv")
    return app_storage.dashboards.create(principal, workspace.id, {
        "name": "Games",
        "widgets": [
            {"id": "genre", "spec": {"type": "bar", "dataset_id": vgsales.id, "x": "Genre", "y": "Global_Sales",
                                     "agg": "sum", "title": "Sales by genre"},
             "layout": {"x": 0, "y": 0, "w": 6, "h": 6}},
            {"id": "total", "spec": {"type": "kpi", "dataset_id": vgsales.id, "y": "Global_Sales", "agg": "sum",
                                     "title": "Total sales"},
             "layout": {"x": 6, "y": 0, "w": 3, "h": 3}},
        ],
        "filters": [{"id": "platform", "column": "Platform", "kind": "multi_select", "value": None},
                    {"id": "genre-filter", "column": "Genre", "kind": "multi_select", "value": None}],
    })


def answer(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


def changes_nothing(response) -> bool:
    """Dash's answer when a callback updates nothing: 204, or 200 with no outputs."""
    return response.status_code == 204 or (response.status_code == 200 and response.get_json()["response"] == {})


def dropdowns(body) -> dict:
    return {json.loads(k)["index"]: v["value"] for k, v in body.items() if "dash-filter-select" in k}


def test_a_click_sets_the_dropdown_and_the_chip_clears_both(client, admin, board):
    sign_in(client, "ada@example.com")
    selects = ["platform", "genre-filter"]
    start = {"filters": {"platform": ["Wii"]}, "cross": []}
    body = answer(post_click_callback(client, "dash-widget-graph", "genre", [("genre", SPORTS_CLICK), ("total", None)],
                                      start, board["id"], selects))
    state = body["dash-state"]["data"]
    assert state["cross"] == [{"column": "Genre", "op": "=", "value": "Sports", "source": "genre"}]
    assert state["filters"] == {"platform": ["Wii"], "genre-filter": ["Sports"]}
    assert dropdowns(body) == {"platform": ["Wii"], "genre-filter": ["Sports"]}

    # The dropdown's new value comes back through set_filters: nothing changes then.
    again = set_filters_callback(client, board["id"], [("platform", ["Wii"]), ("genre-filter", ["Sports"])], state)
    assert changes_nothing(again)

    # Clearing the chip clears the dropdown (and keeps the platform).
    body = answer(post_click_callback(client, "dash-chip", 0, [(0, 1)], state, board["id"], selects))
    assert body["dash-state"]["data"] == {"filters": {"platform": ["Wii"], "genre-filter": None}, "cross": []}
    assert dropdowns(body) == {"platform": ["Wii"], "genre-filter": []}


def test_the_same_bar_again_clears_the_dropdown(client, admin, board):
    sign_in(client, "ada@example.com")
    state = {"filters": {"genre-filter": ["Sports"]},
             "cross": [{"column": "Genre", "op": "=", "value": "Sports", "source": "genre"}]}
    body = answer(post_click_callback(client, "dash-widget-graph", "genre", [("genre", SPORTS_CLICK)], state,
                                      board["id"], ["platform", "genre-filter"]))
    assert body["dash-state"]["data"]["cross"] == []
    assert dropdowns(body) == {"platform": [], "genre-filter": []}


def test_changing_the_dropdown_by_hand_takes_the_chip_away(client, admin, board):
    sign_in(client, "ada@example.com")
    state = {"filters": {"genre-filter": ["Sports"]},
             "cross": [{"column": "Genre", "op": "=", "value": "Sports", "source": "genre"},
                       {"column": "Platform", "op": "=", "value": "Wii", "source": "other"}]}
    response = set_filters_callback(client, board["id"], [("platform", None), ("genre-filter", ["Sports", "Racing"])],
                                    state)
    new = answer(response)["dash-state"]["data"]
    assert new["filters"] == {"platform": None, "genre-filter": ["Sports", "Racing"]}
    # The Genre chip goes (the dropdown states the choice); the Platform click stays.
    assert new["cross"] == [{"column": "Platform", "op": "=", "value": "Wii", "source": "other"}]


def test_a_click_on_a_column_without_a_filter_leaves_the_dropdowns(client, admin, board, app_storage):
    principal = admin.principal()
    stored = app_storage.dashboards.get(principal, board["id"])
    app_storage.dashboards.update(principal, board["id"], {**{k: stored[k] for k in ("name", "widgets")},
                                                           "filters": stored["filters"][:1]})
    sign_in(client, "ada@example.com")
    body = answer(post_click_callback(client, "dash-widget-graph", "genre", [("genre", SPORTS_CLICK)],
                                      {"filters": {"platform": ["Wii"]}, "cross": []}, board["id"], ["platform"]))
    assert body["dash-state"]["data"]["filters"] == {"platform": ["Wii"]}
    assert dropdowns(body) == {"platform": ["Wii"]}


def test_a_second_users_crafted_click_gets_nothing(make_client, admin, second_user, board):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    response = post_click_callback(bob, "dash-widget-graph", "genre", [("genre", SPORTS_CLICK)],
                                   {"filters": {}, "cross": []}, board["id"], ["platform", "genre-filter"])
    assert changes_nothing(response)  # no state, no dropdown values
    response = post_click_callback(bob, "dash-chip", 0, [(0, 1)],
                                   {"filters": {"genre-filter": ["Sports"]},
                                    "cross": [{"column": "Genre", "op": "=", "value": "Sports", "source": "genre"}]},
                                   board["id"], ["genre-filter"])
    # The chip clears what bob himself posted, and nothing of the board's comes back.
    assert response.status_code == 200
    assert "Action" not in response.get_data(as_text=True)


def test_the_public_link_syncs_its_dropdown_too(make_client, app_storage, admin, board):
    token = app_storage.dashboards.share(admin.principal(), board["id"])["token"]
    visitor = make_client()  # not signed in
    body = answer(post_click_callback(visitor, "dash-widget-graph", "genre", [("genre", SPORTS_CLICK)],
                                      {"filters": {}, "cross": []}, token, ["platform", "genre-filter"],
                                      prefix="public-", key_id="public-dash-token"))
    assert body["public-dash-state"]["data"]["filters"] == {"genre-filter": ["Sports"]}
    assert dropdowns(body) == {"platform": [], "genre-filter": ["Sports"]}
    # A made-up token gets nothing.
    response = post_click_callback(visitor, "dash-widget-graph", "genre", [("genre", SPORTS_CLICK)],
                                   {"filters": {}, "cross": []}, "not-a-token", ["genre-filter"],
                                   prefix="public-", key_id="public-dash-token")
    assert changes_nothing(response)
