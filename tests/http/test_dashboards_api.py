"""Dashboards through the API: the query contract, dashboards CRUD, sharing, generated
dashboards and the widget catalogue; a viewer cannot edit, another user or workspace
reaches nothing, a revoked link is gone, a share token is no key to the API."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import bearer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QUERY = {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "group": None, "time_grain": None,
         "filters": [{"column": "Platform", "op": "in", "value": ["PS2", "Wii"]}], "sort": "-y", "limit": 10}


def upload(client, token, name="vgsales.csv", **form):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO((FIXTURES / name).read_bytes()), name), **form},
                           headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def vg(client, ada):
    return upload(client, ada)


def test_query_answers_the_issue_contract(client, ada, vg):
    response = client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": QUERY}, headers=bearer(ada))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"columns", "rows", "truncated", "cached"}
    assert body["columns"] == ["x", "y"] and len(body["rows"]) == 10
    assert body["rows"][0][0] == "Sports" and body["rows"][0][1] == pytest.approx(565.47)
    assert (body["truncated"], body["cached"]) == (False, False)
    again = client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": QUERY}, headers=bearer(ada)).get_json()
    assert again["cached"] is True and again["rows"] == body["rows"]
    count = client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": {"type": "kpi", "agg": "count"}},
                        headers=bearer(ada)).get_json()
    assert count["rows"] == [[1, None, 16598, None]]
    rendered = client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": QUERY, "render": True},
                           headers=bearer(ada)).get_json()
    assert rendered["kind"] == "figure" and rendered["figure"]["data"][0]["x"][0] == "Sports"


@pytest.mark.parametrize("spec,message", [
    ({"type": "bar", "x": 'x"); DROP TABLE t; --', "agg": "count"}, "There is no column"),
    ({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "avg"}, "Unknown aggregation 'avg'"),
    ({"type": "pie3d", "x": "Genre"}, "Unknown widget type 'pie3d'"),
])
def test_query_refuses_bad_specs_with_a_message(client, ada, vg, spec, message):
    response = client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": spec}, headers=bearer(ada))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_spec" and message in error["message"]


def test_query_needs_a_dataset_and_a_spec(client, ada, vg):
    assert client.post("/api/v1/query", json={"spec": QUERY}, headers=bearer(ada)).status_code == 400
    assert client.post("/api/v1/query", json={"dataset_id": vg["id"]}, headers=bearer(ada)).status_code == 400


def test_dashboards_crud(client, ada, vg):
    payload = {"name": "Games", "description": "d", "tabs": [{"id": "main", "title": "Overview"}],
               "widgets": [{"id": "w1", "spec": {**QUERY, "dataset_id": vg["id"]}, "layout": {"x": 0, "y": 0, "w": 6, "h": 4},
                            "tab": "main"}],
               "filters": [{"id": "platform", "column": "Platform", "kind": "multi_select", "value": None}]}
    response = client.post("/api/v1/dashboards", json=payload, headers=bearer(ada))
    assert response.status_code == 201
    board = response.get_json()
    assert board["name"] == "Games" and board["widgets"][0]["spec"]["dataset_id"] == vg["id"]
    listed = client.get("/api/v1/dashboards", headers=bearer(ada)).get_json()["dashboards"]
    assert [b["id"] for b in listed] == [board["id"]]
    url = f"/api/v1/dashboards/{board['id']}"
    moved = {**board["widgets"][0], "layout": {"x": 6, "y": 2, "w": 6, "h": 5}}
    patched = client.patch(url, json={"widgets": [moved], "name": "Games 2"}, headers=bearer(ada))
    assert patched.status_code == 200
    assert client.get(url, headers=bearer(ada)).get_json()["widgets"][0]["layout"] == {"x": 6, "y": 2, "w": 6, "h": 5}
    rendered = client.post(f"{url}/widgets/w1/render", json={"dashboard_filters": [
        {"id": "platform", "column": "Platform", "kind": "multi_select", "value": ["Wii"]}]}, headers=bearer(ada))
    assert rendered.status_code == 200 and rendered.get_json()["figure"]["data"][0]["x"][0] == "Sports"
    copy = client.post(f"{url}/duplicate", json={}, headers=bearer(ada))
    assert copy.status_code == 201 and copy.get_json()["name"] == "Copy of Games 2"
    bad = client.patch(url, json={"widgets": [{"spec": {"type": "bar", "x": "Nope", "dataset_id": vg["id"]}}]},
                       headers=bearer(ada))
    assert bad.status_code == 400 and "Nope" in bad.get_json()["error"]["message"]
    assert client.delete(url, headers=bearer(ada)).status_code == 204
    assert client.get(url, headers=bearer(ada)).status_code == 404


def test_other_workspace_gets_404_everywhere(client, ada, bob, vg):
    board = client.post("/api/v1/dashboards", json={"name": "Mine", "widgets": [
        {"id": "w1", "spec": {"type": "kpi", "agg": "count", "dataset_id": vg["id"]}}]}, headers=bearer(ada)).get_json()
    url = f"/api/v1/dashboards/{board['id']}"
    assert client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": QUERY}, headers=bearer(bob)).status_code == 404
    assert client.get(url, headers=bearer(bob)).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=bearer(bob)).status_code == 404
    assert client.delete(url, headers=bearer(bob)).status_code == 404
    assert client.post(f"{url}/share", headers=bearer(bob)).status_code == 404
    assert client.post(f"{url}/widgets/w1/render", json={}, headers=bearer(bob)).status_code == 404
    assert client.post(f"/api/v1/datasets/{vg['id']}/dashboard", headers=bearer(bob)).status_code == 404
    assert client.get("/api/v1/dashboards", headers=bearer(bob)).get_json()["dashboards"] == []
    # Nor can bob put ada's dataset on a dashboard of his own.
    attempt = client.post("/api/v1/dashboards", json={"name": "Theirs", "widgets": [
        {"spec": {"type": "kpi", "agg": "count", "dataset_id": vg["id"]}}]}, headers=bearer(bob))
    assert attempt.status_code == 404


def test_viewer_can_view_but_not_edit(client, ada, bob, app_storage, admin, second_user):
    team = app_storage.workspaces.create(admin.principal(), "Team").id
    app_storage.workspaces.add_member(admin.principal(), team, "bob@example.com", "viewer")
    dataset = upload(client, ada, workspace_id=str(team))
    board = client.post("/api/v1/dashboards", json={"workspace_id": team, "name": "Team", "widgets": [
        {"id": "w1", "spec": {"type": "kpi", "agg": "count", "dataset_id": dataset["id"]}}]}, headers=bearer(ada))
    assert board.status_code == 201
    url = f"/api/v1/dashboards/{board.get_json()['id']}"
    seen = client.get(url, headers=bearer(bob))
    assert seen.status_code == 200 and seen.get_json()["role"] == "viewer"
    assert client.post("/api/v1/query", json={"dataset_id": dataset["id"], "spec": {"type": "kpi", "agg": "count"}},
                       headers=bearer(bob)).status_code == 200
    for response in (client.patch(url, json={"name": "Mine now"}, headers=bearer(bob)),
                     client.delete(url, headers=bearer(bob)),
                     client.post(f"{url}/share", headers=bearer(bob)),
                     client.delete(f"{url}/share", headers=bearer(bob)),
                     client.post("/api/v1/dashboards", json={"workspace_id": team, "name": "x"}, headers=bearer(bob)),
                     client.post(f"/api/v1/datasets/{dataset['id']}/dashboard", headers=bearer(bob))):
        assert response.status_code == 403
    assert client.get(url, headers=bearer(ada)).get_json()["name"] == "Team"


def test_share_revoke_and_what_a_token_can_reach(client, ada, app_storage, vg):
    board = client.post("/api/v1/dashboards", json={"name": "Public", "widgets": [
        {"id": "w1", "spec": {**QUERY, "dataset_id": vg["id"]}}]}, headers=bearer(ada)).get_json()
    url = f"/api/v1/dashboards/{board['id']}/share"
    response = client.post(url, headers=bearer(ada))
    assert response.status_code == 201
    link = response.get_json()
    assert {"token", "url"} <= set(link) and link["url"] == f"/public/dashboards/{link['token']}"
    shared = app_storage.queries.render_shared(link["token"], "w1")
    assert shared["figure"]["data"][0]["x"][0] == "Sports"
    # The share token is not an API key: no query, no dashboard, nothing.
    for call in (lambda h: client.post("/api/v1/query", json={"dataset_id": vg["id"], "spec": {"type": "table"}}, headers=h),
                 lambda h: client.get(f"/api/v1/dashboards/{board['id']}", headers=h),
                 lambda h: client.get(f"/api/v1/datasets/{vg['id']}/rows", headers=h)):
        assert call(bearer(link["token"])).status_code == 401
    # Through the link only the dashboard's widgets run: not another spec, not another column.
    from storage.errors import Forbidden, NotFound

    with pytest.raises(NotFound):
        app_storage.queries.render_shared(link["token"], "not-a-widget")
    with pytest.raises(Forbidden):
        app_storage.queries.render_shared(link["token"], "w1", [{"column": "Name", "op": "=", "value": "Tetris"}])
    assert client.get(f"/api/v1/dashboards/{board['id']}", headers=bearer(ada)).get_json()["shared"] is True
    assert client.delete(url, headers=bearer(ada)).status_code == 204
    with pytest.raises(NotFound):
        app_storage.queries.render_shared(link["token"], "w1")
    with pytest.raises(NotFound):
        app_storage.dashboards.get_shared(link["token"])


def test_generate_from_a_dataset(client, ada, vg):
    response = client.post(f"/api/v1/datasets/{vg['id']}/dashboard", headers=bearer(ada))
    assert response.status_code == 201
    board = response.get_json()
    assert board["name"] == "vgsales: video game sales" and len(board["widgets"]) >= 10
    assert all(w["spec"]["dataset_id"] == vg["id"] for w in board["widgets"])
    listed = client.get("/api/v1/dashboards", headers=bearer(ada)).get_json()["dashboards"]
    assert board["id"] in [b["id"] for b in listed]


def test_widget_types_catalogue(client, ada):
    response = client.get("/api/v1/widget-types", headers=bearer(ada))
    assert response.status_code == 200
    types = {t["name"]: t for t in response.get_json()["widget_types"]}
    assert len(types) == 17 and types["analysis"]["fields"][4]["kind"] == "object" and types["map"]["icon"] == "globe"
    assert {f["name"] for f in types["pivot"]["fields"]} >= {"rows", "columns", "values", "agg"}
    assert client.get("/api/v1/widget-types").status_code == 401
