"""The SQL editor's queries (issue 16, point 4) through POST /api/v1/sql: a join of two
datasets by their names gives the right rows; the sandbox refuses every way out a test
could think of (files, other workspaces' data, COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA,
writes, several statements) and leaves nothing behind; time, memory and row limits
hold; errors name the line and position; the history is the person's own."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from tests.conftest import bearer

ORDERS = b"order_id,customer_id,amount\n1,10,5.5\n2,10,4.5\n3,20,100\n4,30,1\n"
CUSTOMERS = b"customer_id,name\n10,Ada\n20,Bob\n"


def upload(client, token, name, content, workspace_id=None):
    data = {"file": (io.BytesIO(content), f"{name}.csv"), "name": name}
    if workspace_id is not None:
        data["workspace_id"] = str(workspace_id)
    made = client.post("/api/v1/datasets", headers=bearer(token), data=data)
    assert made.status_code == 201, made.get_json()
    return made.get_json()


@pytest.fixture
def shop(client, ada):
    orders = upload(client, ada, "Orders", ORDERS)
    upload(client, ada, "customers", CUSTOMERS)
    return orders["workspace_id"]


def run(client, token, workspace_id, sql, **extra):
    return client.post("/api/v1/sql", headers=bearer(token), json={"workspace_id": workspace_id, "sql": sql, **extra})


def test_a_join_of_two_datasets(client, ada, shop):
    answer = run(client, ada, shop, 'SELECT c.name, sum(o.amount) AS total FROM "Orders" o '
                                    "JOIN customers c USING (customer_id) GROUP BY 1 ORDER BY 2 DESC;")
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert result["columns"] == ["name", "total"] and result["rows"] == [["Bob", 100.0], ["Ada", 10.0]]
    assert result["truncated"] is False and result["elapsed_ms"] >= 0
    tables = client.get(f"/api/v1/sql/tables?workspace_id={shop}", headers=bearer(ada)).get_json()["tables"]
    assert set(tables) == {"Orders", "customers"}
    assert [c["name"] for c in tables["Orders"]] == ["order_id", "customer_id", "amount"]


def test_the_row_cap_and_the_limit(client, ada, shop):
    result = run(client, ada, shop, "SELECT * FROM range(50000)", limit=5).get_json()
    assert result["rows"] == [[0], [1], [2], [3], [4]] and result["truncated"] is True
    assert run(client, ada, shop, "SELECT 1", limit=10_001).status_code == 400
    big = run(client, ada, shop, "SELECT * FROM range(50000)", limit=10_000).get_json()
    assert len(big["rows"]) == 10_000 and big["truncated"] is True


@pytest.mark.parametrize("sql, words", [
    ("SELECT * FROM read_csv('/etc/passwd')", "disabled"),
    ("SELECT * FROM '/etc/passwd'", "does not exist"),
    ("SELECT * FROM read_text('/etc/hostname')", "disabled"),
    ("SELECT * FROM glob('/*')", "disabled"),
    ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "disabled"),
    ("COPY (SELECT 1) TO '/tmp/datainsight-escape.csv'", "Only SELECT"),
    ("ATTACH '/tmp/datainsight-escape.db'", "Only SELECT"),
    ("INSTALL httpfs", "Only SELECT"),
    ("LOAD httpfs", "Only SELECT"),
    ("SET enable_external_access = true", "Only SELECT"),
    ("PRAGMA version", "Only SELECT"),
    ("CREATE TABLE x AS SELECT 1", "Only SELECT"),
    ("EXPORT DATABASE '/tmp/datainsight-export'", "Only SELECT"),
    ("SELECT 1; SELECT 2", "one statement at a time"),
    ("SELECT 1; COPY (SELECT 1) TO '/tmp/datainsight-escape.csv'", "one statement at a time"),
    ("SELECT * FROM (SELECT 1) t, LATERAL (SELECT * FROM read_csv('/etc/passwd'))", "disabled"),
    ("WITH x AS (SELECT * FROM read_blob('/etc/passwd')) SELECT * FROM x", "disabled"),
])
def test_the_sandbox_refuses_every_way_out(client, ada, shop, sql, words):
    answer = run(client, ada, shop, sql)
    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "sql_error" and words in error["message"], error
    for left in ("/tmp/datainsight-escape.csv", "/tmp/datainsight-escape.db", "/tmp/datainsight-export"):
        assert not Path(left).exists()


def test_another_workspaces_dataset_cannot_be_read(client, ada, bob, shop, app_storage):
    secret = upload(client, bob, "Secrets", b"x\nBOBS-SECRET-VALUE\n")
    path = app_storage.datasets.file_path(app_storage.datasets.in_workspace(secret["id"], secret["workspace_id"]))
    for sql in ('SELECT * FROM "Secrets"', f"SELECT * FROM read_parquet('{path}')", f"SELECT * FROM '{path}'"):
        answer = run(client, ada, shop, sql)
        assert answer.status_code == 400 and "BOBS-SECRET" not in answer.get_data(as_text=True), (sql, answer.get_json())
    # Nor by asking in Bob's workspace: Ada is not a member there.
    assert run(client, ada, secret["workspace_id"], 'SELECT * FROM "Secrets"').status_code == 404
    assert client.get(f"/api/v1/sql/tables?workspace_id={secret['workspace_id']}",
                      headers=bearer(ada)).status_code == 404


def test_time_and_memory_limits(client, ada, shop, app_storage):
    app_storage.sql.time_limit = 0.5
    slow = run(client, ada, shop, "SELECT count(*) FROM range(100000000000) a")
    assert slow.status_code == 422 and slow.get_json()["error"]["code"] == "query_timeout"
    app_storage.sql.time_limit = 30
    app_storage.sql.memory_limit = "64MB"
    greedy = run(client, ada, shop, "SELECT list(i) FROM range(200000000) t(i)")
    assert greedy.status_code == 400 and "memory" in greedy.get_json()["error"]["message"]
    assert run(client, ada, shop, "SELECT 1 AS one").get_json()["rows"] == [[1]]  # and the next query runs


def test_errors_name_the_line_and_position(client, ada, shop):
    answer = run(client, ada, shop, 'SELECT order_id,\n       nope\nFROM "Orders"')
    error = answer.get_json()["error"]
    assert answer.status_code == 400 and error["details"] == {"field": "sql", "line": 2, "position": 8}
    assert 'Referenced column "nope" not found' in error["message"] and "(line 2, position 8)" in error["message"]
    typo = run(client, ada, shop, "SELEC 1").get_json()["error"]
    assert typo["details"]["line"] == 1 and "syntax error" in typo["message"]
    assert run(client, ada, shop, "   ").status_code == 400
    assert run(client, ada, shop, "SELECT 1", connection_id=5).status_code == 404


def test_the_history_is_the_persons_own(client, ada, bob, shop, app_storage, admin):
    run(client, ada, shop, "SELECT 1 AS first")
    run(client, ada, shop, "SELECT nope")
    history = client.get(f"/api/v1/sql/history?workspace_id={shop}", headers=bearer(ada)).get_json()["history"]
    assert [h["sql"] for h in history] == ["SELECT nope", "SELECT 1 AS first"]
    assert history[0]["error"] and history[1]["rows"] == 1 and history[1]["error"] is None
    # Bob, as a viewer of the workspace, may query it; he sees only his own history.
    app_storage.workspaces.add_member(admin.principal(), shop, "bob@example.com", "viewer")
    assert run(client, bob, shop, 'SELECT count(*) FROM "Orders"').get_json()["rows"] == [[4]]
    mine = client.get(f"/api/v1/sql/history?workspace_id={shop}", headers=bearer(bob)).get_json()["history"]
    assert [h["sql"] for h in mine] == ['SELECT count(*) FROM "Orders"']


def test_a_result_saved_as_a_dataset(client, ada, bob, shop, app_storage, admin):
    made = client.post("/api/v1/sql/datasets", headers=bearer(ada), json={
        "workspace_id": shop, "name": "Totals", "sql": 'SELECT c.name, sum(o.amount) AS total FROM "Orders" o '
                                                       "JOIN customers c USING (customer_id) GROUP BY 1"})
    assert made.status_code == 201, made.get_json()
    dataset = made.get_json()
    assert dataset["name"] == "Totals" and dataset["rows"] == 2
    rows = client.get(f"/api/v1/datasets/{dataset['id']}/rows?sort=name", headers=bearer(ada)).get_json()["rows"]
    assert rows == [{"name": "Ada", "total": 10.0}, {"name": "Bob", "total": 100.0}]
    # It is a table for the next query, and nothing was left in the temp folder.
    assert run(client, ada, shop, 'SELECT sum(total) FROM "Totals"').get_json()["rows"] == [[110.0]]
    assert not list((app_storage.data_dir / "tmp").glob("sql-*.parquet"))
    refused = client.post("/api/v1/sql/datasets", headers=bearer(ada), json={
        "workspace_id": shop, "name": "Bad", "sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert refused.status_code == 400 and not list((app_storage.data_dir / "tmp").glob("sql-*.parquet"))
    # A viewer may query but not make datasets.
    app_storage.workspaces.add_member(admin.principal(), shop, "bob@example.com", "viewer")
    viewer = client.post("/api/v1/sql/datasets", headers=bearer(bob), json={
        "workspace_id": shop, "name": "Mine", "sql": "SELECT 1"})
    assert viewer.status_code == 403


def test_a_saved_query_refreshes_from_its_datasets(client, ada, shop, app_storage, admin):
    """A query saved as a dataset (issue 16: "materialised, with refresh like a synced
    dataset") runs again over the datasets' current versions: by hand, or on its setting."""
    made = client.post("/api/v1/sql/datasets", headers=bearer(ada), json={
        "workspace_id": shop, "name": "Totals", "refresh": {"every": 1, "unit": "hours"},
        "sql": 'SELECT c.name, sum(o.amount) AS total FROM "Orders" o JOIN customers c USING (customer_id) '
               "GROUP BY 1 ORDER BY 1"})
    assert made.status_code == 201, made.get_json()
    dataset_id = made.get_json()["id"]
    info = client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(ada)).get_json()
    assert info["source"] == "workspace" and info["refresh_text"] == "Every hour" and info["next_refresh_at"]
    schema = {c["name"]: c["type"] for c in app_storage.datasets.get(admin.principal(), dataset_id).schema}
    assert schema == {"name": "text", "total": "float"}
    orders = next(d for d in app_storage.datasets.list(admin.principal(), shop) if d.name == "Orders")
    replaced = client.post(f"/api/v1/datasets/{orders.id}/versions", headers=bearer(ada), data={
        "file": (io.BytesIO(ORDERS + b"5,20,11\n"), "orders.csv"), "mode": "replace"})
    assert replaced.status_code in (200, 201), replaced.get_json()
    started = client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(ada))
    assert started.status_code == 202, started.get_json()
    for _ in range(200):
        job = client.get(started.get_json()["status_url"], headers=bearer(ada)).get_json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    rows = client.post("/api/v1/sql", headers=bearer(ada), json={
        "workspace_id": shop, "sql": "SELECT * FROM Totals ORDER BY name"}).get_json()["rows"]
    assert rows == [["Ada", 10.0], ["Bob", 111.0]]
    assert app_storage.datasets.get(admin.principal(), dataset_id).version == 2


def test_saved_queries_are_private_until_shared(client, ada, bob, shop, app_storage):
    mine = client.post("/api/v1/sql/queries", headers=bearer(ada), json={
        "workspace_id": shop, "name": "Top customers", "sql": 'SELECT * FROM "Orders" ORDER BY amount DESC'})
    assert mine.status_code == 201, mine.get_json()
    query = mine.get_json()
    assert query["shared"] is False and query["mine"] is True and query["editable"] is True
    # another workspace: nothing
    assert client.get(f"/api/v1/sql/queries/{query['id']}", headers=bearer(bob)).status_code == 404
    assert client.get(f"/api/v1/sql/queries?workspace_id={shop}", headers=bearer(bob)).status_code == 404
    client.post(f"/api/v1/workspaces/{shop}/members", json={"email": "bob@example.com", "role": "editor"},
                headers=bearer(ada))
    # a member: not until it is shared
    assert client.get(f"/api/v1/sql/queries?workspace_id={shop}", headers=bearer(bob)).get_json()["queries"] == []
    assert client.get(f"/api/v1/sql/queries/{query['id']}", headers=bearer(bob)).status_code == 404
    shared = client.patch(f"/api/v1/sql/queries/{query['id']}", json={"shared": True}, headers=bearer(ada))
    assert shared.status_code == 200 and shared.get_json()["shared"] is True
    seen = client.get(f"/api/v1/sql/queries?workspace_id={shop}", headers=bearer(bob)).get_json()["queries"]
    assert [(q["name"], q["mine"], q["editable"]) for q in seen] == [("Top customers", False, False)]
    # only its author (or an owner) changes it
    assert client.patch(f"/api/v1/sql/queries/{query['id']}", json={"sql": "SELECT 1"},
                        headers=bearer(bob)).status_code == 403
    assert client.delete(f"/api/v1/sql/queries/{query['id']}", headers=bearer(bob)).status_code == 403
    for bad, field in (({"name": ""}, "name"), ({"sql": ""}, "sql"), ({"shared": "yes"}, "shared"),
                       ({"connection_id": 999}, None), ({"colour": "red"}, "colour")):
        answer = client.patch(f"/api/v1/sql/queries/{query['id']}", json=bad, headers=bearer(ada))
        assert answer.status_code in (400, 404), (bad, answer.get_json())
    assert client.delete(f"/api/v1/sql/queries/{query['id']}", headers=bearer(ada)).status_code == 204
    assert client.get(f"/api/v1/sql/queries?workspace_id={shop}", headers=bearer(ada)).get_json()["queries"] == []


def test_a_semicolon_and_a_note_after_the_query(client, ada, shop):
    answer = run(client, ada, shop, 'SELECT count(*) AS n FROM "Orders"; -- all of them\n')
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["rows"] == [[4]]
