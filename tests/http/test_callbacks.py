"""Dash callbacks are public HTTP endpoints: sign-in through them, and a second user who
posts crafted inputs must not see or touch the first user's things."""
import json

from tests.conftest import PASSWORD, post_callback, render_page, sign_in


def response_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


def test_sign_in_callback(client, app_storage, admin):
    body = response_of(sign_in(client, "ada@example.com"))
    assert body["public-login-redirect"]["href"] == "/"
    assert app_storage.users.get(admin.id).last_login_at is not None
    assert client.get("/api/v1/me").status_code == 200


def test_wrong_password_shows_the_message_and_sets_no_session(client, admin):
    body = json.dumps(response_of(sign_in(client, "ada@example.com", "wrong password!")))
    assert "The email or password is not right" in body
    assert client.get("/api/v1/me").status_code == 401


def test_lockout_through_the_login_form(client, admin, sleeps):
    for _ in range(5):
        sign_in(client, "ada@example.com", "wrong password!")
    body = json.dumps(response_of(sign_in(client, "ada@example.com")))
    assert "Too many failed sign-in attempts" in body
    assert client.get("/api/v1/me").status_code == 401


def test_login_redirect_never_leaves_the_site(client, admin):
    response = post_callback(
        client,
        [("public-login-feedback", "children"), ("public-login-redirect", "href")],
        [("public-login-submit", "n_clicks", 1)],
        [("public-login-email", "value", "ada@example.com"), ("public-login-password", "value", PASSWORD),
         ("public-login-remember", "value", False), ("public-login-next", "data", "https://evil.example/")],
        changed=["public-login-submit.n_clicks"],
    )
    assert response_of(response)["public-login-redirect"]["href"] == "/"


def test_setup_callback_refuses_once_set_up(client, admin):
    response = post_callback(
        client,
        [("public-setup-feedback", "children"), ("public-setup-redirect", "href")],
        [("public-setup-submit", "n_clicks", 1)],
        [("public-setup-name", "value", "Eve"), ("public-setup-email", "value", "eve@example.com"),
         ("public-setup-password", "value", PASSWORD), ("public-setup-password2", "value", PASSWORD)],
        changed=["public-setup-submit.n_clicks"],
    )
    assert "already set up" in json.dumps(response_of(response))
    assert client.get("/api/v1/me").status_code == 401


def test_setup_after_a_refused_password_creates_the_admin(client):
    """First run: a too-short password is refused, and the valid one right after works
    (it used to answer "already set up" with no account behind it)."""
    def submit(password):
        return json.dumps(response_of(post_callback(
            client,
            [("public-setup-feedback", "children"), ("public-setup-redirect", "href")],
            [("public-setup-submit", "n_clicks", 1)],
            [("public-setup-name", "value", "Ada"), ("public-setup-email", "value", "ada@example.com"),
             ("public-setup-password", "value", password), ("public-setup-password2", "value", password)],
            changed=["public-setup-submit.n_clicks"],
        )))

    refused = submit("short")
    assert "already set up" not in refused and "characters" in refused
    accepted = submit(PASSWORD)
    assert "already set up" not in accepted
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").get_json()["user"]["email"] == "ada@example.com"


def test_sign_out_ends_the_session(client, admin):
    sign_in(client, "ada@example.com")
    body = response_of(post_callback(client, [("nav-redirect", "href")], [("nav-signout", "n_clicks", 1)],
                                     changed=["nav-signout.n_clicks"]))
    assert body["nav-redirect"]["href"] == "/login"
    assert client.get("/api/v1/me").status_code == 401
    assert post_callback(client, [("nav-redirect", "href")], [("nav-signout", "n_clicks", 2)]).status_code == 401


def test_pages_render_for_a_signed_in_user(client, admin):
    sign_in(client, "ada@example.com")
    for path, text in [("/", "Welcome, Ada Admin"), ("/datasets", "No datasets in Ada Admin"),
                       ("/dashboards", "No dashboards here yet"), ("/analyze", "Nothing to analyze yet"),
                       ("/settings", "ada@example.com"), ("/settings/workspaces", "Members of Ada Admin"),
                       ("/admin/users", "Create a user"), ("/no/such/page", "This page does not exist")]:
        assert text in json.dumps(response_of(render_page(client, path))), path


def test_non_admin_gets_no_user_admin(make_client, second_user):
    bob = make_client()
    sign_in(bob, "bob@example.com")
    page = json.dumps(response_of(render_page(bob, "/admin/users")))
    assert "Administrators only" in page and "ada@example.com" not in page
    assert "nav-admin-users" not in bob.get("/_dash-layout").get_data(as_text=True)
    response = post_callback(
        bob,
        [("user-create-feedback", "children"), ("users-list", "children"), ("user-new-password", "value")],
        [("user-create", "n_clicks", 1)],
        [("user-new-email", "value", "mallory@example.com"), ("user-new-name", "value", "M"),
         ("user-new-password", "value", PASSWORD), ("user-new-admin", "value", True)],
        changed=["user-create.n_clicks"],
    )
    assert "Only an administrator" in json.dumps(response_of(response))


def test_crafted_callbacks_cannot_reach_another_users_workspace_or_tokens(make_client, app_storage, admin, second_user):
    ada = admin.principal()
    ada_ws = app_storage.workspaces.personal_workspace(ada)
    ada_token, _ = app_storage.tokens.create(ada, "ada's script")
    bob = make_client()
    sign_in(bob, "bob@example.com")

    # Switch to Ada's workspace by posting its id: refused, the session keeps Bob's.
    body = response_of(post_callback(
        bob, [("nav-redirect", "href")], [("nav-workspace", "value", str(ada_ws.id))],
        [("nav-redirect", "pathname", "/datasets")], changed=["nav-workspace.value"]))
    assert "nav-redirect" not in body or body["nav-redirect"]["href"] is None
    assert "Bob Other's workspace" in json.dumps(response_of(render_page(bob, "/datasets")))

    # Revoke Ada's token by id: refused, the token stays active.
    body = response_of(post_callback(
        bob, [("token-feedback", "children"), ("token-list", "children"), ("token-name", "value")],
        [("token-create", "n_clicks", 0), ({"type": "token-revoke", "index": "ALL"}, "n_clicks", [(ada_token.id, 1)])],
        [("token-name", "value", ""), ("token-scope", "value", "write"), ("token-expiry", "value", None)],
        changed=[json.dumps({"index": ada_token.id, "type": "token-revoke"}, separators=(",", ":")) + ".n_clicks"]))
    assert f"no token {ada_token.id} of yours" in json.dumps(body)
    assert app_storage.tokens.list_for(ada)[0].status == "active"

    # Add himself to Ada's workspace: the member callback acts on Bob's own workspace only,
    # and posting Ada's user id to remove her finds no such member there.
    body = response_of(post_callback(
        bob, [("member-feedback", "children"), ("member-list", "children")],
        [("member-add", "n_clicks", 0), ({"type": "member-role", "index": "ALL"}, "value", []),
         ({"type": "member-remove", "index": "ALL"}, "n_clicks", [(admin.id, 1)])],
        [("member-email", "value", ""), ("member-role-new", "value", "viewer")],
        changed=[json.dumps({"index": admin.id, "type": "member-remove"}, separators=(",", ":")) + ".n_clicks"]))
    assert f"no member {admin.id}" in json.dumps(body)
    assert [m.email for m in app_storage.workspaces.members(ada, ada_ws.id)] == ["ada@example.com"]

    # Deactivate Ada through the admin callback: refused.
    body = response_of(post_callback(
        bob, [("users-feedback", "children"), ("users-list", "children")],
        [({"type": "user-active", "index": "ALL"}, "n_clicks", [(admin.id, 1)])],
        changed=[json.dumps({"index": admin.id, "type": "user-active"}, separators=(",", ":")) + ".n_clicks"]))
    assert "Only an administrator" in json.dumps(body)
    assert app_storage.users.get(admin.id).is_active


def test_workspace_owner_adds_a_member_through_the_page(client, app_storage, admin, second_user):
    sign_in(client, "ada@example.com")
    body = response_of(post_callback(
        client, [("member-feedback", "children"), ("member-list", "children")],
        [("member-add", "n_clicks", 1), ({"type": "member-role", "index": "ALL"}, "value", [(admin.id, "owner")]),
         ({"type": "member-remove", "index": "ALL"}, "n_clicks", [(admin.id, None)])],
        [("member-email", "value", "bob@example.com"), ("member-role-new", "value", "viewer")],
        changed=["member-add.n_clicks"]))
    assert "bob@example.com is now a viewer" in json.dumps(body)
    ws = app_storage.workspaces.personal_workspace(admin.principal())
    assert {m.email: m.role.value for m in app_storage.workspaces.members(admin.principal(), ws.id)} == {
        "ada@example.com": "owner", "bob@example.com": "viewer"}


def test_new_workspace_appears_in_the_switcher_at_once(client, admin):
    sign_in(client, "ada@example.com")
    body = response_of(post_callback(
        client,
        [("workspace-create-feedback", "children"), ("workspace-new-name", "value"),
         ("workspace-list", "children"), ("nav-workspace", "options")],
        [("workspace-create", "n_clicks", 1)], [("workspace-new-name", "value", "Sales team")],
        changed=["workspace-create.n_clicks"]))
    assert [o["label"] for o in body["nav-workspace"]["options"]] == ["Ada Admin's workspace", "Sales team"]
    assert "Sales team" in json.dumps(body["workspace-list"]["children"])
    assert body["workspace-new-name"]["value"] == ""
