"""/api/v1/analyze/<kind>: every analysis of the Analyze page, with the same parameters.

Synchronous by default (the result in the response); ``?async=1`` answers 202 with a job
to poll at /api/v1/jobs/<id> (its ``result`` holds the analysis when done). Saving
cluster labels as a new dataset version is POST /api/v1/analyze/clustering/labels.
"""
from __future__ import annotations

import flask

from api._helpers import created, json_body
from api.openapi import Answer, operation, query
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_analyze", __name__, url_prefix="/api/v1/analyze")


class AnalysisParams(Answer):
    """The analysis's parameters, as on the Analyze page (docs/analyze.md); storage checks them."""

    dataset_id: int | None = None


def _wants_async() -> bool:
    return flask.request.args.get("async", "").lower() in ("1", "true", "yes")


@blueprint.post("/<kind>")
@operation("Run an analysis: stats, correlation, regression, clustering, forecast, funnel, journeys, retention, event_names, rfm, clv", "Analyze", body=AnalysisParams, query=dict([query("async", {"type": "string", "enum": ["0", "1", "true", "false"]}, "1: answer 202 with a job to poll")]))
def analyze(kind):
    principal = require_principal()
    params = json_body()
    analyses = current_storage().analyses
    if _wants_async():
        job_id = analyses.start(principal, kind, params)
        response = flask.jsonify({"job_id": job_id, "status_url": f"/api/v1/jobs/{job_id}"})
        response.status_code = 202
        return response
    return flask.jsonify(analyses.run(principal, kind, params))


@blueprint.post("/clustering/labels")
@operation("Save cluster labels as a new version of the dataset", "Analyze", body=AnalysisParams, status=201)
def save_cluster_labels():
    """Body: the clustering params plus ``column`` (default "cluster"). 201 with the
    dataset at its new version."""
    principal = require_principal()
    params = json_body()
    column = params.pop("column", None) or "cluster"
    if not isinstance(column, str):
        raise InvalidInput("The field 'column' must be a string")
    dataset = current_storage().analyses.save_cluster_labels(principal, params, column)
    return created(dataset.public_dict())
