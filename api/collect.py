"""POST /api/collect: events from web pages (issue 13, point 2), public by design.

No session, no CSRF check, CORS open to every origin on this route only: the tracker on a
customer's site posts here (``navigator.sendBeacon`` sends ``text/plain``, so any content
type is read as JSON). What guards it instead: the site key (an unknown key is a 400), the
body size and event count (settings), and rate limits per client address (requests) and
per site (events), counted in the database (or Redis) so every process agrees; over a limit: 429
with ``Retry-After``. The answer is 202 only once the events are on disk.
"""
from __future__ import annotations

import json
import logging
import math

import flask
from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError

from api.openapi import Answer, operation
from storage.errors import DataInsightError, InvalidInput, RateLimited
from storage.rate_limits import counter_storage
from web.context import current_settings, current_storage
from web.proxies import request_client_address

log = logging.getLogger(__name__)
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
    """The rate limiter of this app (its counters: the metadata database, or Redis when configured)."""
    extension = flask.current_app.extensions.setdefault("datainsight_collect_limits", {})
    if "limiter" not in extension:
        storage = current_storage()
        extension["limiter"] = FixedWindowRateLimiter(counter_storage(storage.engine, storage.redis_url))
    return extension["limiter"]


def _charge(rate: str | None, key: str, cost: int, what: str) -> None:
    """Count ``cost`` against ``key``'s limit, or RateLimited with the wait."""
    if not rate:
        return
    item = parse(rate)
    limiter = _limiter()
    if limiter.hit(item, key, cost=cost):
        return
    stats = limiter.get_window_stats(item, key)
    retry_after = max(1, math.ceil(stats.reset_time - limiter.storage.clock()))
    raise RateLimited(f"Too many events: this server takes at most {item.amount} {what} a "
                      f"{item.GRANULARITY.name}. Try again in {retry_after} s.", retry_after=retry_after)


def read_events_body(max_kb: int, allow_ndjson: bool = False):
    """The request's JSON (any content type), or InvalidInput naming the problem. Reads
    at most the limit (and one byte more, to tell), whatever the request announces."""
    limit = max_kb * 1024
    length = flask.request.content_length
    if length is not None and length > limit:
        raise InvalidInput(f"The request is larger than {max_kb} KB; send fewer events at a time")
    # Read already (a JSON body's ids are checked before any route: api.ids), or read now.
    raw = getattr(flask.request, "_cached_data", None)
    if raw is None:
        raw = flask.request.stream.read(limit + 1)
    if len(raw) > limit:
        raise InvalidInput(f"The request is larger than {max_kb} KB; send fewer events at a time")
    if not raw.strip():
        raise InvalidInput("The request has no body: send one event or {\"events\": [...]} as JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The body is not UTF-8 text") from None
    content_type = (flask.request.mimetype or "").lower()
    try:
        if allow_ndjson and content_type in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
            events = []
            # Lines end at \n only: JSON strings may hold U+2028 and other line breaks.
            for number, line in enumerate(text.split("\n"), 1):
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
    except RecursionError:
        raise InvalidInput("The body is nested too deeply: an event is a flat object") from None


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

    def admit(counts: dict) -> None:  # each site pays for its own events, once the request is known good
        for site, events in counts.items():
            _charge(settings.collect_site_rate_limit, f"collect-site:{site.id}", events, "events for one site")

    try:
        _charge(settings.collect_address_rate_limit, f"collect-ip:{address}", 1, "requests from one address")
        payload = read_events_body(settings.collect_max_body_kb)
        result = storage.collect.collect(payload, address, flask.request.headers.get("User-Agent", ""),
                                         admit=admit, limit=settings.collect_max_events)
    except RateLimited as exc:
        return _error(exc.code, exc.message, 429, {"Retry-After": str(exc.retry_after)})
    except DataInsightError as exc:
        return _error(exc.code, exc.message, exc.status)
    except (TimeoutError, OSError, SQLAlchemyError):  # logged where it failed; nothing was acknowledged
        log.exception("collecting events failed")
        return _error("unavailable", "The events could not be stored just now; nothing of this request was kept. "
                                     "Send it again.", 503, {"Retry-After": "5"})
    return _answer(result, 202)
