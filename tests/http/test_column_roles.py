"""Column roles through the API and the Columns tab: list with reasons, corrections by
editors, clear 400/403/404 answers, and a second user whose crafted callback post
changes nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import bearer, render_page, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def flights(app_storage, admin):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    return app_storage.datasets.create_from_file(principal, workspace.id, FIXTURES / "public" / "flights_sample.csv",
                                                 "flights.csv")


@pytest.fixture
def team_dataset(app_storage, admin, second_user):
    """A dataset in a team workspace where Bob is a viewer."""
    principal = admin.principal()
    team = app_storage.workspaces.create(principal, "Team").id
    app_storage.workspaces.add_member(principal, team, "bob@example.com", "viewer")
    return app_storage.datasets.create_from_file(principal, team, FIXTURES / "public" / "penguins.csv", "penguins.csv")


def test_list_columns_with_roles_and_reasons(client, ada, flights):
    response = client.get(f"/api/v1/datasets/{flights.id}/columns", headers=bearer(ada))
    assert response.status_code == 200
    body = response.get_json()
    assert body["dataset_id"] == flights.id
    columns = {c["name"]: c for c in body["columns"]}
    assert [c["name"] for c in body["columns"]] == flights.column_names
    assert set(columns["month"]) >= {"name", "type", "role", "detail", "reason", "source"}
    assert (columns["month"]["role"], columns["month"]["detail"], columns["month"]["type"]) == \
        ("date_part", "month", "integer")
    assert columns["dep_delay"]["role"] == "measure" and columns["flight"]["role"] == "code"
    assert columns["month"]["source"] == "inferred" and "1 to 12" in columns["month"]["reason"]


def test_patch_a_role_and_back_to_auto(client, ada, flights):
    url = f"/api/v1/datasets/{flights.id}/columns/flight"
    response = client.patch(url, json={"role": "category"}, headers=bearer(ada))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["role"] == "category" and response.get_json()["source"] == "person"
    listed = client.get(f"/api/v1/datasets/{flights.id}/columns", headers=bearer(ada)).get_json()["columns"]
    assert next(c for c in listed if c["name"] == "flight")["role"] == "category"
    detail = client.patch(f"/api/v1/datasets/{flights.id}/columns/hour", json={"role": "date_part", "detail": "hour"},
                          headers=bearer(ada))
    assert detail.status_code == 200 and detail.get_json()["detail"] == "hour"
    back = client.patch(url, json={"role": "auto"}, headers=bearer(ada))
    assert back.status_code == 200 and (back.get_json()["role"], back.get_json()["source"]) == ("code", "inferred")


def test_column_names_with_slashes_and_spaces(client, ada, app_storage, admin, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("od280/od315 of wines,Spending Score (1-100)\n" + "".join(f"{i / 10},{i}\n" for i in range(50)))
    principal = admin.principal()
    dataset = app_storage.datasets.create_from_file(principal, app_storage.workspaces.personal_workspace(principal).id,
                                                    path, "odd.csv")
    response = client.patch(f"/api/v1/datasets/{dataset.id}/columns/od280/od315 of wines",
                            json={"role": "measure"}, headers=bearer(ada))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "od280/od315 of wines"


@pytest.mark.parametrize("body,message", [
    ({"role": "average"}, "'average' is not a column role"),
    ({"role": "date_part", "detail": "fortnight"}, "'fortnight' is not a detail"),
    ({"role": 5}, "not a column role"),
    ({}, "Send the column's role"),
])
def test_bad_roles_get_400_with_a_message(client, ada, flights, body, message):
    response = client.patch(f"/api/v1/datasets/{flights.id}/columns/carrier", json=body, headers=bearer(ada))
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_measure_on_text_is_refused(client, ada, flights):
    response = client.patch(f"/api/v1/datasets/{flights.id}/columns/carrier", json={"role": "measure"},
                            headers=bearer(ada))
    assert response.status_code == 400 and "numbers" in response.get_json()["error"]["message"]


def test_unknown_column_404(client, ada, flights):
    response = client.patch(f"/api/v1/datasets/{flights.id}/columns/nope", json={"role": "code"}, headers=bearer(ada))
    assert response.status_code == 404


def test_other_users_dataset_404_and_viewer_403(client, ada, bob, flights, team_dataset, app_storage):
    assert client.get(f"/api/v1/datasets/{flights.id}/columns", headers=bearer(bob)).status_code == 404
    assert client.patch(f"/api/v1/datasets/{flights.id}/columns/flight", json={"role": "category"},
                        headers=bearer(bob)).status_code == 404
    assert client.get("/api/v1/datasets/abc/columns", headers=bearer(ada)).status_code == 404
    viewer = client.get(f"/api/v1/datasets/{team_dataset.id}/columns", headers=bearer(bob))
    assert viewer.status_code == 200
    refused = client.patch(f"/api/v1/datasets/{team_dataset.id}/columns/year", json={"role": "measure"},
                           headers=bearer(bob))
    assert refused.status_code == 403
    assert app_storage.roles.get(ada_principal(app_storage), flights.id)["flight"]["source"] == "inferred"
    assert app_storage.roles.get(ada_principal(app_storage), team_dataset.id)["year"]["source"] == "inferred"


def ada_principal(app_storage):
    return app_storage.users.get_by_email("ada@example.com").principal()


# --- the Columns tab ------------------------------------------------------------------------


def save_role(client, dataset_id, column, value):
    """POST the Columns tab's MATCH callback as the browser does when a choice changes."""
    key = json.dumps({"index": ["MATCH"], "type": "column-role-reason"}, separators=(",", ":")) + ".children"
    body = {
        "output": key,
        "outputs": {"id": {"index": column, "type": "column-role-reason"}, "property": "children"},
        "inputs": [{"id": {"index": column, "type": "column-role"}, "property": "value", "value": value}],
        "state": [{"id": "dataset-id", "property": "data", "value": dataset_id}],
        "changedPropIds": [json.dumps({"index": column, "type": "column-role"}, separators=(",", ":")) + ".value"],
    }
    return client.post("/_dash-update-component", json=body)


def test_columns_tab_shows_roles_and_editors_change_them(client, admin, flights, app_storage):
    sign_in(client, "ada@example.com")
    page = json.dumps(render_page(client, f"/datasets/{flights.id}").get_json())
    assert "dataset-schema" in page and "column-role" in page
    assert "Named month, with whole numbers from 1 to 12" in page
    assert "Automatic: Date part: month of the year" in page or "Automatic: Date part: month" in page
    response = save_role(client, flights.id, "flight", "category")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "set by a person" in response.get_data(as_text=True)
    assert app_storage.roles.get(admin.principal(), flights.id)["flight"]["role"] == "category"
    response = save_role(client, flights.id, "month", "date_part:month")
    assert app_storage.roles.get(admin.principal(), flights.id)["month"]["source"] == "person"
    response = save_role(client, flights.id, "flight", "auto")
    assert app_storage.roles.get(admin.principal(), flights.id)["flight"]["source"] == "inferred"
    refused = save_role(client, flights.id, "carrier", "measure")
    assert "only a column of numbers can be a measure" in refused.get_data(as_text=True)


def test_a_second_user_crafting_the_callback_changes_nothing(make_client, admin, second_user, flights, app_storage,
                                                              team_dataset):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    response = save_role(bob, flights.id, "flight", "category")
    assert response.status_code == 200
    assert "no dataset" in response.get_data(as_text=True).lower()
    assert app_storage.roles.get(admin.principal(), flights.id)["flight"]["source"] == "inferred"
    # a viewer of the team's dataset sees its roles read-only and cannot post a change
    page = json.dumps(render_page(bob, f"/datasets/{team_dataset.id}").get_json())
    assert "column-role-text" in page and '"type": "column-role"' not in page
    response = save_role(bob, team_dataset.id, "year", "measure")
    assert "editor" in response.get_data(as_text=True)
    assert app_storage.roles.get(admin.principal(), team_dataset.id)["year"]["source"] == "inferred"
    # anonymous: no session, no change
    anonymous = make_client()
    assert save_role(anonymous, flights.id, "flight", "category").status_code in (401, 403)
    assert app_storage.roles.get(admin.principal(), flights.id)["flight"]["source"] == "inferred"
