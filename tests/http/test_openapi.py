"""The API's OpenAPI 3.1 description (issue 15, point 1): every route under /api/ is in
it with its method, parameters, body and answers; the body models refuse what does not
fit with the usual JSON error naming the field; Swagger UI and ReDoc are served from the
app's own files."""
from __future__ import annotations

import re

from api.openapi import undocumented
from tests.conftest import bearer


def test_every_api_route_is_described(client, app):
    answer = client.get("/api/v1/openapi.json")  # no credentials needed
    assert answer.status_code == 200
    spec = answer.get_json()
    assert spec["openapi"] == "3.1.0" and spec["info"]["title"] == "DataInsight API"
    assert undocumented(app.server) == []
    described = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    for rule in app.server.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in ("api_fallback.unknown_route",):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in described, (method, path)
    assert len(described) >= 85
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "description": "A personal API token"}
    assert schemes["cookieAuth"]["in"] == "cookie" and schemes["cookieAuth"]["name"] == "datainsight_session"
    alert = spec["paths"]["/api/v1/alerts"]["post"]
    assert alert["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AlertIn"}
    assert "201" in alert["responses"] and alert["responses"]["default"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Error"}
    condition = spec["components"]["schemas"]["Condition"]
    assert condition["properties"]["op"]["enum"] == [">", ">=", "<", "<=", "changes_by_pct"]
    rows = spec["paths"]["/api/v1/datasets/{dataset_id}/rows"]["get"]
    names = [p["name"] for p in rows["parameters"]]
    assert names[:1] == ["dataset_id"] and {"offset", "limit", "sort", "filter"} <= set(names)
    assert rows["parameters"][0]["schema"]["type"] == "integer"
    assert spec["paths"]["/api/v1/signup"]["post"]["security"] == []  # no credentials
    assert "security" not in spec["paths"]["/api/v1/me"]["get"]  # the document's default: a token or a session
    upload = spec["paths"]["/api/v1/datasets"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


def test_a_body_that_does_not_fit_names_the_field(client, ada):
    answer = client.post("/api/v1/alerts", headers=bearer(ada), json={
        "dashboard_id": 1, "widget_id": "k", "condition": {"op": "<", "value": "lots"}, "channels": []})
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_input" and error["details"] == {"field": "condition.value"}
    assert "condition.value" in error["message"]
    unknown = client.post("/api/v1/workspaces", headers=bearer(ada), json={"name": "X", "colour": "red"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["message"] == "Unknown field 'colour'"
    missing = client.post("/api/v1/tokens", headers=bearer(ada), json={})
    assert missing.status_code == 400 and missing.get_json()["error"]["message"] == "name is required"
    not_json = client.post("/api/v1/workspaces", headers=bearer(ada), data="name=X")
    assert not_json.status_code == 400 and "JSON object" in not_json.get_json()["error"]["message"]


def test_swagger_ui_and_redoc_are_served_from_our_own_files(client):
    for path, script in (("/api/docs", "/api/docs/static/swagger-ui-bundle.js"),
                         ("/api/redoc", "/api/docs/static/redoc.standalone.js")):
        page = client.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        html = page.get_data(as_text=True)
        assert f'src="{script}"' in html and "/api/v1/openapi.json" in html
        assert "http://" not in html and "https://" not in html  # no CDN
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        asset = client.get(script)
        assert asset.status_code == 200 and asset.mimetype == "text/javascript" and len(asset.get_data()) > 500_000
    assert client.get("/api/docs/static/swagger-ui.css").mimetype == "text/css"
    assert b"class Settings" not in client.get("/api/docs/static/..%2Fsettings.py").get_data()
    assert b"class Settings" not in client.get("/api/docs/static/..%2F..%2Fsettings.py").get_data()
    assert client.get("/api/docs/static/SWAGGER-UI-LICENSE").status_code == 404
