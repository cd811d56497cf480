"""CORS (issue 15, point 4): listed origins may call /api/v1 with a Bearer token; cookies
never cross origins; everything else gets no CORS headers, and refused preflights say
which setting allows them."""
from __future__ import annotations

import dataclasses

import pytest

from settings import Settings, SettingsError
from tests.conftest import bearer, sign_in

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def cors_app(settings):
    from app import create_app

    app = create_app(dataclasses.replace(settings, cors_origins=(APP_ORIGIN,)))
    yield app
    app.server.extensions["datainsight"]["storage"].dispose()


def test_without_the_setting_no_origin_may_call(client, ada):
    refused = client.options("/api/v1/datasets", headers=PREFLIGHT)
    assert refused.status_code == 403
    assert "DATAINSIGHT_CORS_ORIGINS" in refused.get_json()["error"]["message"]
    answer = client.get("/api/v1/datasets", headers={"Origin": APP_ORIGIN, **bearer(ada)})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_a_listed_origin_calls_the_api_with_a_token(cors_app):
    storage = cors_app.server.extensions["datainsight"]["storage"]
    admin = storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
    token = storage.tokens.create(admin.principal(), "spa")[1]
    client = cors_app.server.test_client()
    preflight = client.options("/api/v1/dashboards", headers=PREFLIGHT)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    listed = client.get("/api/v1/datasets", headers={"Origin": APP_ORIGIN, **bearer(token)})
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Origin" in listed.headers.get("Vary", "")
    assert "Access-Control-Allow-Credentials" not in listed.headers
    made = client.post("/api/v1/dashboards", json={"name": "From the SPA"},
                       headers={"Origin": APP_ORIGIN, **bearer(token)})
    assert made.status_code == 201 and made.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    # Another origin: preflight refused, answers unmarked.
    other = client.options("/api/v1/dashboards", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert other.status_code == 403
    unmarked = client.get("/api/v1/datasets", headers={"Origin": "https://evil.example", **bearer(token)})
    assert "Access-Control-Allow-Origin" not in unmarked.headers
    # Pages and callbacks are never opened to other origins.
    assert "Access-Control-Allow-Origin" not in client.get("/api/health", headers={"Origin": APP_ORIGIN}).headers


def test_cookies_never_sign_in_a_request_from_another_origin(cors_app):
    storage = cors_app.server.extensions["datainsight"]["storage"]
    storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
    browser = cors_app.server.test_client()
    sign_in(browser, "ada@example.com")
    assert browser.get("/api/v1/datasets").status_code == 200  # the app's own pages: signed in
    assert browser.get("/api/v1/datasets", headers={"Origin": "http://localhost"}).status_code == 200
    for origin in (APP_ORIGIN, "https://evil.example"):  # listed or not, the cookie does not count
        answer = browser.get("/api/v1/datasets", headers={"Origin": origin})
        assert answer.status_code == 401, origin


def test_the_setting_takes_origins_only():
    env = {"DATAINSIGHT_DATA_DIR": "/tmp/x"}
    parsed = Settings.from_env({**env, "DATAINSIGHT_CORS_ORIGINS": " https://App.example.com/ , http://localhost:3000"})
    assert parsed.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert Settings.from_env({**env, "DATAINSIGHT_CORS_ORIGINS": "*"}).cors_origins == ("*",)
    for bad in ("app.example.com", "https://app.example.com/path", "ftp://files.example.com"):
        with pytest.raises(SettingsError, match="CORS_ORIGINS"):
            Settings.from_env({**env, "DATAINSIGHT_CORS_ORIGINS": bad})
