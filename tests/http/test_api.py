"""/api/v1 with Bearer tokens and session cookies, and its JSON errors."""

from tests.conftest import PASSWORD, bearer, sign_in


def test_me_with_token(client, ada):
    response = client.get("/api/v1/me", headers=bearer(ada))
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["email"] == "ada@example.com" and body["user"]["is_admin"] is True
    assert "password_hash" not in body["user"] and "session_stamp" not in body["user"]
    assert body["auth"] == {"via": "token", "scope": "write"}
    assert [w["name"] for w in body["workspaces"]] == ["Ada Admin's workspace"]


def test_me_with_session(client, admin):
    sign_in(client, "ada@example.com")
    response = client.get("/api/v1/me")
    assert response.status_code == 200 and response.get_json()["auth"]["via"] == "session"


def test_bad_or_revoked_token_gets_401(client, app_storage, admin, ada):
    assert client.get("/api/v1/me", headers=bearer("dit_nonsense")).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    token_id = client.get("/api/v1/tokens", headers=bearer(ada)).get_json()["tokens"][0]["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(ada)).status_code == 200
    response = client.get("/api/v1/me", headers=bearer(ada))
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]["message"]


def test_tokens_are_created_from_a_session_only(client, admin, ada):
    response = client.post("/api/v1/tokens", json={"name": "x"}, headers=bearer(ada))
    assert response.status_code == 403
    sign_in(client, "ada@example.com")
    response = client.post("/api/v1/tokens", json={"name": "ci", "scope": "read"})
    assert response.status_code == 201
    created = response.get_json()
    assert created["token"].startswith("dit_") and created["scope"] == "read"
    listed = client.get("/api/v1/tokens").get_json()["tokens"]
    assert all("token" not in t for t in listed)


def test_errors_are_json_with_code_and_message(client, ada):
    response = client.post("/api/v1/workspaces", data="name=x", headers=bearer(ada))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_input"
    assert "Content-Type: application/json" in response.get_json()["error"]["message"]
    response = client.post("/api/v1/workspaces", json={"name": ""}, headers=bearer(ada))
    assert response.status_code == 400 and "name" in response.get_json()["error"]["message"]
    response = client.get("/api/v1/no-such-thing", headers=bearer(ada))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.get("/api/v1/workspaces/99999", headers=bearer(ada))
    assert response.status_code == 404


def test_workspace_members_through_the_api(client, ada, bob, second_user):
    created = client.post("/api/v1/workspaces", json={"name": "Sales"}, headers=bearer(ada))
    assert created.status_code == 201 and created.get_json()["role"] == "owner"
    ws = created.get_json()["id"]
    added = client.post(f"/api/v1/workspaces/{ws}/members", json={"email": "bob@example.com", "role": "viewer"},
                        headers=bearer(ada))
    assert added.status_code == 201
    members = client.get(f"/api/v1/workspaces/{ws}/members", headers=bearer(bob)).get_json()["members"]
    assert {m["email"]: m["role"] for m in members} == {"ada@example.com": "owner", "bob@example.com": "viewer"}
    # The viewer cannot change anything.
    response = client.patch(f"/api/v1/workspaces/{ws}/members/{second_user.id}", json={"role": "owner"},
                            headers=bearer(bob))
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.patch(f"/api/v1/workspaces/{ws}", json={"name": "Bob's"}, headers=bearer(bob)).status_code == 403
    # The owner can promote.
    response = client.patch(f"/api/v1/workspaces/{ws}/members/{second_user.id}", json={"role": "editor"},
                            headers=bearer(ada))
    assert response.status_code == 200 and response.get_json()["role"] == "editor"
    assert client.delete(f"/api/v1/workspaces/{ws}/members/{second_user.id}", headers=bearer(ada)).status_code == 204
    assert client.get(f"/api/v1/workspaces/{ws}", headers=bearer(bob)).status_code == 404


def test_second_user_cannot_reach_the_first_users_workspace(client, app_storage, admin, bob, ada):
    ada_ws = app_storage.workspaces.personal_workspace(admin.principal()).id
    for method, path, body in [
        ("get", f"/api/v1/workspaces/{ada_ws}", None),
        ("get", f"/api/v1/workspaces/{ada_ws}/members", None),
        ("post", f"/api/v1/workspaces/{ada_ws}/members", {"email": "bob@example.com", "role": "owner"}),
        ("patch", f"/api/v1/workspaces/{ada_ws}", {"name": "taken"}),
        ("delete", f"/api/v1/workspaces/{ada_ws}/members/{admin.id}", None),
    ]:
        response = getattr(client, method)(path, json=body, headers=bearer(bob))
        assert response.status_code == 404, (method, path)
    ada_id = app_storage.tokens.list_for(admin.principal())[0].id
    assert client.delete(f"/api/v1/tokens/{ada_id}", headers=bearer(bob)).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(ada)).status_code == 200  # still works
    assert client.get("/api/v1/users", headers=bearer(bob)).status_code == 403
    assert client.post("/api/v1/users", json={"email": "x@example.com", "password": PASSWORD},
                       headers=bearer(bob)).status_code == 403
    assert client.patch(f"/api/v1/users/{admin.id}", json={"is_active": False}, headers=bearer(bob)).status_code == 403
    assert app_storage.users.get(admin.id).is_active


def test_admin_creates_and_invites_users(client, ada):
    response = client.post("/api/v1/users", json={"email": "carol@example.com", "password": PASSWORD, "name": "Carol"},
                           headers=bearer(ada))
    assert response.status_code == 201 and response.get_json()["email"] == "carol@example.com"
    response = client.post("/api/v1/users", json={"email": "carol@example.com", "password": PASSWORD}, headers=bearer(ada))
    assert response.status_code == 409
    response = client.post("/api/v1/invitations", json={"email": "dan@example.com"}, headers=bearer(ada))
    assert response.status_code == 201
    link = response.get_json()["link"]
    assert link.startswith("http://localhost/invite?code=")
    assert client.get(link.replace("http://localhost", "")).status_code == 200  # public page


def test_password_change_through_the_api_ends_other_sessions(make_client, admin):
    first, second = make_client(), make_client()
    sign_in(first, "ada@example.com")
    sign_in(second, "ada@example.com")
    response = first.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "a new long password"})
    assert response.status_code == 200
    assert first.get("/api/v1/me").status_code == 200
    assert second.get("/api/v1/me").status_code == 401
