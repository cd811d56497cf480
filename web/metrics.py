"""``GET /metrics`` in Prometheus's text format, and the HTTP request metrics (issue 14,
point 4). The figures themselves are in storage.metrics.

Who may scrape: with ``DATAINSIGHT_METRICS_TOKEN`` set, a request bearing that token
(``Authorization: Bearer ...``); without it, only a peer on this machine (the socket's
own address: ``X-Forwarded-For`` cannot fake it, and a request a proxy on this machine
forwarded is not local). Route labels are the URL rule's
template (``/api/v1/datasets/<dataset_id>``), never the path, so ids and share tokens
neither leak into the metrics nor multiply their series.
"""
from __future__ import annotations

import hmac
import ipaddress
import time

import flask

from storage.metrics import exposition, metrics
from web.proxies import peer_is_trusted_proxy
from web.context import current_settings, current_storage

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"


def _allowed(settings) -> tuple[bool, str]:
    token = settings.metrics_token
    if token:
        scheme, _, presented = flask.request.headers.get("Authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
        return ok, "Send the metrics token (DATAINSIGHT_METRICS_TOKEN) as 'Authorization: Bearer <token>'"
    try:
        local = ipaddress.ip_address(flask.request.environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        local = False
    # A reverse proxy on this machine connects from 127.0.0.1 on behalf of anyone: a request
    # from a trusted proxy, or that says it was forwarded, is not this machine's own.
    forwarded = peer_is_trusted_proxy() or any(flask.request.headers.get(h)
                                               for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
    return local and not forwarded, ("Metrics are served only to this machine unless DATAINSIGHT_METRICS_TOKEN "
                                     "is set (and never through a proxy); set it to scrape from elsewhere")


def metrics_endpoint():
    ok, why = _allowed(current_settings())
    if not ok:
        response = flask.jsonify({"error": {"code": "forbidden", "message": why}})
        response.status_code = 403
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
