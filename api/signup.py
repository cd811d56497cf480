"""Open sign-up and forgotten passwords (storage.signup), for people without a session:
these routes are reached anonymously (web.auth.ANONYMOUS_API) and counted per client
address by the anonymous rate limit, and per email address by storage.

POST /api/v1/signup {"email", "password", "name"} → 201 (403 while sign-up is by invitation)
POST /api/v1/signup/verify {"token"} → 200; POST /api/v1/signup/resend {"email"} → 202
POST /api/v1/password/forgot {"email"} → 202 (the same answer for any address)
POST /api/v1/password/reset {"token", "new_password"} → 200
"""
from __future__ import annotations

import flask

from api._helpers import created, json_body
from api.openapi import Answer, Body, operation
from web.context import current_storage

blueprint = flask.Blueprint("api_signup", __name__, url_prefix="/api/v1")


class Said(Answer):
    status: str
    message: str | None = None
    email: str | None = None


class SignUp(Body):
    email: str
    password: str
    name: str | None = None


class LinkToken(Body):
    token: str


class EmailOnly(Body):
    email: str


class NewPassword(Body):
    token: str
    new_password: str


def _accepted(payload: dict):
    response = flask.jsonify(payload)
    response.status_code = 202
    return response


@blueprint.post("/signup")
@operation("Make an account on a server with open sign-up; a link mailed to the address confirms it", "Sign-up", body=SignUp, status=201, public=True, answer=Said)
def signup():
    body = json_body()
    return created(current_storage().signup.signup(body.get("email"), body.get("password"), body.get("name"),
                                                   link_base=flask.request.host_url))


@blueprint.post("/signup/verify")
@operation("Confirm an address with the token from its link", "Sign-up", body=LinkToken, public=True, answer=Said)
def verify():
    user = current_storage().signup.verify(json_body().get("token"))
    return flask.jsonify({"status": "verified", "email": user.email})


@blueprint.post("/signup/resend")
@operation("Mail a new confirmation link (the same answer for any address)", "Sign-up", body=EmailOnly, status=202, public=True, answer=Said)
def resend():
    return _accepted(current_storage().signup.resend(json_body().get("email"), link_base=flask.request.host_url))


@blueprint.post("/password/forgot")
@operation("Mail a link to choose a new password (the same answer for any address)", "Sign-up", body=EmailOnly, status=202, public=True, answer=Said)
def forgot_password():
    return _accepted(current_storage().signup.forgot(json_body().get("email"), link_base=flask.request.host_url))


@blueprint.post("/password/reset")
@operation("Choose a new password with the token from its link; every session ends", "Sign-up", body=NewPassword, public=True, answer=Said)
def reset_password():
    body = json_body()
    user = current_storage().signup.reset(body.get("token"), body.get("new_password"))
    return flask.jsonify({"status": "changed", "email": user.email})
