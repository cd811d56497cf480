"""Connections (issue 16, point 1) through the API, on real PostgreSQL and MariaDB servers:
saved only when they connect, with messages that name what failed; the password sealed at
rest and never returned or logged; tables listed with their columns; owners manage them,
editors use them without seeing their settings, viewers and other workspaces get nothing;
queries on a connection are one SELECT, read-only and time-limited on the database."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from storage.tables import audit_log, connections
from tests.conftest import bearer


def workspace_of(app_storage, admin):
    return app_storage.workspaces.personal_workspace(admin.principal()).id


def make(client, token, db, workspace_id, **extra):
    return client.post("/api/v1/connections", headers=bearer(token), json=db.payload(workspace_id, **extra))


@pytest.fixture(params=["postgresql", "mysql"])
def db(request):
    return request.getfixturevalue("pg_db" if request.param == "postgresql" else "mysql_db")


def seed_orders(db):
    if db.kind == "postgresql":
        db.run("CREATE SCHEMA sales", "CREATE TABLE sales.orders (id integer PRIMARY KEY, amount numeric(10,2), "
               "placed timestamptz, note text)",
               "INSERT INTO sales.orders VALUES (1, 5.5, '2026-01-01 10:00+00', 'a'), (2, 4.5, '2026-01-02 10:00+00', "
               "NULL)", "CREATE VIEW sales.big AS SELECT * FROM sales.orders WHERE amount > 5")
    else:
        db.run("CREATE TABLE orders (id int PRIMARY KEY, amount decimal(10,2), placed datetime, note text)",
               "INSERT INTO orders VALUES (1, 5.5, '2026-01-01 10:00', 'a'), (2, 4.5, '2026-01-02 10:00', NULL)",
               "CREATE VIEW big AS SELECT * FROM orders WHERE amount > 5")


def test_a_connection_is_tested_saved_and_lists_its_tables(client, ada, app_storage, admin, db, caplog):
    caplog.set_level(logging.DEBUG)
    seed_orders(db)
    ws = workspace_of(app_storage, admin)
    made = make(client, ada, db, ws)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["kind"] == db.kind and body["host"] == db.host and body["port"] == db.port
    assert body["has_password"] is True and "password" not in body and "password_sealed" not in body
    # sealed at rest: the stored value is not the password
    with app_storage.engine.connect() as conn:
        sealed = conn.execute(select(connections.c.password_sealed)).scalar_one()
        audit = [json.loads(r.detail_json) for r in conn.execute(select(audit_log)).all()]
    assert db.password not in sealed and len(sealed) > 40
    assert db.password not in json.dumps(audit)
    tested = client.post(f"/api/v1/connections/{body['id']}/test", headers=bearer(ada)).get_json()
    assert tested["ok"] is True and tested["server_version"]
    tables = client.get(f"/api/v1/connections/{body['id']}/tables", headers=bearer(ada)).get_json()["tables"]
    schema = "sales" if db.kind == "postgresql" else db.database
    by_name = {(t["schema"], t["name"]): t for t in tables}
    assert by_name[(schema, "orders")]["kind"] == "table"
    assert by_name[(schema, "big")]["kind"] == "view"
    assert [c["name"] for c in by_name[(schema, "orders")]["columns"]] == ["id", "amount", "placed", "note"]
    assert by_name[(schema, "orders")]["columns"][1]["type"].lower().startswith(("numeric", "decimal"))
    listed = client.get(f"/api/v1/connections?workspace_id={ws}", headers=bearer(ada)).get_json()["connections"]
    assert [c["id"] for c in listed] == [body["id"]]
    for answer in (made, client.get(f"/api/v1/connections/{body['id']}", headers=bearer(ada))):
        assert db.password not in answer.get_data(as_text=True)
    assert f"password={db.password}" not in caplog.text and f":{db.password}@" not in caplog.text


@pytest.mark.parametrize("change, words", [
    ({"password": "wrong-password"}, "refused the user name or password"),
    ({"port": 1}, "Nothing answers at"),
    ({"database": "no_such_database"}, "no database 'no_such_database'"),
    ({"host": "169.254.169.254"}, "link-local"),
    ({"host": "no-such-host.invalid"}, "could not be resolved"),
])
def test_a_connection_that_cannot_connect_is_not_saved(client, ada, app_storage, admin, db, change, words):
    ws = workspace_of(app_storage, admin)
    answer = make(client, ada, db, ws, **change)
    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "connection_failed" and words in error["message"], error
    assert "wrong-password" not in error["message"]
    with app_storage.engine.connect() as conn:
        assert conn.execute(select(connections)).all() == []


@pytest.mark.parametrize("payload, field", [
    ({"kind": "oracle"}, "kind"),
    ({"port": 70000}, "port"),
    ({"port": "5432"}, "port"),
    ({"host": "db.example.com/../x"}, "host"),
    ({"options": {"sslmode": "sometimes"}}, "options"),
    ({"options": {"sslrootcert": "/etc/passwd"}}, "options"),
    ({"name": ""}, "name"),
])
def test_bad_settings_are_named(client, ada, app_storage, admin, pg_db, payload, field):
    ws = workspace_of(app_storage, admin)
    answer = make(client, ada, pg_db, ws, **payload)
    assert answer.status_code == 400, answer.get_json()


def test_tls_required_of_a_server_without_tls_is_refused(client, ada, app_storage, admin, db):
    ws = workspace_of(app_storage, admin)
    answer = make(client, ada, db, ws, options={"sslmode": "require"})
    assert answer.status_code == 400
    assert "TLS" in answer.get_json()["error"]["message"] or "SSL" in answer.get_json()["error"]["message"]


def test_owners_manage_editors_use_viewers_and_others_see_nothing(client, ada, bob, app_storage, admin, pg_db):
    seed_orders(pg_db)
    ws = workspace_of(app_storage, admin)
    connection = make(client, ada, pg_db, ws).get_json()
    cid = connection["id"]
    # another workspace: not there at all
    for method, url, body in (("get", f"/api/v1/connections/{cid}", None),
                              ("post", f"/api/v1/connections/{cid}/test", None),
                              ("get", f"/api/v1/connections/{cid}/tables", None),
                              ("patch", f"/api/v1/connections/{cid}", {"name": "mine"}),
                              ("delete", f"/api/v1/connections/{cid}", None),
                              ("post", f"/api/v1/connections/{cid}/datasets", {"name": "x", "table": "sales.orders"}),
                              ("post", "/api/v1/sql", {"workspace_id": ws, "sql": "SELECT 1", "connection_id": cid})):
        answer = getattr(client, method)(url, headers=bearer(bob), json=body)
        assert answer.status_code == 404, (method, url, answer.get_json())
    assert client.get(f"/api/v1/connections?workspace_id={ws}", headers=bearer(bob)).status_code == 404
    # a viewer: cannot use or read it
    client.post(f"/api/v1/workspaces/{ws}/members", json={"email": "bob@example.com", "role": "viewer"},
                headers=bearer(ada))
    assert client.get(f"/api/v1/connections/{cid}", headers=bearer(bob)).status_code == 403
    assert client.get(f"/api/v1/connections?workspace_id={ws}", headers=bearer(bob)).status_code == 403
    assert client.get(f"/api/v1/connections/{cid}/tables", headers=bearer(bob)).status_code == 403
    assert client.post("/api/v1/sql", headers=bearer(bob),
                       json={"workspace_id": ws, "sql": "SELECT 1", "connection_id": cid}).status_code == 403
    # an editor: uses it, never sees where it points or who it logs in as
    client.patch(f"/api/v1/workspaces/{ws}/members/{app_storage.users.get_by_email('bob@example.com').id}",
                 json={"role": "editor"}, headers=bearer(ada))
    seen = client.get(f"/api/v1/connections/{cid}", headers=bearer(bob)).get_json()
    assert set(seen) == {"id", "workspace_id", "name", "kind"}
    listed = client.get(f"/api/v1/connections?workspace_id={ws}", headers=bearer(bob)).get_json()["connections"]
    assert set(listed[0]) == {"id", "workspace_id", "name", "kind"}
    assert client.get(f"/api/v1/connections/{cid}/tables", headers=bearer(bob)).status_code == 200
    assert client.post("/api/v1/sql", headers=bearer(bob),
                       json={"workspace_id": ws, "sql": "SELECT count(*) AS n FROM sales.orders",
                             "connection_id": cid}).get_json()["rows"] == [[2]]
    assert client.patch(f"/api/v1/connections/{cid}", json={"host": "10.0.0.1"}, headers=bearer(bob)).status_code == 403
    assert client.delete(f"/api/v1/connections/{cid}", headers=bearer(bob)).status_code == 403
    assert client.post("/api/v1/connections", json=pg_db.payload(ws), headers=bearer(bob)).status_code == 403
    # When it fails, the editor learns why but not where it points; the owner sees it all.
    pg_db.run(f"ALTER ROLE {pg_db.user} PASSWORD 'changed-{pg_db.password}'")
    failed = client.post(f"/api/v1/connections/{cid}/test", headers=bearer(bob)).get_json()["message"]
    assert "refused the user name or password" in failed, failed
    for secret in (pg_db.host, str(pg_db.port), pg_db.user, pg_db.database):
        assert secret not in failed, (secret, failed)
    owner = client.post(f"/api/v1/connections/{cid}/test", headers=bearer(ada)).get_json()["message"]
    assert f"{pg_db.host}:{pg_db.port}" in owner and pg_db.user in owner
    tables = client.get(f"/api/v1/connections/{cid}/tables", headers=bearer(bob))
    assert tables.status_code == 400 and pg_db.host not in tables.get_json()["error"]["message"]


def test_patch_keeps_the_password_unless_given_and_retests(client, ada, app_storage, admin, pg_db):
    ws = workspace_of(app_storage, admin)
    cid = make(client, ada, pg_db, ws).get_json()["id"]
    renamed = client.patch(f"/api/v1/connections/{cid}", json={"name": "Warehouse"}, headers=bearer(ada))
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Warehouse"
    assert client.post(f"/api/v1/connections/{cid}/test", headers=bearer(ada)).get_json()["ok"] is True
    wrong = client.patch(f"/api/v1/connections/{cid}", json={"password": "nope"}, headers=bearer(ada))
    assert wrong.status_code == 400 and "refused" in wrong.get_json()["error"]["message"]
    assert client.post(f"/api/v1/connections/{cid}/test", headers=bearer(ada)).get_json()["ok"] is True
    assert client.delete(f"/api/v1/connections/{cid}", headers=bearer(ada)).status_code == 204
    assert client.get(f"/api/v1/connections/{cid}", headers=bearer(ada)).status_code == 404


def sql(client, token, ws, cid, text, **extra):
    return client.post("/api/v1/sql", headers=bearer(token),
                       json={"workspace_id": ws, "sql": text, "connection_id": cid, **extra})


def test_queries_on_a_connection_are_one_read_only_select(client, ada, app_storage, admin, db):
    seed_orders(db)
    ws = workspace_of(app_storage, admin)
    cid = make(client, ada, db, ws).get_json()["id"]
    table = "sales.orders" if db.kind == "postgresql" else "orders"
    ok = sql(client, ada, ws, cid, f"SELECT id, amount, note FROM {table} ORDER BY id", limit=1)
    assert ok.status_code == 200, ok.get_json()
    result = ok.get_json()
    assert result["columns"] == ["id", "amount", "note"] and result["rows"] == [[1, 5.5, "a"]]
    assert result["truncated"] is True and result["elapsed_ms"] > 0
    for text, words in ((f"DELETE FROM {table}", "Only SELECT"), (f"UPDATE {table} SET amount = 0", "Only SELECT"),
                        (f"DROP TABLE {table}", "Only SELECT"), ("SELECT 1; SELECT 2", "one statement"),
                        (f"SELECT * INTO copy_of FROM {table}", "INTO"),
                        (f"SELECT * FROM {table} FOR UPDATE", "FOR UPDATE")):
        answer = sql(client, ada, ws, cid, text)
        assert answer.status_code == 400 and words in answer.get_json()["error"]["message"], (text, answer.get_json())
    if db.kind == "postgresql":
        db.run("CREATE FUNCTION sales.wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM sales.orders RETURNING 1'")
        answer = sql(client, ada, ws, cid, "SELECT sales.wipe()")
        assert answer.status_code == 400 and "read-only" in answer.get_json()["error"]["message"]
        answer = sql(client, ada, ws, cid, "SELECT set_config('default_transaction_read_only', 'off', false), "
                                           "sales.wipe()")
        assert answer.status_code == 400
    assert db.rows(f"SELECT count(*) FROM {table}")[0][0] == 2
    history = client.get(f"/api/v1/sql/history?workspace_id={ws}", headers=bearer(ada)).get_json()["history"]
    assert history[0]["error"] and history[-1]["rows"] == 1


def test_a_slow_query_is_stopped_by_the_database(client, ada, app_storage, admin, db):
    ws = workspace_of(app_storage, admin)
    cid = make(client, ada, db, ws).get_json()["id"]
    app_storage.connections.query_timeout = 1
    slow = "SELECT pg_sleep(5)" if db.kind == "postgresql" else "SELECT SLEEP(5) AS s"
    answer = sql(client, ada, ws, cid, slow)
    if db.kind == "mysql" and answer.status_code == 200:
        # MariaDB's SLEEP() interrupted by max_statement_time returns 1 instead of failing
        assert answer.get_json()["rows"] == [[1]]
        assert answer.get_json()["elapsed_ms"] < 4000
    else:
        assert answer.status_code == 422, answer.get_json()
        assert "ran longer than 1 s" in answer.get_json()["error"]["message"]
    assert sql(client, ada, ws, cid, "SELECT 1 AS one").get_json()["rows"] == [[1]]


def test_the_servers_own_databases_and_empty_passwords_are_refused(client, ada, app_storage, admin, pg_db):
    """Every person owns a personal workspace: by default nobody may point a connection at
    the server itself, and a connection without a password (which a driver would fill
    from the server's own ~/.pgpass or PGPASSWORD) is not accepted."""
    ws = workspace_of(app_storage, admin)
    app_storage.connections.allow_loopback = False
    answer = make(client, ada, pg_db, ws)
    assert answer.status_code == 400 and "this server itself" in answer.get_json()["error"]["message"]
    app_storage.connections.allow_loopback = True
    answer = make(client, ada, pg_db, ws, password="")
    assert answer.status_code == 400 and answer.get_json()["error"]["details"]["field"] == "password"
    answer = make(client, ada, pg_db, ws, password="abc\x00def")
    assert answer.status_code == 400 and "control character" in answer.get_json()["error"]["message"]
    answer = make(client, ada, pg_db, ws, host="fd00:ec2::254")
    assert answer.status_code == 400 and "link-local" in answer.get_json()["error"]["message"]


def test_comments_unterminated_text_and_executable_comments(client, ada, app_storage, admin, db):
    seed_orders(db)
    ws = workspace_of(app_storage, admin)
    cid = make(client, ada, db, ws).get_json()["id"]
    table = "sales.orders" if db.kind == "postgresql" else "orders"
    ended = sql(client, ada, ws, cid, f"SELECT count(*) AS n FROM {table} -- every order")
    assert ended.status_code == 200 and ended.get_json()["rows"] == [[2]], ended.get_json()
    for text in ("SELECT 'abc", "SELECT 1 /*"):
        answer = sql(client, ada, ws, cid, text)
        assert answer.status_code == 400 and "could not be read" in answer.get_json()["error"]["message"]
    if db.kind == "mysql":
        answer = sql(client, ada, ws, cid, "SELECT id FROM orders /*!) AS a UNION SELECT 1 FROM (SELECT 1 */")
        assert answer.status_code == 400 and "executable comments" in answer.get_json()["error"]["message"]
