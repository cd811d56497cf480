"""/api/v1: accounts, workspaces, members and tokens. Every route finds the acting
principal (session or Bearer token) and hands it to storage, which checks the rights."""
from __future__ import annotations

import flask

from typing import Literal

from api._helpers import created, field, json_body
from api.openapi import Answer, Body, operation
from storage.errors import InvalidInput, NotFound
from storage.workspaces import clean_workspace_name
from web.auth import current_session_key, sign_in, sign_out
from web.context import current_storage, invitation_link, require_principal
from web.csrf import csrf_token
from web.proxies import request_client_address

blueprint = flask.Blueprint("api_v1", __name__, url_prefix="/api/v1")

Role = Literal["viewer", "editor", "owner"]


class PasswordChange(Body):
    current_password: str
    new_password: str


class WorkspaceNew(Body):
    name: str


class WorkspaceChange(Body):
    name: str | None = None
    allowed_recipient_domains: list[str] | None = None


class MemberNew(Body):
    email: str
    role: Role


class MemberChange(Body):
    role: Role


class TokenNew(Body):
    name: str
    scope: Literal["read", "write"] = "write"
    expires_in_days: int | None = None


class UserNew(Body):
    email: str
    password: str
    name: str | None = None
    is_admin: bool = False


class UserChange(Body):
    is_active: bool | None = None
    is_admin: bool | None = None


class InvitationNew(Body):
    email: str
    is_admin: bool = False


class UserOut(Answer):
    id: int
    email: str
    name: str
    is_admin: bool


class WorkspaceOut(Answer):
    id: int
    name: str


class Me(Answer):
    user: UserOut
    auth: dict
    workspaces: list[WorkspaceOut]


class TokenOut(Answer):
    id: int
    name: str
    scope: str
    status: str


class TokenList(Answer):
    tokens: list[TokenOut]


class UserList(Answer):
    users: list[UserOut]


class WorkspaceList(Answer):
    workspaces: list[WorkspaceOut]


class MemberOut(Answer):
    user_id: int
    email: str
    role: Role


class MemberList(Answer):
    members: list[MemberOut]


class SessionList(Answer):
    sessions: list[dict]


# --- me -------------------------------------------------------------------------------


@blueprint.get("/me")
@operation("Who is asking: the user, how they signed in, and their workspaces", "Account", answer=Me)
def me():
    principal = require_principal()
    storage = current_storage()
    user = storage.users.get(principal.user_id)
    auth = {"via": principal.via, "scope": principal.scope}
    if current_session_key():  # for scripts that post with the cookie (web.csrf)
        auth["csrf_token"] = csrf_token(current_session_key())
    return flask.jsonify(
        {
            "user": user.public_dict(),
            "auth": auth,
            "workspaces": [w.public_dict() for w in storage.workspaces.list_for(principal)],
        }
    )


@blueprint.post("/me/password")
@operation("Change your password (signed-in sessions only); every other session ends", "Account", body=PasswordChange)
def change_password():
    principal = require_principal()
    body = json_body()
    user = current_storage().users.change_password(
        principal, field(body, "current_password"), field(body, "new_password"), request_client_address()
    )
    # Every session of the account ended; this one goes on in a new session.
    sign_in(user, remember=None)
    return flask.jsonify({"status": "changed"})


@blueprint.get("/me/sessions")
@operation("Your signed-in sessions", "Account", answer=SessionList)
def list_sessions():
    principal = require_principal()
    sessions = current_storage().sessions.list_for(principal, current_session_key())
    return flask.jsonify({"sessions": [s.public_dict() for s in sessions]})


@blueprint.post("/me/sessions/revoke")
@operation("Sign out everywhere: every session of the account", "Account")
def revoke_sessions():
    """Sign out everywhere: every session of the account, this one included."""
    principal = require_principal()
    ended = current_storage().sessions.end_all(principal)
    if current_session_key():
        sign_out()
    return flask.jsonify({"ended": ended})


# --- workspaces -----------------------------------------------------------------------


@blueprint.get("/workspaces")
@operation("Your workspaces", "Workspaces", answer=WorkspaceList)
def list_workspaces():
    principal = require_principal()
    return flask.jsonify({"workspaces": [w.public_dict() for w in current_storage().workspaces.list_for(principal)]})


@blueprint.post("/workspaces")
@operation("Create a workspace (you own it)", "Workspaces", body=WorkspaceNew, status=201, answer=WorkspaceOut)
def create_workspace():
    principal = require_principal()
    workspace = current_storage().workspaces.create(principal, field(json_body(), "name"))
    return created(workspace.public_dict())


@blueprint.get("/workspaces/<workspace_id>")
@operation("One workspace", "Workspaces", answer=WorkspaceOut)
def get_workspace(workspace_id):
    principal = require_principal()
    return flask.jsonify(current_storage().workspaces.get(principal, workspace_id).public_dict())


@blueprint.patch("/workspaces/<workspace_id>")
@operation("Rename a workspace, or set the email domains its reports may go to (owners)", "Workspaces", body=WorkspaceChange, answer=WorkspaceOut)
def update_workspace(workspace_id):
    """{"name"} and/or {"allowed_recipient_domains": [...]} (owners)."""
    principal = require_principal()
    body = json_body()
    service = current_storage().workspaces
    if "name" not in body and "allowed_recipient_domains" not in body:
        raise InvalidInput("Nothing to change: send name and/or allowed_recipient_domains")
    if "name" in body:
        clean_workspace_name(field(body, "name"))  # refused before anything changes
    if "allowed_recipient_domains" in body:
        service.set_allowed_domains(principal, workspace_id, body["allowed_recipient_domains"])
    if "name" in body:
        service.rename(principal, workspace_id, field(body, "name"))
    return flask.jsonify(service.get(principal, workspace_id).public_dict())


@blueprint.get("/workspaces/<workspace_id>/members")
@operation("The workspace's members and their roles", "Workspaces", answer=MemberList)
def list_members(workspace_id):
    principal = require_principal()
    members = current_storage().workspaces.members(principal, workspace_id)
    return flask.jsonify({"members": [m.public_dict() for m in members]})


@blueprint.post("/workspaces/<workspace_id>/members")
@operation("Add a member by email (owners)", "Workspaces", body=MemberNew, status=201, answer=MemberOut)
def add_member(workspace_id):
    principal = require_principal()
    body = json_body()
    member = current_storage().workspaces.add_member(principal, workspace_id, field(body, "email"), field(body, "role"))
    return created(member.public_dict())


@blueprint.patch("/workspaces/<workspace_id>/members/<user_id>")
@operation("Change a member's role (owners)", "Workspaces", body=MemberChange, answer=MemberOut)
def change_member_role(workspace_id, user_id):
    principal = require_principal()
    member = current_storage().workspaces.change_role(principal, workspace_id, user_id, field(json_body(), "role"))
    return flask.jsonify(member.public_dict())


@blueprint.delete("/workspaces/<workspace_id>/members/<user_id>")
@operation("Remove a member (owners)", "Workspaces", status=204)
def remove_member(workspace_id, user_id):
    principal = require_principal()
    current_storage().workspaces.remove_member(principal, workspace_id, user_id)
    return "", 204


# --- tokens ---------------------------------------------------------------------------


@blueprint.get("/tokens")
@operation("Your API tokens (never their secret)", "Account", answer=TokenList)
def list_tokens():
    principal = require_principal()
    return flask.jsonify({"tokens": [t.public_dict() for t in current_storage().tokens.list_for(principal)]})


@blueprint.post("/tokens")
@operation("Create an API token (from a signed-in session); its secret is shown once", "Account", body=TokenNew, status=201, answer=TokenOut)
def create_token():
    principal = require_principal()
    body = json_body()
    token, plaintext = current_storage().tokens.create(
        principal,
        field(body, "name"),
        scope=field(body, "scope", required=False, default="write"),
        expires_in_days=field(body, "expires_in_days", kind=int, required=False),
    )
    return created({**token.public_dict(), "token": plaintext})


@blueprint.delete("/tokens/<token_id>")
@operation("Revoke an API token", "Account", answer=TokenOut)
def revoke_token(token_id):
    principal = require_principal()
    return flask.jsonify(current_storage().tokens.revoke(principal, token_id).public_dict())


# --- users and invitations (administrators) -------------------------------------------


@blueprint.get("/users")
@operation("Every account (administrators)", "Administration", answer=UserList)
def list_users():
    principal = require_principal()
    return flask.jsonify({"users": [u.public_dict() for u in current_storage().users.list_users(principal)]})


@blueprint.post("/users")
@operation("Create an account (administrators)", "Administration", body=UserNew, status=201, answer=UserOut)
def create_user():
    principal = require_principal()
    body = json_body()
    user = current_storage().users.create_user(
        principal,
        field(body, "email"),
        field(body, "password"),
        name=field(body, "name", required=False),
        is_admin=field(body, "is_admin", kind=bool, required=False, default=False),
    )
    return created(user.public_dict())


@blueprint.patch("/users/<user_id>")
@operation("Deactivate or reactivate an account, or make it an administrator", "Administration", body=UserChange, answer=UserOut)
def update_user(user_id):
    principal = require_principal()
    body = json_body()
    try:
        user_id = int(user_id)
    except ValueError:
        raise NotFound(f"There is no user {user_id!r}") from None
    users = current_storage().users
    user = None
    if "is_active" in body:
        user = users.set_active(principal, user_id, field(body, "is_active", kind=bool))
    if "is_admin" in body:
        user = users.set_admin(principal, user_id, field(body, "is_admin", kind=bool))
    if user is None:
        users.list_users(principal)  # still an admin-only route
        raise InvalidInput("Nothing to change: send is_active and/or is_admin")
    return flask.jsonify(user.public_dict())


@blueprint.post("/invitations")
@operation("Invite someone by email: a one-time link to choose a password (administrators)", "Administration", body=InvitationNew, status=201)
def invite():
    principal = require_principal()
    body = json_body()
    invitation, code = current_storage().invitations.invite(
        principal, field(body, "email"), is_admin=field(body, "is_admin", kind=bool, required=False, default=False)
    )
    return created({**invitation.public_dict(), "link": invitation_link(code)})
