"""Per-request context: the app's Storage and the acting Principal.

Pages, callbacks and API routes call these instead of touching flask-login directly, so
there is one definition of "who is asking" for session cookies and API tokens alike.
"""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import flask

from storage import Storage
from storage.errors import Unauthenticated
from storage.principal import Principal

EXTENSION_KEY = "datainsight"


def current_storage() -> Storage:
    return flask.current_app.extensions[EXTENSION_KEY]["storage"]


def current_settings():
    return flask.current_app.extensions[EXTENSION_KEY]["settings"]


def current_principal() -> Principal | None:
    """The acting principal for this request (resolved by the guard), or None."""
    return flask.g.get("principal")


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthenticated("Sign in to continue")
    return principal


def safe_next_path(value: str | None, default: str = "/") -> str:
    """Only same-site paths may follow a sign-in: never another host (open redirect)."""
    if not value or not isinstance(value, str):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if parts.path in ("/login", "/setup", "/logout"):
        return default
    return value


def invitation_link(code: str) -> str:
    """The absolute link an invitee opens to choose a password."""
    return flask.request.host_url.rstrip("/") + "/invite?" + urlencode({"code": code})


def tracker_snippet(key: str) -> str:
    """The tag a site pastes into its pages, with the app's address as people reach it."""
    base = (current_settings().public_url or flask.request.host_url).rstrip("/")
    return f'<script defer src="{base}/js/tracker.js" data-site="{key}"></script>'


def current_workspace(principal: Principal):
    """The workspace this session is looking at: the one picked in the navbar if the user
    still belongs to it, else their personal workspace."""
    from storage.errors import NotFound

    storage = current_storage()
    chosen = flask.session.get("workspace_id")
    if chosen is not None:
        try:
            return storage.workspaces.get(principal, chosen)
        except NotFound:
            flask.session.pop("workspace_id", None)
    return storage.workspaces.personal_workspace(principal)
