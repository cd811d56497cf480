"""POST /api/collect: events from web pages (issue 13, point 2), public by design.

No session, no CSRF check, CORS open to every origin on this route only: the tracker on a
customer's site posts here (``navigator.sendBeacon`` sends ``text/plain``, so any content
type is read as JSON). What guards it instead: the site key (an unknown key is a 400), the
body size and event count (settings), and rate limits per client address (requests) and
per site (events), counted in the database so every process agrees; over a limit: 429
with ``Retry-After``. The answer is 202 only once the events are on disk.
"""
from __future__ import annotations

import json
import math

import flask
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from api.openapi import Answer, operation
from storage.errors import DataInsightError, InvalidInput
from storage.rate_limits import DatabaseRateLimitStorage
from web.context import current_settings, current_storage
from web.proxies import request_client_address

blueprint = flask.Blueprint("api_collect", __name__)
CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


class EventsAccepted(Answer):
    accepted: int
    dropped: int


def _answer(payload: dict, status: int, headers: dict | None = None):
    response = flask.jsonify(payload)
    response.status_code = status
    response.headers.update(CORS_HEADERS)
    response.headers.update(headers or {})
    return response


def _error(code: str, message: str, status: int = 400, headers: dict | None = None):
    return _answer({"error": {"code": code, "message": message}}, status, headers)


def _limiter():
    """The rate limiter of this app (its storage is the metadata database)."""
    extension = flask.current_app.extensions.setdefault("datainsight_collect_limits", {})
    if "limiter" not in extension:
        extension["limiter"] = FixedWindowRateLimiter(DatabaseRateLimitStorage(current_storage().engine))
    return extension["limiter"]


def _over_limit(rate: str | None, key: str, cost: int, who: str):
    if not rate:
        return None
    item = parse(rate)
    limiter = _limiter()
    if limiter.hit(item, key, cost=cost):
        return None
    stats = limiter.get_window_stats(item, key)
    retry_after = max(1, math.ceil(stats.reset_time - limiter.storage.clock()))
    return _error("rate_limited", f"Too many events: this server takes at most {item.amount} "
                                  f"{'requests' if who == 'address' else 'events'} a {item.GRANULARITY.name} "
                                  f"{'from one address' if who == 'address' else 'for one site'}. "
                                  f"Try again in {retry_after} s.", 429, {"Retry-After": str(retry_after)})


def read_events_body(max_kb: int, allow_ndjson: bool = False):
    """The request's JSON (any content type), or InvalidInput naming the problem."""
    length = flask.request.content_length
    if length is not None and length > max_kb * 1024:
        raise InvalidInput(f"The request is larger than {max_kb} KB; send fewer events at a time")
    raw = flask.request.get_data(cache=False)
    if len(raw) > max_kb * 1024:
        raise InvalidInput(f"The request is larger than {max_kb} KB; send fewer events at a time")
    if not raw.strip():
        raise InvalidInput("The request has no body: send one event or {\"events\": [...]} as JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The body is not UTF-8 text") from None
    content_type = (flask.request.mimetype or "").lower()
    if allow_ndjson and content_type in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        events = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    raise InvalidInput(f"Line {number} of the NDJSON body is not JSON") from None
        return {"events": events}
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput("The body is not JSON: send one event or {\"events\": [...]}") from None


@blueprint.route("/api/collect", methods=["POST", "OPTIONS"])
@operation("Send events from a web page (public: the site's key is in each event). One event or "
           "{\"events\": [...]}, as JSON in any content type (sendBeacon sends text/plain)", "Sites",
           raw_body="text/plain", status=202, answer=EventsAccepted, public=True)
def collect():
    if flask.request.method == "OPTIONS":
        response = flask.make_response("", 204)
        response.headers.update(CORS_HEADERS)
        return response
    settings = current_settings()
    storage = current_storage()
    address = request_client_address() or ""
    refused = _over_limit(settings.collect_address_rate_limit, f"collect-ip:{address}", 1, "address")
    if refused is not None:
        return refused
    try:
        payload = read_events_body(settings.collect_max_body_kb)
        count = _count(payload, settings.collect_max_events)
        key = _first_key(payload)
        site = storage.sites.by_key(key) if key else None
        if site is not None:
            refused = _over_limit(settings.collect_site_rate_limit, f"collect-site:{site.id}", count, "site")
            if refused is not None:
                return refused
        result = storage.collect.collect(payload, address, flask.request.headers.get("User-Agent", ""))
    except DataInsightError as exc:
        return _error(exc.code, exc.message, exc.status)
    except (TimeoutError, OSError):  # logged by the writer; nothing of this request was acknowledged
        return _error("unavailable", "The events could not be stored just now; nothing of this request was kept. "
                                     "Send it again.", 503, {"Retry-After": "5"})
    return _answer(result, 202)


def _count(payload, limit: int) -> int:
    events = payload.get("events") if isinstance(payload, dict) and "type" not in payload else None
    count = len(events) if isinstance(events, list) else 1
    if count > limit:
        raise InvalidInput(f"The request has {count} events; at most {limit} are taken in one request")
    return count


def _first_key(payload):
    if isinstance(payload, dict):
        if isinstance(payload.get("site"), str):
            return payload["site"]
        events = payload.get("events")
        if isinstance(events, list) and events and isinstance(events[0], dict):
            key = events[0].get("site")
            return key if isinstance(key, str) else None
    return None
