"""The global guard, from the outside: what an anonymous client can and cannot reach."""
import json

from tests.conftest import post_callback, render_page


def test_health_is_public_and_checks_database_and_storage(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok" and body["checks"]["storage"]["status"] == "ok"


def test_concurrent_health_checks_all_pass(app_storage):
    """A load balancer and several threads ask at once; each check writes a probe of its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: app_storage.health()["storage"]["status"], range(400)))
    assert results == ["ok"] * 400
    assert not list(app_storage.data_dir.glob(".health-probe*"))


def test_health_reports_disk_jobs_and_mail(client, app_storage, admin, monkeypatch):
    import shutil
    from collections import namedtuple
    from datetime import timedelta

    from storage.database import utcnow
    from storage.schedules import Mailer
    from storage.tables import jobs
    from tests.integration.server import free_port
    from tests.smtp_server import SmtpServer

    body = client.get("/api/health").get_json()
    assert body["checks"]["storage"]["free_mb"] > 0 and body["checks"]["storage"]["reserve_mb"] == 1024
    assert body["checks"]["jobs"] == {"status": "ok", "queued": 0, "running": 0, "oldest_queued_seconds": 0}
    assert body["checks"]["mail"]["status"] == "not_configured" and body["status"] == "ok"
    assert body["checks"]["database"]["ms"] >= 0
    # A job waiting for 20 minutes: still serving, but degraded, and it says why.
    with app_storage.engine.begin() as conn:
        conn.execute(jobs.insert().values(id="stuck", kind="profile", user_id=admin.id, workspace_id=None,
                                          status="queued", progress=0.0, message="", result_json=None,
                                          cancel_requested=False, worker="x:1",
                                          created_at=utcnow() - timedelta(minutes=20),
                                          updated_at=utcnow()))
    waiting = client.get("/api/health")
    assert waiting.status_code == 200 and waiting.get_json()["status"] == "degraded"
    assert "waited 20 minutes" in waiting.get_json()["checks"]["jobs"]["message"]
    # A mail server that answers, then one that does not (a closed port).
    with SmtpServer() as smtp:
        app_storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        assert client.get("/api/health").get_json()["checks"]["mail"] == {"status": "ok"}
    app_storage.schedules.mailer = Mailer("127.0.0.1", free_port())
    mail = client.get("/api/health").get_json()["checks"]["mail"]
    assert mail["status"] == "error" and "does not answer" in mail["message"]
    # Little disk left: uploads are refused, the app still serves.
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * 2**30, 10 * 2**30 - 100 * 2**20, 100 * 2**20))
    low = client.get("/api/health")
    assert low.status_code == 200 and low.get_json()["checks"]["storage"]["status"] == "warning"
    assert "DATAINSIGHT_DISK_RESERVE_MB" in low.get_json()["checks"]["storage"]["message"]


def test_health_is_503_when_the_database_is_gone(client, app_storage, monkeypatch):
    from sqlalchemy import create_engine

    monkeypatch.setattr(app_storage, "engine", create_engine("sqlite:////nonexistent/folder/db.sqlite"))
    answer = client.get("/api/health")
    assert answer.status_code == 503 and answer.get_json()["status"] == "error"
    assert answer.get_json()["checks"]["database"]["status"] == "error"


def test_first_start_sends_every_page_to_setup(client):
    for path in ("/", "/login", "/datasets", "/settings"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/setup"
    assert client.get("/setup").status_code == 200


def test_after_setup_pages_need_a_session(client, admin):
    assert client.get("/setup").headers["Location"] == "/login"
    assert client.get("/").headers["Location"] == "/login"
    assert client.get("/datasets").headers["Location"] == "/login?next=%2Fdatasets"
    assert client.get("/login").status_code == 200


def test_anonymous_api_and_callbacks_get_401(client, admin):
    for path in ("/api/v1/me", "/api/v1/workspaces", "/api/v1/users", "/api/v1/nope"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthenticated"
    response = post_callback(client, [("token-list", "children")], [("token-create", "n_clicks", 1)])
    assert response.status_code == 401
    assert client.post("/_dash-update-component", data="not json").status_code == 401
    # An attacker who names a public output next to a private one is refused too.
    response = post_callback(
        client, [("public-login-feedback", "children"), ("users-list", "children")], [("user-create", "n_clicks", 1)]
    )
    assert response.status_code == 401


def test_static_assets_are_public_and_local(client, admin):
    assert client.get("/assets/00-bootstrap.min.css").status_code == 200
    index = client.get("/login").get_data(as_text=True)
    assert "/assets/00-bootstrap.min.css" in index
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs.", "fonts.googleapis", "bootstrapcdn"):
        assert cdn not in index


def test_anonymous_shell_has_no_navbar(client, admin):
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "nav-user-menu" not in layout and "Ada" not in layout


def test_anonymous_router_renders_only_a_redirect_for_private_pages(client, admin):
    for path in ("/", "/settings", "/admin/users", "/settings/workspaces", "/datasets"):
        response = render_page(client, path)
        assert response.status_code == 200
        content = json.dumps(response.get_json()["response"]["_pages_content"]["children"])
        assert "protected-redirect" in content
        assert "ada@example.com" not in content and "Ada" not in content
    login = json.dumps(render_page(client, "/login").get_json())
    assert "public-login-email" in login


def test_session_cookie_flags(client, admin):
    from tests.conftest import sign_in

    response = sign_in(client, "ada@example.com", remember=True)
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"datainsight_session", "datainsight_remember", "datainsight_device"}
    for cookie in cookies.values():
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client):
    response = client.get("/api/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
