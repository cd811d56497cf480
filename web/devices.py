"""The known-device cookie: proof that this browser signed in to an account before.

Set on every successful sign-in and kept for a year, it lets its owner past the account's
sign-in lock that strangers can trigger at will (see ``UserService.authenticate``). It holds
the user id and the time it was issued, signed with an HMAC of the app's secret key, so it
cannot be made up or moved to another account; it grants nothing by itself (the password
is still needed, and the device has its own failure count).
"""
from __future__ import annotations

import hashlib
import hmac
import time

import flask

from storage.users import KnownDevice
from web.context import current_settings

DEVICE_COOKIE = "datainsight_device"
DEVICE_MAX_AGE = 60 * 60 * 24 * 365


def _signature(payload: str) -> str:
    secret = flask.current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, f"known-device:{payload}".encode("utf-8"), hashlib.sha256).hexdigest()


def issue(user_id: int) -> str:
    payload = f"{int(user_id)}.{int(time.time())}"
    return f"{payload}.{_signature(payload)}"


def read() -> KnownDevice | None:
    """The device this request's cookie names, or None if absent, forged or too old."""
    value = flask.request.cookies.get(DEVICE_COOKIE, "")
    user_id, _, rest = value.partition(".")
    issued_at, _, signature = rest.partition(".")
    if not (user_id.isdigit() and issued_at.isdigit() and signature):
        return None
    payload = f"{user_id}.{issued_at}"
    if not hmac.compare_digest(signature, _signature(payload)):
        return None
    if int(issued_at) < time.time() - DEVICE_MAX_AGE:
        return None
    return KnownDevice(int(user_id), issued_at)


def remember(user_id: int) -> None:
    """Set the cookie on this request's response (a Dash callback's or a route's)."""
    value = issue(user_id)
    secure = current_settings().secure_cookies

    @flask.after_this_request
    def _set(response):
        response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=secure, path="/")
        return response
