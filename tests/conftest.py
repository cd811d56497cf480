"""Shared fixtures: a fresh data dir, Storage, a Dash app and its Flask test client,
and helpers to sign in and to post Dash callbacks the way a browser (or an attacker)
would."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from settings import Settings
from storage import Storage

PASSWORD = "correct horse battery"


TEST_DATABASE_URL = os.environ.get("DATAINSIGHT_TEST_DATABASE_URL")
# Tests send thousands of requests a minute from one address and one token: the limits are
# counted (the code runs) but set out of reach; tests/http/test_rate_limits.py uses real ones.
TEST_RATE_LIMITS = {"DATAINSIGHT_RATE_LIMIT": "1000000/minute", "DATAINSIGHT_ANONYMOUS_RATE_LIMIT": "1000000/minute"}


def _reset_postgres(url: str) -> None:
    """Each test starts from an empty schema, as a fresh SQLite file does."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        # A job of the previous test may still run on its thread (Storage.dispose does not
        # wait for running jobs): its session would deadlock with the DROP. End it first.
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh settings per test. With DATAINSIGHT_TEST_DATABASE_URL set (a PostgreSQL URL
    of a throwaway database) the metadata goes there instead of SQLite."""
    env = {"DATAINSIGHT_DATA_DIR": str(tmp_path / "data"), **TEST_RATE_LIMITS}
    if TEST_DATABASE_URL:
        _reset_postgres(TEST_DATABASE_URL)
        env["DATAINSIGHT_DATABASE_URL"] = TEST_DATABASE_URL
    return Settings.from_env(env)


@pytest.fixture
def sleeps() -> list[float]:
    """The sign-in slow-downs that were asked for (tests do not really wait)."""
    return []


@pytest.fixture
def storage(settings: Settings, sleeps) -> Storage:
    store = Storage(settings.database_url, settings.data_dir, sleep=sleeps.append)
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def app(settings: Settings, sleeps):
    from app import create_app

    dash_app = create_app(settings)
    dash_app.server.config["TESTING"] = True
    store = dash_app.server.extensions["datainsight"]["storage"]
    store.users.sleep = sleeps.append
    yield dash_app
    store.dispose()


@pytest.fixture
def app_storage(app) -> Storage:
    return app.server.extensions["datainsight"]["storage"]


def browser_client(app):
    """A test client that, like a browser on the app's own pages, sends the page's Origin
    with every request (cookie-authenticated state changes need it)."""
    test_client = app.server.test_client()
    test_client.environ_base["HTTP_ORIGIN"] = "http://localhost"
    return test_client


@pytest.fixture
def client(app):
    return browser_client(app)


@pytest.fixture
def make_client(app):
    """Independent browsers: each has its own cookie jar."""
    return lambda: browser_client(app)


@pytest.fixture
def admin(app_storage):
    return app_storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada Admin")


@pytest.fixture
def second_user(app_storage, admin):
    return app_storage.users.create_user(admin.principal(), "bob@example.com", PASSWORD, "Bob Other")


def outputs_key(outputs: list[tuple[str, str]]) -> str:
    """Dash's request key for a callback's outputs."""
    def one(cid, prop):
        cid = json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid
        return f"{cid}.{prop}"

    if len(outputs) == 1:
        return one(*outputs[0])
    return ".." + "...".join(one(c, p) for c, p in outputs) + ".."


def post_callback(client, outputs, inputs, state=(), changed=None):
    """See _post_callback; resolves Dash's key for outputs shared with allow_duplicate."""
    key = outputs_key(outputs)
    callback_map = client.application.extensions["datainsight_dash"].callback_map
    if key not in callback_map:
        matches = [c for c in callback_map if re.sub(r"@[0-9a-f]+", "", c) == key]
        if len(matches) > 1:  # the same outputs written by several callbacks: pick by input
            wanted = {i[0] if isinstance(i[0], str) else i[0]["type"] for i in inputs}
            matches = [c for c in matches
                       if wanted & {_input_name(i["id"]) for i in callback_map[c]["inputs"]}]
        key = matches[0] if matches else key
    return _post_callback(client, key, outputs, inputs, state, changed)


def _input_name(component_id) -> str:
    """A callback input's id, or the ``type`` of a pattern-matching one."""
    if isinstance(component_id, dict):
        return component_id.get("type", "")
    if isinstance(component_id, str) and component_id.startswith("{"):
        return json.loads(component_id).get("type", "")
    return component_id


def _post_callback(client, key, outputs, inputs, state=(), changed=None):
    """POST /_dash-update-component like the Dash renderer does.

    ``outputs``: [(id, prop)]; ``inputs``/``state``: [(id, prop, value)] where a pattern
    input is given as ({"type": ..., "index": ALL-expanded list}, prop, [(index, value)...]).
    """
    def spec(items):
        result = []
        for cid, prop, value in items:
            if isinstance(cid, dict) and isinstance(value, list) and cid.get("index") == "ALL":
                result.append(
                    [{"id": {"type": cid["type"], "index": idx}, "property": prop, "value": v} for idx, v in value]
                )
            else:
                result.append({"id": cid, "property": prop, "value": value})
        return result

    body = {
        "output": key,
        "outputs": [{"id": c, "property": p} for c, p in outputs] if len(outputs) > 1 else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": spec(inputs),
        "state": spec(state),
        "changedPropIds": changed or [],
    }
    return client.post("/_dash-update-component", json=body)


def sign_in(client, email: str, password: str = PASSWORD, remember: bool = False):
    """Sign in through the real login callback, as the browser does."""
    return client.post("/_dash-update-component", json=login_body(email, password, remember))


def login_body(email: str, password: str = PASSWORD, remember: bool = False) -> dict:
    """The login callback's request, as the Dash renderer sends it."""
    return {
        "output": "..public-login-feedback.children...public-login-redirect.href..",
        "outputs": [{"id": "public-login-feedback", "property": "children"},
                    {"id": "public-login-redirect", "property": "href"}],
        "inputs": [{"id": "public-login-submit", "property": "n_clicks", "value": 1}],
        "state": [{"id": "public-login-email", "property": "value", "value": email},
                  {"id": "public-login-password", "property": "value", "value": password},
                  {"id": "public-login-remember", "property": "value", "value": remember},
                  {"id": "public-login-next", "property": "data", "value": "/"}],
        "changedPropIds": ["public-login-submit.n_clicks"],
    }


def render_page(client, pathname: str):
    """Run Dash's page router for ``pathname`` and return the JSON of the page content."""
    response = post_callback(
        client,
        [("_pages_content", "children"), ("_pages_store", "data")],
        [("_pages_location", "pathname", pathname), ("_pages_location", "search", "")],
        changed=["_pages_location.pathname"],
    )
    return response


class Clock:
    """A clock a test moves by hand: services take ``clock=`` (or a ``clock`` attribute)."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def bearer(token: str) -> dict:
    """The Authorization header of an API token."""
    return {"Authorization": f"Bearer {token}"}


def wait_export_job(client, token: str, job_id: str, tries: int = 600) -> dict:
    """Poll GET /api/v1/jobs/<id> until the job has finished; its last status."""
    import time

    for _ in range(tries):
        job = client.get(f"/api/v1/jobs/{job_id}", headers=bearer(token)).get_json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    return job
