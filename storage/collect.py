"""Collection (issue 13, points 2 to 4): events from browsers (``POST /api/collect``) and
from a site's backend (``POST /api/v1/sites/{id}/events``) checked whole, enriched and
written.

A request is all or nothing: every event is checked before any is written, and the first
bad one answers 400 naming the event and the field. Then the server adds what the client
cannot be trusted with: the time (browsers), the visitor id, browser, OS and device from
the User-Agent, the path, host, UTM parameters and the referrer's host.

Privacy as Plausible does it: no cookie, no IP stored. A browser's visitor id is a keyed
hash of (the day's salt, site, IP, User-Agent); the salt is kept in the database so every
process agrees, and is deleted after two days, after which nobody can link a visitor to
an address. An identified person (``user_id``) keeps one visitor id across days: the site
chose to name them. Bots and excluded address ranges are dropped and counted.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import json
import logging
import math
import threading
import time

from analytics import event_urls, user_agents
from storage.errors import InvalidInput
from storage.event_store import COVER_GRACE_SECONDS, EventStore, _age, day_of

log = logging.getLogger(__name__)

MAX_EVENTS = 1000
MAX_PROPS = 30
MAX_URL = 2000
MAX_TITLE = 500
MAX_NAME = 120
MAX_PROP_KEY = 100
MAX_PROP_VALUE = 500
MAX_USER_ID = 200
BACKFILL_DAYS = 366
FUTURE_SECONDS = 300
EVENT_KEYS = {"site", "type", "name", "url", "referrer", "title", "props", "user_id"}
SERVER_KEYS = EVENT_KEYS | {"ts"}
COMPACT_EVERY = 5.0  # seconds between the upkeep's rounds
SNAPSHOT_EVERY = 600.0  # seconds between new version files of a site's dataset (when events came)
COMPACT_MIN_AGE = 10.0  # a partition is compacted once its newest file is this old (or has many files)


def _text(value: str, where: str, what: str) -> str:
    """A string that UTF-8 can hold and has no NUL (JSON lets a lone surrogate through)."""
    if "\x00" in value:
        raise InvalidInput(f"{where}: {what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{where}: {what} is not valid text (a lone surrogate)") from None
    return value


def _string(event: dict, key: str, where: str, limit: int, required: bool = False) -> str:
    """A text field, cut at ``limit`` characters (a page's long address or title is kept,
    shortened, rather than refusing its page view)."""
    value = event.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{where}: '{key}' is missing")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: '{key}' must be a string")
    value = value[:limit]
    if value.isascii() and "\x00" not in value:  # the usual case, checked without encoding
        return value
    return _text(value, where, f"'{key}'")


def _props(value, where: str) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: 'props' must be an object of names and values")
    if len(value) > MAX_PROPS:
        raise InvalidInput(f"{where}: 'props' has {len(value)} entries; at most {MAX_PROPS} are kept per event")
    kept = {}
    for key, item in value.items():
        if not key or len(key) > MAX_PROP_KEY:
            raise InvalidInput(f"{where}: a prop name must have 1 to {MAX_PROP_KEY} characters")
        _text(key, where, "a prop name")
        if isinstance(item, bool) or item is None:
            kept[key] = item
        elif isinstance(item, int):
            if abs(item) >= 2**63:
                raise InvalidInput(f"{where}: the prop {key[:40]!r} is too large a number")
            kept[key] = item
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput(f"{where}: the prop {key[:40]!r} is not a finite number")
            kept[key] = item
        elif isinstance(item, str):
            kept[key] = _text(item[:MAX_PROP_VALUE], where, f"the prop {key[:40]!r}")
        else:
            raise InvalidInput(f"{where}: the prop {key[:40]!r} must be a string, number or true/false "
                               "(props are flat: no lists or objects)")
    return json.dumps(kept, separators=(",", ":"), ensure_ascii=False)


def without_query(url: str) -> str:
    """An address without its query string and fragment: what is stored of a page and a
    referrer (the UTM tags are read first; the rest may name a person, as Plausible keeps none)."""
    return url.split("#", 1)[0].split("?", 1)[0]


def _timestamp(value, where: str, now: dt.datetime) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"{where}: 'ts' must be an ISO 8601 time such as 2026-12-01T09:30:00Z")
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{where}: 'ts' {value[:40]!r} is not an ISO 8601 time such as 2026-12-01T09:30:00Z") \
            from None
    naive_now = now.replace(tzinfo=None)
    if parsed < naive_now - dt.timedelta(days=BACKFILL_DAYS):
        raise InvalidInput(f"{where}: 'ts' is more than a year in the past")
    if parsed > naive_now + dt.timedelta(seconds=FUTURE_SECONDS):
        raise InvalidInput(f"{where}: 'ts' is in the future")
    return parsed


def events_of(payload, limit: int = MAX_EVENTS) -> list:
    """The events of a request body: one event, or {"events": [...]} (or a bare list)."""
    if isinstance(payload, list):
        events = payload
    elif isinstance(payload, dict) and "events" in payload and "type" not in payload:
        if set(payload) - {"events", "site"}:
            raise InvalidInput("A batch is {\"events\": [...]}, with nothing else beside it")
        events = payload["events"]
        if not isinstance(events, list):
            raise InvalidInput("'events' must be a list of events")
    elif isinstance(payload, dict):
        events = [payload]
    else:
        raise InvalidInput("The body must be one event (a JSON object) or {\"events\": [...]}")
    if not events:
        raise InvalidInput("The request has no events")
    if len(events) > min(limit, MAX_EVENTS):
        raise InvalidInput(f"The request has {len(events)} events; at most {min(limit, MAX_EVENTS)} are taken in "
                           "one request")
    return events


def check_event(event, index: int, total: int, server_side: bool, now: dt.datetime) -> dict:
    """One event checked and normalized (no enrichment yet), or InvalidInput naming it."""
    where = f"event {index + 1}" if total > 1 else "the event"
    if not isinstance(event, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    allowed = SERVER_KEYS if server_side else EVENT_KEYS
    if not event.keys() <= allowed:
        unknown = sorted(set(event) - allowed)
        extra = " ('ts' is taken only by the server-side route /api/v1/sites/{id}/events)" \
            if unknown[0] == "ts" else ""
        raise InvalidInput(f"{where}: unknown field {unknown[0][:40]!r}{extra}; an event has "
                           f"{', '.join(sorted(allowed))}")
    kind = event.get("type", "pageview")
    if kind not in ("pageview", "event"):
        raise InvalidInput(f"{where}: 'type' must be \"pageview\" or \"event\"")
    name = _string(event, "name", where, MAX_NAME).strip()
    if kind == "event" and not name:
        raise InvalidInput(f"{where}: a custom event needs a 'name'")
    url = _string(event, "url", where, MAX_URL, required=kind == "pageview" and not server_side)
    user_id = event.get("user_id")
    if isinstance(user_id, bool) or not (user_id is None or isinstance(user_id, (str, int))):
        raise InvalidInput(f"{where}: 'user_id' must be a string or a whole number")
    user_id = None if user_id is None else str(user_id)
    if user_id is not None and not 1 <= len(user_id) <= MAX_USER_ID:
        raise InvalidInput(f"{where}: 'user_id' must have 1 to {MAX_USER_ID} characters")
    return {
        "site": event.get("site"),
        "ts": _timestamp(event.get("ts"), where, now) if server_side and event.get("ts") is not None else None,
        "type": kind, "name": name if kind == "event" else "pageview", "url": url,
        "referrer": _string(event, "referrer", where, MAX_URL),
        "title": _string(event, "title", where, MAX_TITLE),
        "props": _props(event.get("props"), where),
        "user_id": user_id,
    }


# A site's pages, and the sites that link to it, repeat: parsing an address costs ~10 µs,
# a look-up in these caches well under one (each holds at most 4,096 strings of at most
# MAX_URL characters, a few MB). lru_cache is safe across threads.
@functools.lru_cache(maxsize=4096)
def _page_fields(url: str) -> tuple:
    """(stored url, hostname, path, utm_source, utm_medium, utm_campaign, utm_content, utm_term)."""
    hostname, path = event_urls.split_url(url)
    tags = event_urls.utm(url)
    return (without_query(url), hostname, path, *(tags[key] for key in event_urls.UTM_KEYS))


@functools.lru_cache(maxsize=4096)
def _referrer_fields(referrer: str, hostname: str) -> tuple[str, str]:
    """(stored referrer, the referring site's host: "" for the page's own site)."""
    return without_query(referrer), event_urls.referrer_host(referrer, hostname)


def _visitor(salt: bytes, site_id: int, address: str, agent: str) -> int:
    digest = hashlib.blake2b(f"{site_id}\x00{address}\x00{agent}".encode(), key=salt[:64], digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _person(site_id: int, user_id: str) -> int:
    digest = hashlib.blake2b(f"{site_id}\x00{user_id}".encode(), person=b"di-user", digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class CollectService:
    def __init__(self, sites, store: EventStore, clock=lambda: dt.datetime.now(dt.timezone.utc)):
        self.sites = sites
        self.store = store
        self.clock = clock

    def collect(self, payload, address: str, agent: str, site=None, admit=None, limit: int = MAX_EVENTS) -> dict:
        """Check, enrich and write the events of one request. ``site``: the site of the
        server-side route (its events may carry 'ts'); else every event names its site by
        key. ``admit({SiteRef: events})`` is called once the request is known good and
        before anything is written (the rate limit per site: it raises RateLimited).
        Returns {"accepted", "dropped"}; for a bad request raises and writes nothing."""
        now = self.clock()
        server_side = site is not None
        events = events_of(payload, limit)
        batch_site = payload.get("site") if isinstance(payload, dict) and "events" in payload else None
        checked = [check_event(e, i, len(events), server_side, now) for i, e in enumerate(events)]
        refs = []
        known: dict = {}  # key -> site, for this request (a batch names one site a thousand times)
        for i, event in enumerate(checked):
            if server_side:
                if event["site"] is not None and event["site"] != site.key:
                    raise InvalidInput(f"event {i + 1}: 'site' names another site than this route's")
                ref = site
            else:
                key = event["site"] if event["site"] is not None else batch_site
                if key is None:
                    raise InvalidInput(f"event {i + 1}: 'site' is missing (the site's key, from the snippet)")
                ref = known.get(key) if isinstance(key, str) else None
                if ref is None:
                    ref = self.sites.by_key(key)
                    if ref is not None:
                        known[key] = ref
                if ref is None:
                    raise InvalidInput(f"event {i + 1}: {str(key)[:70]!r} is not the key of any site")
            if event["ts"] is not None and ref.retention_days:
                first_kept = (now.date() - dt.timedelta(days=ref.retention_days - 1))
                if event["ts"].date() < first_kept:
                    raise InvalidInput(f"event {i + 1}: 'ts' is older than this site keeps events "
                                       f"({ref.retention_days} days: retention_days)")
            refs.append(ref)
        if admit is not None:
            by_id = {ref.id: ref for ref in known.values()} if not server_side else {site.id: site}
            counts: dict = {}
            for ref in refs:  # by id: a SiteRef's own hash is recomputed at every use
                counts[ref.id] = counts.get(ref.id, 0) + 1
            admit({by_id[site_id]: count for site_id, count in counts.items()})
        parsed = user_agents.parse(agent or "")
        device = ("", "", "", "") if server_side else (parsed.browser, parsed.browser_version, parsed.os,
                                                        parsed.device)
        rows: dict[int, list[tuple]] = {}
        dropped: dict[tuple[int, str], int] = {}
        ip = _address(address)
        today = day_of(now)
        received = now.replace(tzinfo=None)
        browsers: dict[int, int] = {}  # site -> this request's visitor id (one address and User-Agent)
        for event, ref in zip(checked, refs):
            reason = None
            if not server_side and parsed.is_bot:
                reason = "bot"
            elif ip is not None and ref.excluded and any(ip in network for network in ref.excluded):
                reason = "excluded"
            if reason is not None:
                dropped[(ref.id, reason)] = dropped.get((ref.id, reason), 0) + 1
                continue
            if event["user_id"] is not None:
                visitor = _person(ref.id, event["user_id"])
            else:
                visitor = browsers.get(ref.id)
                if visitor is None:
                    visitor = browsers[ref.id] = _visitor(self.sites.salt(today), ref.id, address, agent or "")
            page = _page_fields(event["url"])
            referrer = _referrer_fields(event["referrer"], page[1])
            # EVENT_COLUMNS' order: the store makes one Arrow table of many requests' rows.
            rows.setdefault(ref.id, []).append((
                event["ts"] or received, event["type"], event["name"], page[0], page[1], page[2],
                event["title"], referrer[0], referrer[1], *page[3:], visitor, None, event["user_id"],
                *device, event["props"]))
        # One request's sites are written together: all of it is acknowledged, or none.
        self.store.append_many(list(rows.items()))
        for (site_id, reason), count in dropped.items():
            try:  # a counter: the events are written already, so its failure is only logged
                self.sites.count_dropped(site_id, reason, count, today)
            except Exception:
                log.exception("could not count %d dropped events of site %s", count, site_id)
        return {"accepted": sum(len(r) for r in rows.values()), "dropped": sum(dropped.values())}


def _address(address: str):
    try:
        return ipaddress.ip_address(address)
    except (TypeError, ValueError):
        return None


class EventUpkeep:
    """A thread in every process: compacts the sites' new files (one process per site at
    a time, by a claim in the database) and, once a day, drops partitions older than each
    site's retention (one process per site and day)."""

    def __init__(self, sites, store: EventStore, tmp_dir, interval: float = COMPACT_EVERY,
                 snapshot_seconds: float = SNAPSHOT_EVERY):
        self.sites = sites
        self.snapshot_seconds = snapshot_seconds
        self.store = store
        self.tmp_dir = tmp_dir
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_full_scan = 0.0
        # (site, day) -> when it may be compacted again: a day is rewritten whole, so a big
        # day waits nine times its last compaction's length (compaction takes at most a tenth
        # of a core; meanwhile its newest events are read from the inbox files).
        self._not_before: dict[tuple[int, str], float] = {}
        self._retention_done: dict[int, str] = {}  # site -> the day this process saw its retention run

    def start(self) -> "EventUpkeep":
        self._thread = threading.Thread(target=self._loop, name="datainsight-event-upkeep", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # the next round tries again; collection goes on meanwhile
                log.exception("event upkeep failed")

    def run_once(self, min_age: float = COMPACT_MIN_AGE, now: dt.datetime | None = None) -> dict:
        now = now or dt.datetime.now(dt.timezone.utc)
        full = time.monotonic() - self._last_full_scan > 300 or min_age <= 0
        if full:
            self._last_full_scan = time.monotonic()
        totals = {"compacted": 0, "swept": 0, "dropped_days": 0, "published": 0, "orphans": 0}
        sites = self.sites.all_ids()
        for site_id, retention in sites:
            try:  # one site's trouble (a damaged file) must not stop the others' upkeep
                self._site_once(site_id, retention, min_age, now, full, totals)
            except Exception:
                log.exception("event upkeep of site %s failed", site_id)
        if full:  # a deleted site's late writes (another process's cache) leave a folder
            known = {site_id for site_id, _ in sites}
            for site_id in self.store.site_ids():
                if site_id not in known and _age(self.store.site_dir(site_id)) > 60:
                    self.store.delete_site(site_id)
                    totals["orphans"] += 1
        return totals

    def _site_once(self, site_id: int, retention: int, min_age: float, now: dt.datetime, full: bool,
                   totals: dict) -> None:
        today = day_of(now)
        days = self.store.days(site_id)
        if not full:  # between full scans: the days this process wrote to, and today
            with self.store._written_lock:
                mine = {d for s, d in self.store.written if s == site_id}
            days = [d for d in days if d in mine or d == today]
        if retention and self._retention_done.get(site_id) != today:
            if self.sites.claim_retention(site_id, today):
                first_kept = (now.date() - dt.timedelta(days=retention - 1)).isoformat()
                totals["dropped_days"] += self.store.drop_days_before(site_id, first_kept)
            self._retention_done[site_id] = today
        due = [d for d in days if self.store.needs_compaction(site_id, d, min_age)
               and (min_age <= 0 or self._not_before.get((site_id, d), 0.0) <= time.monotonic())]
        leftovers = [d for d in days if self.store.has_leftovers(site_id, d)]
        # Days compacted before session summaries existed get theirs (full scans only).
        unsummarized = [d for d in days if full and d not in due and self.store.needs_summary(site_id, d)]
        publish = self.snapshot_seconds >= 0 and self.sites.publish_wanted(site_id, self.snapshot_seconds)
        if not due and not leftovers and not unsummarized and not publish:
            return
        token = self.sites.claim_compaction(site_id)
        if token is None:
            return

        def still_claimed() -> bool:
            return self.sites.renew_compaction(site_id, token)

        try:
            for day in due:
                if not still_claimed():
                    return
                started = time.monotonic()
                totals["compacted"] += 1 if self.store.compact(site_id, day, self.tmp_dir, still_claimed) else 0
                self._not_before[(site_id, day)] = time.monotonic() + 9 * (time.monotonic() - started)
            for day in unsummarized:
                if not still_claimed():
                    return
                self.store.summarize(site_id, day, self.tmp_dir)
            for day in sorted(set(due) | set(leftovers)):
                totals["swept"] += self.store.sweep_covered(site_id, day, 0.0 if min_age <= 0 else COVER_GRACE_SECONDS)
            if publish and still_claimed():
                totals["published"] += 1 if self.sites.publish(site_id) is not None else 0
        finally:
            self.sites.release_compaction(site_id, token)
