"""The Connections page and the dataset page's Source card through their Dash callbacks,
on real database servers: the owner tests a connection (the server's version), lists its
tables, copies one into a dataset with an hourly refresh and follows the job to the link;
the dataset page shows where it comes from; Refresh now makes a new version; a failed
refresh is shown as a warning with the database's reason; the refresh setting changes.
A second user who is not a member, posting the same ids, gets nothing of it."""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.conftest import _input_name, _post_callback, render_page, sign_in


def dumped(response) -> str:
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    return json.dumps(response.get_json(), ensure_ascii=False) if response.status_code == 200 else ""


def key(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, dict) else value


def post(client, outputs, inputs, state=()):
    """POST the callback fired by the first input, as the Dash renderer does."""
    callbacks = client.application.extensions["datainsight_dash"].callback_map
    wanted = _input_name(inputs[0][0])
    keys = [k for k, v in callbacks.items() if any(_input_name(i["id"]) == wanted for i in v["inputs"])]
    assert len(keys) == 1, keys
    response = _post_callback(client, keys[0], outputs, inputs, state, changed=[f"{key(inputs[0][0])}.{inputs[0][1]}"])
    return dumped(response)


def out(answer: str, component, prop):
    return json.loads(answer)["response"].get(key(component), {}).get(prop)


def cid(part, index):
    return {"index": index, "type": f"conn-{part}"}


COPY_OUTPUTS = ("copy-job", "data"), ("copy-poll", "disabled"), ("copy-running", "style"), \
    ("copy-status", "children"), ("copy-result", "children"), ("copy-run", "disabled")
COPY_POLL_OUTPUTS = ("copy-progress", "value"), ("copy-running", "style"), ("copy-status", "children"), \
    ("copy-result", "children"), ("copy-job", "data"), ("copy-poll", "disabled"), ("copy-run", "disabled")
SYNC_POLL_OUTPUTS = [("sync-progress", "value"), ("sync-running", "style"), ("sync-status", "children"),
                     ("sync-result", "children"), ("sync-job", "data"), ("sync-poll", "disabled"),
                     ("sync-refresh-now", "disabled"), ("sync-details", "children"), ("dataset-rows", "children"),
                     ("dataset-version", "children")]
REFRESH_OUTPUTS = [("sync-job", "data"), ("sync-poll", "disabled"), ("sync-running", "style"),
                   ("sync-status", "children"), ("sync-result", "children"), ("sync-refresh-now", "disabled")]


def copy(client, index, **form):
    values = {"what": "table", "table": None, "sql": None, "name": "", "refresh-kind": "manual", "refresh-every": 1,
              "refresh-at": "06:00", "refresh-zone": "UTC", "incremental": "", **form}
    return post(client, [(cid(p, index), prop) for p, prop in COPY_OUTPUTS], [(cid("copy-run", index), "n_clicks", 1)],
                [(cid(f"copy-{name}", index), "value", value) for name, value in values.items()])


def poll_copy(client, index, job_id) -> str:
    for _ in range(300):
        answer = post(client, [(cid(p, index), prop) for p, prop in COPY_POLL_OUTPUTS],
                      [(cid("copy-poll", index), "n_intervals", 1)], [(cid("copy-job", index), "data", job_id)])
        if out(answer, cid("copy-poll", index), "disabled"):
            return answer
        time.sleep(0.1)
    raise AssertionError("the copy did not end")


def refresh_now(client, dataset_id) -> str:
    return post(client, REFRESH_OUTPUTS, [("sync-refresh-now", "n_clicks", 1)], [("dataset-id", "data", dataset_id)])


def poll_refresh(client, dataset_id, job_id) -> str:
    for _ in range(300):
        answer = post(client, SYNC_POLL_OUTPUTS, [("sync-poll", "n_intervals", 1)],
                      [("sync-job", "data", job_id), ("dataset-id", "data", dataset_id)])
        if out(answer, "sync-poll", "disabled"):
            return answer
        time.sleep(0.1)
    raise AssertionError("the refresh did not end")


def save_refresh(client, dataset_id, kind, every=1, at="06:00", zone="UTC", incremental=""):
    return post(client, [("sync-save-feedback", "children"), ("sync-details", "children")],
                [("sync-save", "n_clicks", 1)],
                [("dataset-id", "data", dataset_id), ("sync-refresh-kind", "value", kind),
                 ("sync-refresh-every", "value", every), ("sync-refresh-at", "value", at),
                 ("sync-refresh-zone", "value", zone), ("sync-incremental", "value", incremental),
                 ("sync-source", "data", "connection")])


@pytest.fixture
def orders(pg_db):
    pg_db.run("CREATE SCHEMA sales",
              "CREATE TABLE sales.orders (id integer PRIMARY KEY, amount numeric(10,2), placed timestamptz)",
              "INSERT INTO sales.orders VALUES (1, 5.5, '2026-01-01 10:00+00'), (2, 4.5, '2026-01-02 10:00+00'), "
              "(3, 7, '2026-01-03 10:00+00')",
              'CREATE TABLE public."Odd name" ("a b" integer)')
    return pg_db


@pytest.fixture
def connection(app_storage, admin, orders):
    workspace = app_storage.workspaces.personal_workspace(admin.principal())
    payload = {k: v for k, v in orders.payload(workspace.id, name="Shop on PostgreSQL").items() if k != "workspace_id"}
    made = app_storage.connections.create(admin.principal(), workspace.id, payload)
    return made["id"]


def copied_dataset(client, connection) -> int:
    opened = post(client, [(cid("copy", connection), "is_open"), (cid("copy-table", connection), "options"),
                           (cid("copy-tables-data", connection), "data"), (cid("copy-result", connection), "children")],
                  [(cid("copy-open", connection), "n_clicks", 1)],
                  [(cid("copy", connection), "is_open", False), (cid("copy-table", connection), "options", [])])
    started = copy(client, connection, table="sales.orders", name="Orders copy", **{"refresh-kind": "hours"})
    job_id = out(started, cid("copy-job", connection), "data")
    assert job_id, started
    done = poll_copy(client, connection, job_id)
    assert "Copied 3 rows into" in done and "Orders copy" in done, done
    dataset_id = int(done.split('"href": "/datasets/')[1].split('"')[0])
    return dataset_id, opened


def test_the_owner_tests_lists_copies_and_refreshes(client, app_storage, admin, orders, connection):
    sign_in(client, "ada@example.com")
    tested = post(client, [(cid("test-result", connection), "children")], [(cid("test", connection), "n_clicks", 1)])
    assert "Connected" in tested and "PostgreSQL" in tested and "alert-success" not in tested
    assert '"color": "success"' in tested
    tables = post(client, [(cid("tables", connection), "children")], [(cid("tables-open", connection), "n_clicks", 1)],
                  [(cid("tables", connection), "children", None)])
    assert "sales.orders" in tables and "placed" in tables and "timestamp with time zone" in tables
    assert "public.Odd name" in tables

    dataset_id, opened = copied_dataset(client, connection)
    options = out(opened, cid("copy-table", connection), "options")
    assert {"label": "sales.orders", "value": "sales.orders"} in options
    assert {"label": "public.Odd name", "value": 'public."Odd name"'} in options
    assert out(opened, cid("copy-tables-data", connection), "data")["sales.orders"][0] == ["id", "integer"]
    dataset = app_storage.datasets.get(admin.principal(), dataset_id)
    assert dataset.rows == 3 and [c["name"] for c in dataset.schema] == ["id", "amount", "placed"]

    page = dumped(render_page(client, f"/datasets/{dataset_id}"))
    assert '"dataset-source"' in page and "Shop on PostgreSQL" in page and "sales.orders" in page
    assert "Every hour" in page and "Succeeded" in page and "3 rows copied" in page and '"sync-refresh-now"' in page

    orders.run("INSERT INTO sales.orders VALUES (4, 1, '2026-01-04 10:00+00')")
    started = refresh_now(client, dataset_id)
    job_id = out(started, "sync-job", "data")
    assert job_id and out(started, "sync-refresh-now", "disabled") is True
    done = poll_refresh(client, dataset_id, job_id)
    assert "Refreshed: 4 rows copied into a new version." in done
    assert out(done, "dataset-rows", "children") == "4" and out(done, "dataset-version", "children") == "2"
    assert app_storage.datasets.get(admin.principal(), dataset_id).rows == 4

    # A refresh that fails keeps the version and says why, as a warning on the card.
    orders.run("DROP TABLE sales.orders")
    failed = poll_refresh(client, dataset_id, out(refresh_now(client, dataset_id), "sync-job", "data"))
    assert "sync-last-error" in failed and "The last refresh failed" in failed and "orders" in failed
    assert app_storage.datasets.get(admin.principal(), dataset_id).rows == 4

    saved = save_refresh(client, dataset_id, "daily", at="07:30", zone="Europe/Paris")
    assert "Daily at 07:30 Europe/Paris" in saved
    assert re.search(r'"\d{4}-\d\d-\d\d 07:30 Europe/Paris"', saved)  # the next one, in its own time zone
    assert app_storage.syncs.get(admin.principal(), dataset_id)["refresh"] == \
        {"daily": "07:30", "timezone": "Europe/Paris"}
    refused = save_refresh(client, dataset_id, "minutes", every=2)
    assert "at least 5" in refused
    refused = save_refresh(client, dataset_id, "daily", at="07:30", zone="Mars/Olympus")
    assert "Mars/Olympus" in refused
    assert app_storage.syncs.get(admin.principal(), dataset_id)["refresh_text"] == "Daily at 07:30 Europe/Paris"


def test_a_stranger_gets_nothing_of_the_synced_dataset(client, make_client, app_storage, admin, second_user,
                                                        orders, connection):
    sign_in(client, "ada@example.com")
    dataset_id, _ = copied_dataset(client, connection)
    bob = make_client()
    sign_in(bob, "bob@example.com")
    page = dumped(render_page(bob, f"/datasets/{dataset_id}"))
    assert "Shop on PostgreSQL" not in page and "sales.orders" not in page and "dataset-source" not in page
    refused = refresh_now(bob, dataset_id)
    assert f"There is no dataset {dataset_id}" in refused and out(refused, "sync-job", "data") is None
    refused = save_refresh(bob, dataset_id, "manual")
    assert f"There is no dataset {dataset_id}" in refused and "Shop on PostgreSQL" not in refused
    assert app_storage.syncs.get(admin.principal(), dataset_id)["refresh_text"] == "Every hour"
    # Ada's job id, polled by Bob: not his.
    job_id = out(refresh_now(client, dataset_id), "sync-job", "data")
    polled = post(bob, SYNC_POLL_OUTPUTS, [("sync-poll", "n_intervals", 1)],
                  [("sync-job", "data", job_id), ("dataset-id", "data", dataset_id)])
    assert "of yours" in polled and "Refreshed" not in polled and "Shop on PostgreSQL" not in polled
    poll_refresh(client, dataset_id, job_id)


def test_a_viewer_sees_the_source_without_the_buttons(client, make_client, app_storage, admin, second_user,
                                                      orders, connection):
    sign_in(client, "ada@example.com")
    dataset_id, _ = copied_dataset(client, connection)
    workspace = app_storage.workspaces.personal_workspace(admin.principal())
    app_storage.workspaces.add_member(admin.principal(), workspace.id, "bob@example.com", "viewer")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    page = dumped(render_page(bob, f"/datasets/{dataset_id}"))
    assert '"dataset-source"' in page and "Every hour" in page and "Shop on PostgreSQL" in page
    assert '"sync-refresh-now"' not in page and '"sync-save"' not in page
    refused = refresh_now(bob, dataset_id)
    assert "viewer" in refused and out(refused, "sync-job", "data") is None



def test_a_query_on_mysql_copied_with_new_rows_by_a_column(client, app_storage, admin, mysql_db):
    mysql_db.run("CREATE TABLE events (id int PRIMARY KEY, kind varchar(20), at datetime)",
                 "INSERT INTO events VALUES (1, 'view', '2026-01-01 10:00'), (2, 'buy', '2026-01-01 11:00'), "
                 "(3, 'view', '2026-01-01 12:00')")
    workspace = app_storage.workspaces.personal_workspace(admin.principal())
    payload = {k: v for k, v in mysql_db.payload(workspace.id, name="Events on MariaDB").items() if k != "workspace_id"}
    connection = app_storage.connections.create(admin.principal(), workspace.id, payload)["id"]
    sign_in(client, "ada@example.com")
    tested = post(client, [(cid("test-result", connection), "children")], [(cid("test", connection), "n_clicks", 1)])
    assert "MariaDB" in tested and '"color": "success"' in tested

    refused = copy(client, connection, what="sql", sql="DELETE FROM events", name="Views")
    assert "SELECT" in refused and out(refused, cid("copy-job", connection), "data") is None
    started = copy(client, connection, what="sql", sql="SELECT id, at FROM events WHERE kind = 'view'", name="Views",
                   incremental="at", **{"refresh-kind": "minutes", "refresh-every": 15})
    done = poll_copy(client, connection, out(started, cid("copy-job", connection), "data"))
    assert "Copied 2 rows into" in done, done
    dataset_id = int(done.split('"href": "/datasets/')[1].split('"')[0])
    page = dumped(render_page(client, f"/datasets/{dataset_id}"))
    assert "Events on MariaDB" in page and "MySQL / MariaDB" in page and "Every 15 minutes" in page
    assert "SELECT id, at FROM events WHERE kind = 'view'" in page and "New rows by" in page

    mysql_db.run("INSERT INTO events VALUES (4, 'view', '2026-01-02 10:00'), (5, 'buy', '2026-01-02 11:00')")
    done = poll_refresh(client, dataset_id, out(refresh_now(client, dataset_id), "sync-job", "data"))
    assert "Refreshed: 1 new row added." in done and out(done, "dataset-rows", "children") == "3"


def test_a_live_dataset_says_so_and_draws_a_new_sample(client, app_storage, admin, orders, connection):
    sign_in(client, "ada@example.com")
    made = app_storage.syncs.create(admin.principal(), connection, {"name": "Orders live", "table": "sales.orders",
                                                                    "mode": "live", "cache_seconds": 60})
    for _ in range(300):
        job = app_storage.jobs.get(admin.principal(), made["job_id"])
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["status"] == "done", job
    dataset_id = job["result"]["dataset"]["id"]
    page = dumped(render_page(client, f"/datasets/{dataset_id}"))
    assert "Charts query the database itself; a chart's result is reused for 60 seconds" in page
    assert "Draw a new sample" in page and "Last sample" in page
    assert '"sync-edit-open"' not in page and '"sync-refresh-text"' not in page
    done = poll_refresh(client, dataset_id, out(refresh_now(client, dataset_id), "sync-job", "data"))
    assert "A new sample of 3 rows for profiles and analyses." in done
