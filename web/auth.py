"""Sign-in sessions (flask-login), API tokens, and the global guard.

The guard is deny-by-default: a request passes without a principal only if it is a
static asset, the health check, one of the public pages (login, setup, invitation, and
shared dashboards under /public/, whose token is checked in storage), or a Dash callback
whose every output is a public component (ids, or pattern-id types, starting ``public-``)
or the page router. Everything else gets 401 (API, callbacks) or a redirect to sign-in. Before any of that, a
state change that relies on our cookies must come from our own pages (web.csrf).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import urlencode

import flask
import flask_login
from flask_login import LoginManager, UserMixin
from itsdangerous import BadSignature
from werkzeug.http import parse_cookie

from storage import audit
from storage.errors import Forbidden, NotFound
from storage.principal import Principal
from storage.tokens import TOKEN_PREFIX
from storage.users import User
from web import devices
from web.context import EXTENSION_KEY, current_storage, safe_next_path
from web.cors import foreign_origin
from web.csrf import SAFE_METHODS, cross_site_refusal
from web.proxies import request_client_address

log = logging.getLogger(__name__)

PUBLIC_PAGES = frozenset({"/login", "/setup", "/invite", "/signup", "/verify", "/forgot-password", "/reset-password"})
# API routes for people without an account or a session (storage.signup checks the rest).
ANONYMOUS_API = frozenset({"/api/v1/signup", "/api/v1/signup/verify", "/api/v1/signup/resend",
                           "/api/v1/password/forgot", "/api/v1/password/reset"})
# Pages under this prefix are reached by an unguessable share token in the path (a public
# dashboard link); the token, checked in storage, is the credential.
PUBLIC_PAGE_PREFIX = "/public/"
SHARED_DASHBOARD_PREFIX = "/public/dashboards/"
# Anyone may post here from any site (a page's tracker): no session is read, no CSRF check
# applies, and the route checks its own key, sizes and rate limits (api.collect).
COLLECT_EXACT = frozenset({"/api/collect"})
ASSET_EXACT = frozenset({"/_favicon.ico", "/_reload-hash",
                         "/js/tracker.js"})  # api.tracker: the script other sites embed
ASSET_PREFIXES = ("/assets/", "/_dash-component-suites/", "/api/docs/static/")
# Public, but the answer depends on who asks (the shell layout shows the navbar only to
# a signed-in person), so the principal is resolved first.
OPEN_EXACT = frozenset({"/api/health", "/_dash-layout", "/_dash-dependencies",
                        "/metrics",  # web.metrics checks its own token or the peer address
                        "/api/v1/openapi.json", "/api/docs", "/api/redoc"})  # api.docs
PUBLIC_COMPONENT_PREFIX = "public-"
# Dash's page router: it must run for anonymous visitors so the login page can render;
# protected page layouts are wrapped (see protect_page_layouts) and render nothing then.
ROUTER_COMPONENT_IDS = frozenset({"_pages_content", "_pages_store", "_pages_dummy"})
CALLBACK_PATH = "/_dash-update-component"


SESSION_COOKIE = "datainsight_session"
REMEMBER_COOKIE = "datainsight_remember"


class SessionUser(UserMixin):
    """What flask-login keeps in the session and in the remember-me cookie: the user id,
    the session stamp (a password change or deactivation ends every session) and the key
    of this sign-in's row in storage.sessions (signing out ends it on the server)."""

    def __init__(self, user: User, session_key: str):
        self.user = user
        self.session_key = session_key

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_stamp}:{self.session_key}"

    @property
    def is_active(self) -> bool:
        return self.user.is_active


def _load_session_user(session_id: str):
    try:
        user_id, stamp, key = session_id.split(":", 2)
        user = current_storage().sessions.resolve(int(user_id), stamp, key)
    except (ValueError, AttributeError):
        return None
    return SessionUser(user, key) if user is not None else None


def current_session_key() -> str | None:
    """The key of the signed-in session of this request, or None (anonymous, Bearer)."""
    user = flask_login.current_user
    return user.session_key if user.is_authenticated else None


def sign_in(user: User, remember: bool | None = False) -> None:
    """Start a session for ``user`` (remember=None: remembered if this browser was)."""
    if remember is None:
        remember = REMEMBER_COOKIE in flask.request.cookies
    key = current_storage().sessions.start(user.id, flask.request.user_agent.string, request_client_address())
    flask.session.clear()  # a fresh session on sign-in: nothing carried over from before
    flask_login.login_user(SessionUser(user, key), remember=remember)
    current_storage().users.record_sign_in(user.id)
    devices.remember(user.id)


def sign_out() -> None:
    """End this session on the server: a copy of its cookie or of its remember-me cookie
    is refused from now on."""
    key = current_session_key()
    if key:
        current_storage().sessions.end(key)
    flask_login.logout_user()
    flask.session.clear()
    flask.session["_remember"] = "clear"  # logout_user asked for it; clear() forgot it


def callback_output_ids(body) -> list[str] | None:
    """The component ids a Dash callback request writes to, or None if unreadable."""
    if not isinstance(body, dict):
        return None
    output = body.get("output")
    if not isinstance(output, str) or not output:
        return None
    if output.startswith(".."):
        parts = output[2:-2].split("...")
    else:
        parts = [output]
    ids = []
    for part in parts:
        component_id, _, _prop = part.rpartition(".")
        if not component_id:
            return None
        if component_id.startswith("{"):
            component_id = _pattern_type(component_id)
            if component_id is None:
                return None
        ids.append(component_id)
    return ids


def _pattern_type(id_json: str) -> str | None:
    """The ``type`` of a pattern-matching id ({"index": ..., "type": ...}), which is what
    decides whether it is public; None when it is not such an id."""
    try:
        value = json.loads(id_json)
    except ValueError:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) and kind else None


def is_public_callback(body) -> bool:
    ids = callback_output_ids(body)
    return bool(ids) and all(
        i.startswith(PUBLIC_COMPONENT_PREFIX) or i in ROUTER_COMPONENT_IDS for i in ids
    )


def classify(path: str, method: str) -> str:
    """'asset', 'open', 'public-page', 'callback', 'api' or 'page' for a request."""
    if path in ASSET_EXACT or path.startswith(ASSET_PREFIXES):
        return "asset"
    if path in OPEN_EXACT:
        return "open"
    if path == CALLBACK_PATH:
        return "callback"
    if path.startswith("/api/"):
        return "api"
    if method in ("GET", "HEAD") and (path in PUBLIC_PAGES or path.startswith(PUBLIC_PAGE_PREFIX)):
        return "public-page"
    return "page"


def unauthenticated_response(message: str = "Sign in or send an API token to use this"):
    response = flask.jsonify({"error": {"code": "unauthenticated", "message": message}})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="datainsight"'
    return response


# POST routes that only read: their question is a body (a query, an analysis, a widget to
# render, a report file to build), so a read-scoped token may call them. Every other
# non-GET route under /api/ changes something and is refused to read tokens here, before
# any body is read; storage checks the scope again (Principal.require_write and
# effective_role), so a route added without thought is still refused twice.
READ_SCOPE_ENDPOINTS = frozenset({
    "api_analyze.analyze",
    "api_dashboards.query",
    "api_dashboards.render_widget",
    "api_reports.start_export",
    "api_sql.run_sql",  # a SELECT in a sandbox that cannot write (storage.sql_editor)
})


def _resolve_principal() -> tuple[Principal | None, bool]:
    """(principal, bad_token): a Bearer token wins over the session cookie."""
    header = flask.request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, True
        principal = current_storage().tokens.resolve(value.strip())
        return principal, principal is None
    if flask.request.path.startswith("/api/") and foreign_origin() is not None:
        return None, False  # another site's page: cookies never sign it in (web.cors)
    if flask_login.current_user.is_authenticated:
        return flask_login.current_user.user.principal(via="session"), False
    return None, False


def _shared_link_check(token: str):
    """A public dashboard link loads only while its token is valid; an unknown or revoked
    one answers 404 (the page itself would say the same, but scripts see the status)."""
    try:
        current_storage().dashboards.get_shared(token.strip("/"))
    except NotFound:
        response = flask.make_response(
            "<!doctype html><title>Not found</title><h1>This link does not work</h1>"
            "<p>The dashboard's public link was revoked, or the address is incomplete.</p>", 404)
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response
    return None


def guard():
    """before_request: decide whether this request may go on."""
    request = flask.request
    kind = classify(request.path, request.method)
    if kind == "asset":
        return None
    if request.path in COLLECT_EXACT:
        flask.g.principal = None
        return None
    audit.client_address.set(request_client_address())  # what storage's audit entries say "from"
    refusal = cross_site_refusal(current_session_key, (SESSION_COOKIE, REMEMBER_COOKIE))
    if refusal is not None:
        return refusal
    principal, bad_token = _resolve_principal()
    flask.g.principal = principal
    if kind == "open":
        return None
    if kind == "public-page" and request.path.startswith(SHARED_DASHBOARD_PREFIX):
        return _shared_link_check(request.path[len(SHARED_DASHBOARD_PREFIX):])
    if bad_token:
        return unauthenticated_response("The API token is not valid, has expired or was revoked")
    storage = current_storage()

    if kind in ("public-page", "page"):
        needs_setup = storage.users.needs_setup()
        if needs_setup and request.path != "/setup":
            return flask.redirect("/setup")
        if not needs_setup and request.path == "/setup":
            return flask.redirect("/" if principal else "/login")
        if principal is not None and request.path == "/login":
            return flask.redirect(safe_next_path(request.args.get("next")))
    if principal is not None:
        if kind == "api" and not principal.can_write and request.method not in SAFE_METHODS \
                and request.endpoint not in READ_SCOPE_ENDPOINTS and request.url_rule is not None:
            raise Forbidden("This API token is read-only: it can read but not change anything. "
                            "Create a token with the write scope for this.")
        return None
    if kind == "public-page":
        return None
    if kind == "callback":
        if is_public_callback(request.get_json(silent=True)):
            return None
        return unauthenticated_response("Your session has ended; sign in again")
    if kind == "api":
        if request.path in ANONYMOUS_API:
            return None
        return unauthenticated_response()
    if request.method in ("GET", "HEAD"):
        if request.path == "/":
            return flask.redirect("/login")
        return flask.redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))
    return unauthenticated_response()


def security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if flask.request.path.startswith("/api/") or flask.request.path == CALLBACK_PATH:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def credentials_checker(server: flask.Flask) -> Callable[[dict], bool]:
    """For the front (web.front), which must decide before reading a body: do a request's
    headers (waitress's ``{"COOKIE": ..., "AUTHORIZATION": ...}``) carry a session or
    remember-me cookie this app signed, or a Bearer token of our format?

    Signatures are checked, the database is not (the front's loop must never wait on it):
    an ended session or an invented token passes here, gets the signed-in body limit, and
    is refused by the guard before its body is used.
    """
    serializer = server.session_interface.get_signing_serializer(server)
    max_age = int(server.permanent_session_lifetime.total_seconds())

    def has_credentials(headers: dict) -> bool:
        scheme, _, token = headers.get("AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip().startswith(TOKEN_PREFIX):
            return True
        cookies = parse_cookie(headers.get("COOKIE", ""))
        if cookies.get(SESSION_COOKIE):
            try:
                session = serializer.loads(cookies[SESSION_COOKIE], max_age=max_age)
            except BadSignature:
                session = None
            if isinstance(session, dict) and session.get("_user_id"):
                return True
        if cookies.get(REMEMBER_COOKIE):
            with server.app_context():  # flask-login's digest reads the app's secret key
                return flask_login.utils.decode_cookie(cookies[REMEMBER_COOKIE]) is not None
        return False

    return has_credentials


def install(server: flask.Flask, settings) -> None:
    """Session settings, flask-login, the guard and security headers for ``server``."""
    server.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_NAME=REMEMBER_COOKIE,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_DURATION=60 * 60 * 24 * 30,
    )
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(_load_session_user)
    manager.init_app(server)
    # Our guard must run before Dash's own before_request hooks (its page router setup).
    server.before_request_funcs.setdefault(None, []).insert(0, guard)
    server.after_request(security_headers)
    assert EXTENSION_KEY in server.extensions
