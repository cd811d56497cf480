"""A site's stats (issue 13, point 7): the reports of analytics.site_stats run on the
site's events, for a principal who may read the site.

Only the day partitions of the period (and of the period before it, which the overview
compares with) are listed, so a month's report over a year of events reads a month. A
result is cached in this process under the site's visible files (each write or
compaction changes them) and the period's bounds to the 10 seconds, so a dashboard of
reports polled by many viewers costs one scan per change.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable

from analytics import site_stats
from storage.duck import connect
from storage.errors import DataInsightError, InvalidInput

REPORTS = ("overview", "timeseries", "pages", "sources", "devices", "events", "realtime")
CACHE_ENTRIES = 512
ROUND_NOW_SECONDS = 10


class SiteStatsService:
    def __init__(self, sites, store, tmp_dir):
        self.sites = sites
        self.store = store
        self.tmp_dir = tmp_dir
        self._db = None
        self._db_lock = threading.Lock()
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _database(self):
        with self._db_lock:
            if self._db is None:
                self._db = connect(self.tmp_dir)
                self._db.execute("SET parquet_metadata_cache = true")
            return self._db

    def visitors_today(self, principal, sites: list[dict]) -> dict:
        """{site id: unique visitors today} of sites the principal may read (None where
        the stats could not be read)."""
        found = {}
        for site in sites:
            try:
                found[site["id"]] = self.report(principal, site["id"], "overview", {"period": "day"})["visitors"]["value"]
            except DataInsightError:
                found[site["id"]] = None
        return found

    def report(self, principal, site_id, report: str, args: dict | None = None, now: dt.datetime | None = None) -> dict:
        """One report (``REPORTS``) of a site the principal may read; ``args`` are the
        query's strings: period, from, to, interval, filters, limit."""
        site = self.sites.require(principal, site_id)
        if report not in REPORTS:
            raise InvalidInput(f"There is no report {str(report)[:40]!r}; the reports are {', '.join(REPORTS)}")
        args = args or {}
        now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        # Up to the next 10 s (an end is exclusive: the newest events are in), so results
        # are shared within those 10 s.
        now = now.replace(second=now.second - now.second % ROUND_NOW_SECONDS, microsecond=0) \
            + dt.timedelta(seconds=ROUND_NOW_SECONDS)
        period = site_stats.resolve_period("realtime" if report == "realtime" else args.get("period") or "30d",
                                           args.get("from"), args.get("to"), now=now, interval=args.get("interval"))
        filters = site_stats.parse_filters(args.get("filters"))
        options = {}
        if args.get("limit") not in (None, ""):
            try:
                options["limit"] = int(args["limit"])
            except ValueError:
                raise InvalidInput("limit must be a whole number from 1 to 1000") from None
        if report == "timeseries" and args.get("interval"):
            options["interval"] = args["interval"]
        first_day = period.previous_start.date().isoformat()
        last_day = (period.end - dt.timedelta(microseconds=1)).date().isoformat()
        state = self.store.state(site["id"], first_day, last_day)
        key = hashlib.sha256(json.dumps([site["id"], report, period.to_dict(), [f.to_dict() for f in filters],
                                         options, state], sort_keys=True, default=str).encode()).hexdigest()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        summarized = _whole_days_of(period) if site_stats.summary_applies(report, filters) else (lambda day: False)
        relation, sessions = self.store.relations(site["id"], first_day, last_day, summarized)
        if sessions is not None:
            options["summary_sql"] = sessions
        cursor = self._database().cursor()
        try:
            function = getattr(site_stats, report)
            if report == "realtime":
                result = function(cursor, relation, period, filters, now=now, **options)
            else:
                result = function(cursor, relation, period, filters, **options)
        finally:
            cursor.close()
        result = {"site_id": site["id"], "report": report, **period.to_dict(), "filters": args.get("filters") or "",
                  **result}
        with self._cache_lock:
            self._cache[key] = result
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return result


def _whole_days_of(period) -> Callable[[str], bool]:
    """Whether a day ('YYYY-MM-DD') lies whole in the period or whole in the one before it:
    its sessions (which never span two days) are then all in or all out of each, and can
    be read from the day's summary."""
    ranges = ((period.start, period.end), (period.previous_start, period.previous_end))

    def whole(day: str) -> bool:
        midnight = dt.datetime.fromisoformat(day)
        return any(lo <= midnight and midnight + dt.timedelta(days=1) <= hi for lo, hi in ranges)
    return whole
