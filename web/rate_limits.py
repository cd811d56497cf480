"""Rate limits (issue 15, point 3), counted with the ``limits`` library in the metadata
database, or Redis when configured (storage.rate_limits), so that every process agrees.

- API calls (``/api/``) of a signed-in person or an API token: ``DATAINSIGHT_RATE_LIMIT``
  (600/minute) per token, or per person for the session;
- what strangers can reach (the sign-in page's callbacks, public dashboard links and their
  callbacks and downloads): ``DATAINSIGHT_ANONYMOUS_RATE_LIMIT`` (300/minute) per client
  address (web.proxies: ``X-Forwarded-For`` only from trusted proxies).

The app's own pages and a signed-in person's Dash callbacks are not counted: a dashboard
of 30 widgets is 30 callbacks a filter change, and those are the person's own work.
Over the limit: 429 with ``Retry-After`` and the API's JSON error shape.
"""
from __future__ import annotations

import math

import flask
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from storage.rate_limits import counter_storage
from web.auth import classify
from web.proxies import request_client_address

UNCOUNTED_PATHS = frozenset({"/api/health", "/metrics", "/api/collect"})  # collect counts its own (api.collect)


def _refusal(item, limiter, key: str):
    stats = limiter.get_window_stats(item, key)
    retry_after = max(1, math.ceil(stats.reset_time - limiter.storage.clock()))
    unit = item.GRANULARITY.name
    per = f"{item.multiples} {unit}s" if item.multiples != 1 else unit
    response = flask.jsonify({"error": {
        "code": "rate_limited",
        "message": f"Too many requests: this server answers at most {item.amount} a {per} "
                   f"{'from one address' if key.startswith('ip:') else 'for one account or token'}. "
                   f"Try again in {retry_after} s.",
    }})
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def install(server: flask.Flask, settings, engine) -> None:
    """A before_request after the guard (it needs the principal the guard found)."""
    signed_in = parse(settings.rate_limit) if settings.rate_limit else None
    anonymous = parse(settings.anonymous_rate_limit) if settings.anonymous_rate_limit else None
    if signed_in is None and anonymous is None:
        return
    limiter = FixedWindowRateLimiter(counter_storage(engine, settings.redis_url))

    def count():
        request = flask.request
        if request.path in UNCOUNTED_PATHS or request.method == "OPTIONS":
            return None
        kind = classify(request.path, request.method)
        principal = flask.g.get("principal")
        if principal is not None:
            if kind != "api" or signed_in is None:
                return None
            item = signed_in
            key = f"token:{principal.token_id}" if principal.token_id else f"user:{principal.user_id}"
        else:
            if kind not in ("api", "callback", "public-page") or anonymous is None:
                return None
            item, key = anonymous, f"ip:{request_client_address()}"
        if limiter.hit(item, key):
            return None
        return _refusal(item, limiter, key)

    server.before_request(count)
