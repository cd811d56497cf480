"""Cross-site requests: a state change authenticated by the session cookie needs a
same-origin Origin (or Referer) or the CSRF token; Bearer requests are unaffected. Every
state-changing route of the app is walked, the Dash callback endpoint included."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.tables import metadata
from web.auth import COLLECT_EXACT
from tests.conftest import PASSWORD, bearer, login_body, post_callback, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVIL = {"Origin": "http://evil.example"}
SAME = {"Origin": "http://localhost"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
def seeded(client, app_storage, admin, ada):
    """A dataset, its generated dashboard and a public link, all Ada's."""
    data = {"file": (io.BytesIO((FIXTURES / "music.csv").read_bytes()), "music.csv")}
    dataset = client.post("/api/v1/datasets", data=data, headers=bearer(ada)).get_json()
    dashboard = client.post(f"/api/v1/datasets/{dataset['id']}/dashboard", json={}, headers=bearer(ada)).get_json()
    share = client.post(f"/api/v1/dashboards/{dashboard['id']}/share", headers=bearer(ada))
    assert share.status_code == 201
    return {"dataset_id": str(dataset["id"]), "dashboard_id": str(dashboard["id"]), "link": share.get_json()["token"]}


def state_changing_requests(app, ids: dict) -> list[tuple[str, str]]:
    """(method, url) for every rule of the url map that accepts a state-changing method."""
    found = []
    for rule in app.server.url_map.iter_rules():
        if rule.rule in COLLECT_EXACT:  # a tracker's events come from other sites by design; no session is read
            continue
        for method in sorted(set(rule.methods) - SAFE_METHODS):
            url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: ids.get(m.group(1), "1"), rule.rule)
            found.append((method, url))
    return found


def snapshot(app_storage) -> tuple:
    """Every metadata row and every file of the data dir (but the database itself)."""
    with app_storage.engine.connect() as conn:
        rows = tuple(tuple(map(tuple, conn.execute(select(t)).all())) for t in metadata.sorted_tables)
    files = tuple(sorted(
        (str(p.relative_to(app_storage.data_dir)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in app_storage.data_dir.rglob("*") if p.is_file() and "datainsight.db" not in p.name
    ))
    return rows, files


def send(client, method: str, url: str, headers: dict):
    """A form post, the kind a page on another site can make a browser send."""
    return client.open(url, method=method, headers=headers, data={"name": "pwned", "file": (io.BytesIO(b"a\n1\n"), "x.csv")})


def test_every_state_change_with_the_cookie_and_a_foreign_origin_is_refused(app, client, app_storage, seeded):
    assert sign_in(client, "ada@example.com").status_code == 200
    client.environ_base.pop("HTTP_ORIGIN", None)  # each case below sends its own
    requests = state_changing_requests(app, seeded)
    assert ("POST", f"/api/v1/dashboards/{seeded['dashboard_id']}/share") in requests
    assert ("POST", "/_dash-update-component") in requests and len(requests) > 40
    before = snapshot(app_storage)
    for method, url in requests:
        for headers in (EVIL, {"Origin": "null"}, {"Referer": "http://evil.example/page"}, {}):
            response = send(client, method, url, headers)
            assert response.status_code == 403, (method, url, headers, response.status_code)
            assert error_code(response) == "cross_site_request"
    assert snapshot(app_storage) == before
    assert client.get("/api/v1/me").status_code == 200  # the session itself was not touched


def test_same_origin_and_bearer_requests_pass(app, client, make_client, app_storage, seeded, ada):
    requests = state_changing_requests(app, seeded)
    for method, url in requests:
        browser = make_client()
        browser.environ_base.pop("HTTP_ORIGIN", None)
        sign_in(browser, "ada@example.com")  # no Origin: the test client's default is taken away
        for headers in (SAME, {"Referer": "http://localhost/dashboards"}):
            assert error_code(send(browser, method, url, headers)) != "cross_site_request", (method, url, headers)
        response = send(make_client(), method, url, {**EVIL, **bearer(ada)})
        assert error_code(response) != "cross_site_request", (method, url)


def error_code(response) -> str | None:
    body = response.get_json(silent=True)
    return body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None


def test_the_examples_of_the_issue_pass_same_origin(client, make_client, seeded):
    sign_in(client, "ada@example.com")
    dashboard, link = seeded["dashboard_id"], f"/public/dashboards/{seeded['link']}"
    refused = client.post(f"/api/v1/dashboards/{dashboard}/share", headers=EVIL)
    assert refused.status_code == 403
    assert make_client().get(link).status_code == 200  # the public link was not replaced
    assert client.post(f"/api/v1/dashboards/{dashboard}/duplicate", headers=SAME).status_code == 201
    assert client.post(f"/api/v1/dashboards/{dashboard}/share", headers=SAME).status_code == 201
    assert make_client().get(link).status_code == 404


def test_a_foreign_page_cannot_sign_someone_in_or_out(client, make_client, admin):
    # Login CSRF: a page elsewhere posts the attacker's credentials to our login callback.
    victim = make_client()
    victim.environ_base.pop("HTTP_ORIGIN", None)

    response = victim.post("/_dash-update-component", json=login_body("ada@example.com"), headers=EVIL)
    assert response.status_code == 403 and victim.get_cookie("datainsight_session") is None
    # Sign-out from another site is refused; the session goes on.
    sign_in(client, "ada@example.com")
    client.environ_base["HTTP_ORIGIN"] = "http://evil.example"
    response = post_callback(client, [("nav-redirect", "href")], [("nav-signout", "n_clicks", 1)])
    assert response.status_code == 403
    client.environ_base["HTTP_ORIGIN"] = "http://localhost"
    assert client.get("/api/v1/me").status_code == 200


def test_the_csrf_token_stands_in_for_the_origin(client, seeded):
    sign_in(client, "ada@example.com")
    token = client.get("/api/v1/me").get_json()["auth"]["csrf_token"]
    client.environ_base.pop("HTTP_ORIGIN", None)
    url = f"/api/v1/dashboards/{seeded['dashboard_id']}/duplicate"
    assert client.post(url).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": token[:-1] + "x"}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": token}).status_code == 201
    # Another session's token is not this one's.
    other = client.application.test_client()
    sign_in(other, "ada@example.com")
    other.environ_base.pop("HTTP_ORIGIN", None)
    assert other.post(url, headers={"X-CSRF-Token": token}).status_code == 403


def test_a_trusted_proxy_names_the_host(settings, sleeps):
    from app import create_app

    dash_app = create_app(settings.with_overrides(trusted_proxies=("127.0.0.1",)))
    store = dash_app.server.extensions["datainsight"]["storage"]
    try:
        store.users.create_first_admin("ada@example.com", PASSWORD, "Ada Admin")
        client = dash_app.server.test_client()
        forwarded = {"X-Forwarded-Host": "bi.example.com"}
        client.environ_base["HTTP_ORIGIN"] = "http://bi.example.com"
        assert sign_in(client, "ada@example.com", PASSWORD).status_code == 403  # Host is localhost
        response = client.post("/_dash-update-component", json=login_body("ada@example.com"), headers=forwarded)
        assert response.status_code == 200 and client.get_cookie("datainsight_session") is not None
        # The forwarded host of an untrusted peer is not believed.
        client.environ_base["REMOTE_ADDR"] = "192.0.2.1"
        response = client.post("/api/v1/workspaces", json={"name": "x"}, headers=forwarded)
        assert response.status_code == 403
    finally:
        store.dispose()

