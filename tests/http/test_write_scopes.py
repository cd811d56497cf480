"""Who may change things (issue 18, points 5 and 14): a read-scoped API token and a
workspace viewer are walked over every route of the API that is not a GET, and nothing
they send changes anything.

The walk reads the routes from the app's url_map, so a write route added later is walked
too; only the POST routes that merely read (web.auth.READ_SCOPE_ENDPOINTS) are let
through for read tokens, and this test checks that list stays small and reads only."""
from __future__ import annotations

import io
import re
import time
import uuid
from pathlib import Path

import pytest

from storage.database import utcnow
from storage.tables import jobs
from web.auth import COLLECT_EXACT
from tests.conftest import bearer
from web.auth import READ_SCOPE_ENDPOINTS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def world(client, app, app_storage, admin, second_user, ada, bob):
    """Ada owns a team workspace where Bob is a viewer: a dataset, a dashboard, a
    schedule, a share link, an upload in progress and a job of Ada's, and a read token."""
    team = client.post("/api/v1/workspaces", json={"name": "Team"}, headers=bearer(ada)).get_json()["id"]
    added = client.post(f"/api/v1/workspaces/{team}/members", json={"email": "bob@example.com", "role": "viewer"},
                        headers=bearer(ada))
    assert added.status_code == 201, added.get_json()
    made = client.post("/api/v1/datasets", data={"file": (io.BytesIO((FIXTURES / "vgsales.csv").read_bytes()),
                                                          "vgsales.csv"), "workspace_id": str(team)},
                       headers=bearer(ada))
    assert made.status_code == 201, made.get_json()
    dataset = made.get_json()
    board = client.post("/api/v1/dashboards", json={"workspace_id": team, "name": "Sales", "widgets": [
        {"id": "w1", "spec": {"type": "bar", "dataset_id": dataset["id"], "x": "Genre", "y": "Global_Sales",
                              "agg": "sum"}}]}, headers=bearer(ada)).get_json()
    schedule = client.post(f"/api/v1/dashboards/{board['id']}/schedules", json={
        "frequency": "daily", "time": "08:00", "timezone": "UTC", "recipients": ["ada@example.com"],
        "format": "pdf"}, headers=bearer(ada))
    assert schedule.status_code == 201, schedule.get_json()
    alert = client.post("/api/v1/alerts", json={
        "dashboard_id": board["id"], "widget_id": "w1", "category": "Action", "condition": {"op": ">", "value": 1},
        "channels": [{"type": "email", "to": ["ada@example.com"]}]}, headers=bearer(ada))
    assert alert.status_code == 201, alert.get_json()
    share = client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada))
    assert share.status_code in (200, 201), share.get_json()
    upload = client.post("/api/v1/uploads", json={"filename": "late.csv", "size": 10}, headers=bearer(ada))
    assert upload.status_code == 201, upload.get_json()
    # A job of Ada's that is still queued (nothing runs it), so a cancel would show.
    job_id = _queued_job(app_storage, admin)
    saved = client.post("/api/v1/sql/queries", json={"workspace_id": team, "name": "Top", "sql": "SELECT 1",
                                                       "shared": True}, headers=bearer(ada))
    assert saved.status_code == 201, saved.get_json()
    # A connection is tested when saved; nothing listens here, so the test is skipped.
    app_storage.connections.test_on_save = False
    connection = client.post("/api/v1/connections", json={
        "workspace_id": team, "name": "Warehouse", "kind": "postgresql", "host": "127.0.0.1", "port": 9,
        "database": "shop", "user": "reader", "password": "secret"}, headers=bearer(ada))
    assert connection.status_code == 201, connection.get_json()
    site = client.post("/api/v1/sites", json={"workspace_id": team, "name": "Shop", "domain": "shop.example"},
                       headers=bearer(ada))
    assert site.status_code == 201, site.get_json()
    read_token = app_storage.tokens.create(admin.principal(), "read only", scope="read")
    return {
        "site_id": site.get_json()["id"], "report": "overview",
        "query_id": saved.get_json()["id"], "connection_id": connection.get_json()["id"],
        "workspace_id": team, "dataset_id": dataset["id"], "dashboard_id": board["id"], "widget_id": "w1",
        "schedule_id": schedule.get_json()["id"], "alert_id": alert.get_json()["id"], "upload_id": upload.get_json()["id"], "job_id": job_id,
        "token_id": read_token[0].id, "user_id": second_user.id, "column": "Genre", "kind": "stats",
        "key": "online-retail", "read": read_token[1], "share": share.get_json(),
    }


def _queued_job(storage, admin) -> str:
    """A queued job row of Ada's, as a job waiting for a free worker looks."""
    job_id = str(uuid.uuid4())
    now = utcnow()
    with storage.engine.begin() as conn:
        conn.execute(jobs.insert().values(id=job_id, user_id=admin.id, kind="export", status="queued",
                                          progress=0.0, message="Queued", created_at=now, updated_at=now,
                                          worker="elsewhere:1", cancel_requested=False))
    return job_id


def _write_routes(app):
    for rule in app.server.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "api_fallback.unknown_route" \
                or rule.rule in COLLECT_EXACT:  # public: a site's key, not a token, lets events in
            continue
        for method in sorted(set(rule.methods) & set(UNSAFE)):
            yield rule, method


def _url(rule, world) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(world[m.group(1)]), rule.rule)


def _state(client, ada, world, app_storage) -> dict:
    """What a refused write must leave as it was."""
    def get(path):
        return client.get(path, headers=bearer(ada)).get_json()

    upload = app_storage.uploads.path_for(world["upload_id"])
    job = app_storage.jobs._row(world["job_id"])
    return {
        "dataset": get(f"/api/v1/datasets/{world['dataset_id']}"),
        "dashboard": get(f"/api/v1/dashboards/{world['dashboard_id']}"),
        "schedules": get(f"/api/v1/dashboards/{world['dashboard_id']}/schedules"),
        "alerts": get(f"/api/v1/alerts?dashboard_id={world['dashboard_id']}"),
        "members": get(f"/api/v1/workspaces/{world['workspace_id']}/members"),
        "workspaces": get("/api/v1/workspaces"),
        # last_used_at moves with every request; which tokens exist, and their scope, may not.
        "tokens": [(t["id"], t["name"], t["scope"]) for t in get("/api/v1/tokens")["tokens"]],
        "upload": (upload.exists(), upload.exists() and upload.read_bytes()),
        "job": (job.status, bool(job.cancel_requested)),
        "saved queries": get(f"/api/v1/sql/queries?workspace_id={world['workspace_id']}"),
        "connections": get(f"/api/v1/connections?workspace_id={world['workspace_id']}"),
        "site": get(f"/api/v1/sites/{world['site_id']}"),
        "events": app_storage.events.state(world["site_id"]),
    }


def test_a_read_token_changes_nothing_on_any_write_route(client, app, app_storage, ada, world):
    before = _state(client, ada, world, app_storage)
    walked = 0
    for rule, method in _write_routes(app):
        if rule.endpoint in READ_SCOPE_ENDPOINTS:
            continue
        url = _url(rule, world)
        kwargs = {"data": b"0123456789", "query_string": {"offset": 0}} if method == "PUT" and "uploads" in url \
            else {"json": {"name": "Changed", "role": "owner", "email": "bob@example.com"}}
        response = client.open(url, method=method, headers=bearer(world["read"]), **kwargs)
        assert response.status_code == 403, (method, url, response.status_code, response.get_data(as_text=True))
        assert "read-only" in response.get_json()["error"]["message"], (method, url)
        walked += 1
    assert walked >= 35  # every write route of the API, not a handful
    assert _state(client, ada, world, app_storage) == before


def test_read_routes_let_through_to_read_tokens_only_read(client, app, ada, world):
    """The POSTs open to read tokens answer with data and leave everything as it was."""
    assert READ_SCOPE_ENDPOINTS == {"api_analyze.analyze", "api_dashboards.query", "api_dashboards.render_widget",
                                    "api_reports.start_export", "api_sql.run_sql"}
    token = bearer(world["read"])
    query = client.post("/api/v1/query", json={"dataset_id": world["dataset_id"], "spec": {
        "type": "kpi", "agg": "count"}}, headers=token)
    assert query.status_code == 200 and 16598 in query.get_json()["rows"][0]
    stats = client.post("/api/v1/analyze/stats", json={"dataset_id": world["dataset_id"]}, headers=token)
    assert stats.status_code == 200, stats.get_json()


def test_the_three_reported_writes_are_refused_to_a_read_token(client, app_storage, ada, world):
    token = bearer(world["read"])
    path = app_storage.uploads.path_for(world["upload_id"])
    put = client.put(f"/api/v1/uploads/{world['upload_id']}?offset=0", data=b"0123456789", headers=token)
    assert put.status_code == 403 and path.exists() and path.read_bytes() == b""
    assert client.delete(f"/api/v1/uploads/{world['upload_id']}", headers=token).status_code == 403
    assert client.get(f"/api/v1/uploads/{world['upload_id']}", headers=bearer(ada)).status_code == 200
    assert client.delete(f"/api/v1/jobs/{world['job_id']}", headers=token).status_code == 403
    assert app_storage.jobs._row(world["job_id"]).cancel_requested in (False, 0)
    # The owner's write token still does all three.
    assert client.put(f"/api/v1/uploads/{world['upload_id']}?offset=0", data=b"0123456789",
                      headers=bearer(ada)).status_code == 200
    assert client.delete(f"/api/v1/jobs/{world['job_id']}", headers=bearer(ada)).status_code == 200


def test_storage_refuses_a_read_principal_whatever_the_route(app_storage, admin, world):
    """The second wall: the storage calls themselves refuse a read-scoped principal."""
    from dataclasses import replace

    from storage.errors import Forbidden

    reader = replace(admin.principal(), via="token", scope="read")
    for call in (lambda: app_storage.uploads.write_chunk(reader, world["upload_id"], 0, io.BytesIO(b"x"), 1),
                 lambda: app_storage.uploads.discard(reader, world["upload_id"]),
                 lambda: app_storage.uploads.create(reader, "a.csv", 10),
                 lambda: app_storage.uploads.register_file(reader, "a.csv", io.BytesIO(b"a\n1\n")),
                 lambda: app_storage.jobs.cancel(reader, world["job_id"]),
                 lambda: app_storage.profiles.refresh(reader, world["dataset_id"])):
        with pytest.raises(Forbidden):
            call()


# What an editor would send to routes whose body is checked before who is asking.
EDITOR_BODIES = {
    "api_columns.set_column_role": lambda world: {"role": "category"},
    "api_dashboards.add_widget": lambda world: {"spec": {"type": "kpi", "dataset_id": world["dataset_id"],
                                                         "agg": "count"}},
    "api_reports.set_share_export": lambda world: {"allow_export": True},
}


def test_a_viewer_changes_nothing_in_the_workspace(client, app, app_storage, admin, ada, bob, world):
    """Bob (viewer) walks every write route about the workspace's objects with bodies
    that would do something for an editor. (Leaving the workspace himself is his right,
    so the member routes name Ada.)"""
    world = {**world, "user_id": admin.id}
    before = _state(client, ada, world, app_storage)
    about_workspace = ("dataset_id", "dashboard_id", "schedule_id", "workspace_id", "alert_id")
    walked = 0
    for rule, method in _write_routes(app):
        if rule.endpoint in READ_SCOPE_ENDPOINTS or not any(f"<{p}>" in rule.rule for p in about_workspace):
            continue
        url = _url(rule, world)
        if rule.endpoint == "api_datasets.add_version":  # takes a file, as an editor would send it
            body = {"data": {"file": (io.BytesIO(b"Genre,Global_Sales\nX,1\n"), "new.csv")}}
        elif rule.endpoint in EDITOR_BODIES:
            body = {"json": EDITOR_BODIES[rule.endpoint](world)}
        else:
            wanted = {"name": "Changed", "role": "owner", "email": "bob@example.com", "allow": True,
                      "frequency": "daily", "widgets": [], "enabled": False}
            # A route whose body model refuses unknown fields gets the ones it takes: the
            # refusal must come from Bob's role, not from the body's shape.
            described = getattr(app.server.view_functions[rule.endpoint], "openapi", None)
            model = described.body if described else None
            if model is not None and model.model_config.get("extra") == "forbid":
                wanted = {k: v for k, v in wanted.items() if k in model.model_fields}
            body = {"json": wanted}
        response = client.open(url, method=method, headers=bearer(bob), **body)
        assert response.status_code in (403, 404), (method, url, response.status_code, response.get_json())
        walked += 1
    assert walked >= 20
    assert _state(client, ada, world, app_storage) == before


def test_only_editors_compute_a_profile_again(client, app_storage, admin, ada, bob, world):
    """Point 14: a recomputation costs minutes of CPU; viewers and read tokens may not start one."""
    url = f"/api/v1/datasets/{world['dataset_id']}/profile"
    for token in (bob, world["read"]):
        refused = client.post(url, headers=bearer(token))
        assert refused.status_code == 403, refused.get_json()
    assert client.get(url, headers=bearer(bob)).status_code == 200  # reading it is fine
    # Wait until nothing computes, then the owner may start it again.
    for _ in range(600):
        if client.get(url, headers=bearer(ada)).get_json()["status"] != "running":
            break
        time.sleep(0.05)
    again = client.post(url, headers=bearer(ada))
    assert again.status_code in (200, 202), again.get_json()
