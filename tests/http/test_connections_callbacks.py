"""The Connections page through its Dash callbacks, as a browser (or an attacker) posts
them: the owner sees a connection's settings, an editor only its name and kind, a viewer
a message; a second user who is not a member, posting Ada's connection and workspace
ids, gets no settings, no tables, no copy, and cannot delete it. No database server is
needed: the connection is saved without the test on save (nothing listens at its port),
and every refusal here comes before any connection is tried."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from storage.errors import NotFound
from tests.conftest import _input_name, _post_callback, render_page, sign_in

NAME, HOST, PORT, DATABASE, USER = "Ada warehouse", "127.0.0.1", 1, "shop_db", "shop_reader"
SECRET = "Pw-never-shown-4711"


def dumped(response) -> str:
    """The answer as JSON text (Dash writes "/" as \\u002f; this does not)."""
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    return json.dumps(response.get_json(), ensure_ascii=False) if response.status_code == 200 else ""


def post(client, trigger, outputs, inputs, state=()):
    """POST the callback that ``trigger`` (the first input's id) fires, like the renderer."""
    callbacks = client.application.extensions["datainsight_dash"].callback_map
    wanted = _input_name(trigger[0] if isinstance(trigger, tuple) else trigger)
    keys = [k for k, v in callbacks.items() if any(_input_name(i["id"]) == wanted for i in v["inputs"])]
    assert len(keys) == 1, keys
    first = inputs[0]
    cid = first[0]
    if isinstance(cid, dict) and cid.get("index") == "ALL":
        changed_id = {"index": first[2][0][0], "type": cid["type"]}
    else:
        changed_id = cid
    changed = (json.dumps(changed_id, sort_keys=True, separators=(",", ":")) if isinstance(changed_id, dict)
               else changed_id) + "." + first[1]
    return _post_callback(client, keys[0], outputs, inputs, state, changed=[changed])


def cid(part, index):
    return {"index": index, "type": f"conn-{part}"}


@pytest.fixture
def shop(app_storage, admin):
    """Ada's connection in her workspace (saved without the test on save)."""
    app_storage.connections.test_on_save = False
    app_storage.connections.allow_loopback = True  # its test connects to a closed port on 127.0.0.1
    workspace = app_storage.workspaces.personal_workspace(admin.principal())
    made = app_storage.connections.create(admin.principal(), workspace.id, {
        "name": NAME, "kind": "postgresql", "host": HOST, "port": PORT, "database": DATABASE,
        "user": USER, "password": SECRET, "options": {"sslmode": "require"}})
    return {"id": made["id"], "workspace_id": workspace.id}


def test_the_owner_sees_the_settings_and_the_form(client, admin, shop):
    sign_in(client, "ada@example.com")
    page = dumped(render_page(client, "/connections"))
    assert NAME in page and f"{HOST}:{PORT}/{DATABASE}" in page and USER in page
    assert "TLS: require" in page and '"conn-save"' in page and '"conn-delete-open"' in page
    assert SECRET not in page
    # Test answers from the database's side: nothing listens at port 1.
    tested = dumped(post(client, cid("test", shop["id"]), [(cid("test-result", shop["id"]), "children")],
                         [(cid("test", shop["id"]), "n_clicks", 1)]))
    assert "Nothing answers at" in tested and SECRET not in tested


def test_a_stranger_posting_the_owners_ids_gets_nothing(make_client, app_storage, admin, second_user, shop):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    index = shop["id"]

    own_page = dumped(render_page(bob, "/connections"))
    assert NAME not in own_page and HOST not in own_page

    # The list drawn for Ada's workspace id.
    listed = dumped(post(bob, "conn-rev", [("conn-list", "children")], [("conn-rev", "data", 1)],
                         [("conn-workspace-id", "data", shop["workspace_id"])]))
    assert NAME not in listed and DATABASE not in listed and "There is no workspace" in listed

    # Test, Tables and the copy form's tables: "no connection", no settings, no table.
    for trigger, output in (("test", "test-result"), ("tables-open", "tables")):
        answer = dumped(post(bob, cid(trigger, index), [(cid(output, index), "children")],
                             [(cid(trigger, index), "n_clicks", 1)], [(cid(output, index), "children", None)]
                             if trigger == "tables-open" else ()))
        assert f"There is no connection {index}" in answer
        assert HOST not in answer and DATABASE not in answer and USER not in answer
    opened = dumped(post(bob, cid("copy-open", index),
                         [(cid("copy", index), "is_open"), (cid("copy-table", index), "options"),
                          (cid("copy-tables-data", index), "data"), (cid("copy-result", index), "children")],
                         [(cid("copy-open", index), "n_clicks", 1)],
                         [(cid("copy", index), "is_open", False), (cid("copy-table", index), "options", [])]))
    body = json.loads(opened)["response"]
    assert body[json.dumps(cid("copy-table", index), sort_keys=True, separators=(",", ":"))]["options"] == []
    assert f"There is no connection {index}" in opened

    # Copy into a dataset: refused, no job, no dataset.
    copied = dumped(post(bob, cid("copy-run", index),
                         [(cid(p, index), prop) for p, prop in (("copy-job", "data"), ("copy-poll", "disabled"),
                                                                ("copy-running", "style"), ("copy-status", "children"),
                                                                ("copy-result", "children"), ("copy-run", "disabled"))],
                         [(cid("copy-run", index), "n_clicks", 1)],
                         [(cid("copy-what", index), "value", "sql"), (cid("copy-table", index), "value", None),
                          (cid("copy-sql", index), "value", "SELECT 1 AS x"),
                          (cid("copy-name", index), "value", "stolen"),
                          (cid("copy-refresh-kind", index), "value", "manual"),
                          (cid("copy-refresh-every", index), "value", 1),
                          (cid("copy-refresh-at", index), "value", "06:00"),
                          (cid("copy-refresh-zone", index), "value", "UTC"),
                          (cid("copy-incremental", index), "value", "")]))
    assert f"There is no connection {index}" in copied
    assert json.loads(copied)["response"][json.dumps(cid("copy-job", index), sort_keys=True,
                                                      separators=(",", ":"))]["data"] is None

    # Delete: refused, the connection stays.
    deleted = dumped(post(bob, {"type": "conn-delete", "index": "ALL"},
                          [("conn-action-feedback", "children"), ("conn-rev", "data")],
                          [({"type": "conn-delete", "index": "ALL"}, "n_clicks", [(index, 1)])],
                          [("conn-rev", "data", 0)]))
    assert f"There is no connection {index}" in deleted
    assert app_storage.connections.get(admin.principal(), index)["name"] == NAME

    # Add a connection to Ada's workspace: refused before anything is tried or saved.
    added = dumped(post(bob, "conn-save", [("conn-form-feedback", "children"), ("conn-rev", "data"),
                                           ("conn-password", "value"), ("conn-name", "value")],
                        [("conn-save", "n_clicks", 1)],
                        [("conn-workspace-id", "data", shop["workspace_id"]), ("conn-name", "value", "mine"),
                         ("conn-kind", "value", "postgresql"), ("conn-host", "value", HOST), ("conn-port", "value", 1),
                         ("conn-database", "value", "x"), ("conn-user", "value", "x"), ("conn-password", "value", "x"),
                         ("conn-sslmode", "value", "prefer"), ("conn-rev", "data", 0)]))
    assert "There is no workspace" in added
    assert [c["name"] for c in app_storage.connections.list(admin.principal(), shop["workspace_id"])] == \
        [NAME]


def test_an_editor_uses_it_without_its_settings_and_a_viewer_is_told(make_client, app_storage, admin, second_user,
                                                                    shop):
    app_storage.workspaces.add_member(admin.principal(), shop["workspace_id"], "bob@example.com", "editor")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    with bob.session_transaction() as session:
        session["workspace_id"] = shop["workspace_id"]
    index = shop["id"]
    page = dumped(render_page(bob, "/connections"))
    assert NAME in page and '"conn-test"' in page and '"conn-copy-open"' in page
    assert HOST not in page and DATABASE not in page and USER not in page
    assert '"conn-save"' not in page and '"conn-delete-open"' not in page
    # An editor may test it (the database answers), but not delete it.
    tested = dumped(post(bob, cid("test", index), [(cid("test-result", index), "children")],
                         [(cid("test", index), "n_clicks", 1)]))
    assert "Nothing answers at" in tested
    deleted = dumped(post(bob, {"type": "conn-delete", "index": "ALL"},
                          [("conn-action-feedback", "children"), ("conn-rev", "data")],
                          [({"type": "conn-delete", "index": "ALL"}, "n_clicks", [(index, 1)])],
                          [("conn-rev", "data", 0)]))
    assert "You are an editor in this workspace; this needs the owner role" in deleted
    assert app_storage.connections.get(admin.principal(), index)["id"] == index

    app_storage.workspaces.change_role(admin.principal(), shop["workspace_id"], second_user.id, "viewer")
    page = dumped(render_page(bob, "/connections"))
    assert "Connections are for editors and owners" in page and "You are a viewer in" in page
    assert NAME not in page
    tested = dumped(post(bob, cid("test", index), [(cid("test-result", index), "children")],
                         [(cid("test", index), "n_clicks", 1)]))
    assert "Nothing answers at" not in tested and "viewer" in tested


def test_a_deleted_connection_is_gone_for_its_owner_too(client, app_storage, admin, shop):
    sign_in(client, "ada@example.com")
    deleted = dumped(post(client, {"type": "conn-delete", "index": "ALL"},
                          [("conn-action-feedback", "children"), ("conn-rev", "data")],
                          [({"type": "conn-delete", "index": "ALL"}, "n_clicks", [(shop["id"], 1)])],
                          [("conn-rev", "data", 0)]))
    assert "Deleted" in deleted
    with pytest.raises(NotFound):
        app_storage.connections.get(admin.principal(), shop["id"])
    listed = dumped(post(client, "conn-rev", [("conn-list", "children")], [("conn-rev", "data", 1)],
                         [("conn-workspace-id", "data", shop["workspace_id"])]))
    assert "No connections yet" in listed


def test_a_plain_dataset_has_no_source_card(client, app_storage, admin):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal).id
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "music.csv"
    dataset = app_storage.datasets.create_from_file(principal, workspace, fixture, "music.csv")
    sign_in(client, "ada@example.com")
    page = dumped(render_page(client, f"/datasets/{dataset.id}"))
    assert '"dataset-source"' not in page and '"dataset-grid"' in page


def test_a_saved_sql_query_is_its_source_and_refreshes(client, app_storage, admin):
    """A SQL editor query over the workspace's datasets, saved as a dataset: the card says
    so, Refresh now runs it again over the current data, the refresh setting changes."""
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal).id
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "music.csv"
    app_storage.datasets.create_from_file(principal, workspace, fixture, "music.csv", name="music")
    sql = "SELECT count(*) AS n FROM music"
    saved = app_storage.syncs.create_from_workspace_sql(principal, workspace, sql, "Music count", refresh="hourly")
    sign_in(client, "ada@example.com")
    page = dumped(render_page(client, f"/datasets/{saved.id}"))
    assert "A SQL query over this workspace's datasets" in page and sql in page and "Every hour" in page
    assert '"sync-refresh-now"' in page and '"sync-edit-open"' in page and "The connection was deleted" not in page
    started = post(client, "sync-refresh-now",
                   [("sync-job", "data"), ("sync-poll", "disabled"), ("sync-running", "style"),
                    ("sync-status", "children"), ("sync-result", "children"), ("sync-refresh-now", "disabled")],
                   [("sync-refresh-now", "n_clicks", 1)], [("dataset-id", "data", saved.id)])
    job_id = json.loads(dumped(started))["response"]["sync-job"]["data"]
    outputs = [("sync-progress", "value"), ("sync-running", "style"), ("sync-status", "children"),
               ("sync-result", "children"), ("sync-job", "data"), ("sync-poll", "disabled"),
               ("sync-refresh-now", "disabled"), ("sync-details", "children"), ("dataset-rows", "children"),
               ("dataset-version", "children")]
    for _ in range(300):
        answer = dumped(post(client, "sync-poll", outputs, [("sync-poll", "n_intervals", 1)],
                             [("sync-job", "data", job_id), ("dataset-id", "data", saved.id)]))
        if json.loads(answer)["response"].get("sync-poll", {}).get("disabled"):
            break
        time.sleep(0.1)
    assert "Refreshed: 1 row copied into a new version." in answer
    assert json.loads(answer)["response"]["dataset-version"]["children"] == "2"
    changed = dumped(post(client, "sync-save", [("sync-save-feedback", "children"), ("sync-details", "children")],
                          [("sync-save", "n_clicks", 1)],
                          [("dataset-id", "data", saved.id), ("sync-refresh-kind", "value", "manual"),
                           ("sync-refresh-every", "value", 1), ("sync-refresh-at", "value", "06:00"),
                           ("sync-refresh-zone", "value", "UTC"), ("sync-incremental", "value", ""),
                           ("sync-source", "data", "workspace")]))
    assert "Saved. Refresh: By hand." in changed
    assert app_storage.syncs.get(principal, saved.id)["refresh"] == "manual"
