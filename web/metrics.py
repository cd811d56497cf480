"""``GET /metrics`` in Prometheus's text format, and the HTTP request metrics (issue 14,
point 4). The figures themselves are in storage.metrics.

Who may scrape is web.metrics_access's rule (shared with a job worker's own /metrics):
the metrics token when one is set, else only a peer on this machine. Route labels are
the URL rule's template (``/api/v1/datasets/<dataset_id>``), never the path, so ids and
share tokens neither leak into the metrics nor multiply their series.
"""
from __future__ import annotations

import time

import flask

from storage.metrics import exposition, metrics
from web.metrics_access import Refusal, names_a_forwarder, scrape_refusal
from web.proxies import peer_is_trusted_proxy
from web.context import current_settings, current_storage

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"


def _refusal(settings) -> Refusal | None:
    request = flask.request
    return scrape_refusal(settings.metrics_token, request.headers.get("Authorization", ""),
                          request.environ.get("REMOTE_ADDR", ""),
                          forwarded=peer_is_trusted_proxy() or names_a_forwarder(request.headers))


def metrics_endpoint():
    refusal = _refusal(current_settings())
    if refusal is not None:
        response = flask.jsonify(refusal.body())
        response.status_code = refusal.status
        response.headers.update(refusal.headers())
        return response
    body, content_type = exposition(current_storage().engine)
    return flask.Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _start_timer():
    flask.g.metrics_started = time.perf_counter()


def _record(response):
    started = flask.g.pop("metrics_started", None)
    if started is not None and flask.request.path != METRICS_PATH:
        rule = flask.request.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        method = flask.request.method
        figures = metrics()
        figures.http_requests.labels(route, method, str(response.status_code)).inc()
        figures.http_duration.labels(route, method).observe(time.perf_counter() - started)
    return response


def install(server: flask.Flask) -> None:
    """The /metrics route and the request timer (first before_request, so the guard's
    refusals are timed too)."""
    server.add_url_rule(METRICS_PATH, "metrics", metrics_endpoint, methods=["GET"])
    server.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    server.after_request(_record)
