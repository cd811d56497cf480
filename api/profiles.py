"""/api/v1/datasets/<id>/profile: the dataset profile as JSON (status running with
progress until ready), a POST to compute it again or to cancel it, and the profile as a self-contained
HTML file. Thin: every route takes the acting principal and calls storage.profiles."""
from __future__ import annotations

import flask

from analytics.profiling.report_html import render_html
from api._helpers import as_attachment
from api.openapi import Answer, operation
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_profiles", __name__, url_prefix="/api/v1")


class Profile(Answer):
    dataset_id: int
    status: str
    progress: float | None = None


@blueprint.get("/datasets/<dataset_id>/profile")
@operation("The dataset's profile (running, with progress, until ready)", "Profiles", answer=Profile)
def get_profile(dataset_id):
    principal = require_principal()
    return flask.jsonify(current_storage().profiles.get(principal, dataset_id))


@blueprint.post("/datasets/<dataset_id>/profile")
@operation("Compute the profile again", "Profiles", status=202, answer=Profile)
def refresh_profile(dataset_id):
    """Compute the profile again (after a failure); 202 with the running status."""
    principal = require_principal()
    response = flask.jsonify(current_storage().profiles.refresh(principal, dataset_id))
    response.status_code = 202
    return response


@blueprint.post("/datasets/<dataset_id>/profile/cancel")
@operation("Stop computing the profile (editors)", "Profiles", answer=Profile)
def cancel_profile(dataset_id):
    """Stop computing the profile (editors); the profile then answers failed, cancelled."""
    principal = require_principal()
    return flask.jsonify(current_storage().profiles.cancel(principal, dataset_id))


@blueprint.get("/datasets/<dataset_id>/profile.html")
@operation("The profile as a self-contained HTML file", "Profiles", media="text/html")
def download_profile(dataset_id):
    principal = require_principal()
    storage = current_storage()
    profile = storage.profiles.ready(principal, dataset_id)
    dataset = storage.datasets.get(principal, dataset_id)
    response = flask.Response(render_html(profile, dataset.name), mimetype="text/html")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in dataset.name)[:80] or "dataset"
    return as_attachment(response, f"{safe}-v{dataset.version}-profile.html")
