"""Website analytics (Plausible-like) over an events relation, computed in DuckDB.

The caller (storage) hands a DuckDB connection and the SQL text of a relation
(``read_parquet([...])`` or a ``(SELECT ...)`` subquery) with the event columns: ts
(naive UTC), type ('pageview' or 'event'), name, url, hostname, path, title, referrer,
referrer_host ('' = direct), utm_source/medium/campaign/content/term ('' when absent),
visitor_id, session_id (precomputed: a visitor's events less than 30 minutes apart),
user_id, browser, browser_version, os, device, props (a JSON object text, '{}' if none).

Every report works the same way (the definitions, for a person, are in docs/events.md
"Stats definitions"):

1. Events are first cut to the period, ``start <= ts < end`` (bound parameters, so
   Parquet row groups outside it are skipped).
2. One aggregate per session (``GROUP BY session_id``): first and last time, events,
   pageviews, entry and exit page, the session's attributes taken from its first event
   (source, UTM, browser, os, device) and, for each event-level filter, whether any of its
   events matched. A session that crosses the period's start or end counts only with its
   events inside the period.
3. Filters keep sessions: session-level keys (source, utm_*, browser, os, device,
   entry_page, exit_page) test the session's attributes; event-level keys (page, hostname,
   event, prop:<name>) keep sessions with at least one matching event (``==``) or with none
   (``!=``).
4. The metrics are aggregates of the kept sessions (and of their events, for page and
   event lists). ``page`` conditions also restrict which pageviews are counted; ``event``
   and ``prop`` conditions also restrict which custom events the events report counts.

No window function runs over all events. Values are always bound (named ``$`` parameters);
column names come only from fixed whitelists in this module; a prop name is bound as a
JSON pointer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from errors import InvalidInput

PERIODS = ("realtime", "day", "7d", "30d", "month", "12mo", "custom")
INTERVALS = ("minute", "hour", "day", "week", "month")
REALTIME_MINUTES = 5
MAX_CUSTOM_DAYS = 731
FIRST_YEAR, LAST_YEAR = 1970, 9000  # two years (one of them may be a leap year)
MAX_BUCKETS = 2000
MAX_CONDITIONS = 20
MAX_VALUES = 100
MAX_VALUE_CHARS = 500
MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
MAX_PROP_VALUES = 50
MAX_PROPS_PER_EVENT = 50
DIRECT = "Direct / None"
NOT_SET = "(not set)"

# --- periods -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A half-open time range [start, end) in naive UTC, the range of the same length just
    before it [previous_start, previous_end = start), and the default timeseries interval."""

    name: str
    start: datetime
    end: datetime
    previous_start: datetime
    previous_end: datetime
    interval: str

    def to_dict(self) -> dict:
        return {"period": self.name, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "previous_start": self.previous_start.isoformat(),
                "previous_end": self.previous_end.isoformat(), "interval": self.interval}


def _naive_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if not isinstance(now, datetime):
        raise InvalidInput("The current time must be a date and time")
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


def _parse_date(value, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"Give the {what} date of the custom period, like 2024-01-31")
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"The {what} date {value[:40]!r} is not a date like 2024-01-31") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:  # a period and the one before it must fit in a date
        raise InvalidInput(f"The {what} date must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return parsed


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def resolve_period(period: str, from_=None, to=None, now: datetime | None = None,
                   interval: str | None = None) -> Period:
    """The period's bounds, in naive UTC, half-open [start, end):

    * ``realtime``: the last 5 minutes, [now - 5 min, now); interval minute.
    * ``day``: today so far, [today 00:00, now); with ``from_`` (a date) that whole day
      instead. Interval hour.
    * ``7d`` / ``30d``: the 7 (30) full days before today, today excluded (Plausible's "Last
      7 days"): [today - 7 days, today 00:00). Interval day.
    * ``month``: this month so far, [1st 00:00, now); with ``from_`` that whole month.
      Interval day.
    * ``12mo``: the last 12 months including this one so far: [1st of the month 11 months
      ago, now). Interval month.
    * ``custom``: ``from_`` to ``to`` inclusive (ISO dates), [from 00:00, to + 1 day 00:00),
      at most two years (731 days). Interval hour for one day, day up to 92 days, else month.

    The previous period always has the same length and ends where this one starts.
    ``interval`` overrides the default; it must give at most 2000 buckets.
    """
    if period not in PERIODS:
        raise InvalidInput(f"Unknown period {str(period)[:40]!r}: choose one of {', '.join(PERIODS)}")
    now = _naive_utc(now)
    today = now.date()
    if period == "realtime":
        start, end, default = now - timedelta(minutes=REALTIME_MINUTES), now, "minute"
    elif period == "day":
        if from_ not in (None, ""):
            day = _parse_date(from_, "chosen")
            start, end = _midnight(day), _midnight(day + timedelta(days=1))
        else:
            start, end = _midnight(today), now
        default = "hour"
    elif period in ("7d", "30d"):
        days = 7 if period == "7d" else 30
        start, end, default = _midnight(today - timedelta(days=days)), _midnight(today), "day"
    elif period == "month":
        if from_ not in (None, ""):
            first = _parse_date(from_, "chosen").replace(day=1)
            start, end = _midnight(first), _midnight(_add_months(first, 1))
        else:
            start, end = _midnight(today.replace(day=1)), now
        default = "day"
    elif period == "12mo":
        start, end, default = _midnight(_add_months(today.replace(day=1), -11)), now, "month"
    else:
        if from_ in (None, "") or to in (None, ""):
            raise InvalidInput("A custom period needs both a start date (from) and an end date (to)")
        first, last = _parse_date(from_, "start"), _parse_date(to, "end")
        if first > last:
            raise InvalidInput(f"The start date {first.isoformat()} is after the end date {last.isoformat()}")
        days = (last - first).days + 1
        if days > MAX_CUSTOM_DAYS:
            raise InvalidInput(f"A custom period may cover at most two years ({MAX_CUSTOM_DAYS} days); "
                               f"this one covers {days} days")
        start, end = _midnight(first), _midnight(last + timedelta(days=1))
        default = "hour" if days == 1 else "day" if days <= 92 else "month"
    if end < start:  # a 'now' before midnight cannot happen, but keep the range sane
        end = start
    chosen = default if interval in (None, "") else interval
    if chosen not in INTERVALS:
        raise InvalidInput(f"Unknown interval {str(chosen)[:40]!r}: choose one of {', '.join(INTERVALS)}")
    if len(buckets(start, end, chosen)) > MAX_BUCKETS:
        raise InvalidInput(f"The interval {chosen!r} gives too many points for this period "
                           f"(more than {MAX_BUCKETS}); choose a longer interval")
    length = end - start
    return Period(period, start, end, start - length, start, chosen)


def bucket_start(moment: datetime, interval: str) -> datetime:
    """The start of the bucket holding ``moment`` (weeks start on Monday, like DuckDB's
    date_trunc('week'))."""
    if interval == "minute":
        return moment.replace(second=0, microsecond=0)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = _midnight(moment.date())
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=moment.weekday())
    return _midnight(moment.date().replace(day=1))


def _next_bucket(moment: datetime, interval: str) -> datetime:
    if interval == "month":
        return _midnight(_add_months(moment.date(), 1))
    return moment + {"minute": timedelta(minutes=1), "hour": timedelta(hours=1),
                     "day": timedelta(days=1), "week": timedelta(weeks=1)}[interval]


def buckets(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """The starts of every bucket overlapping [start, end) (at least the one holding start)."""
    out = [bucket_start(start, interval)]
    while True:
        following = _next_bucket(out[-1], interval)
        if following >= end or len(out) > MAX_BUCKETS:
            return out
        out.append(following)


# --- filters -------------------------------------------------------------------------------------

# key -> (level, the column or session attribute it tests, whether values are page globs)
SESSION_KEYS = {
    "source": "referrer_host", "utm_source": "utm_source", "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign", "utm_content": "utm_content", "utm_term": "utm_term",
    "browser": "browser", "os": "os", "device": "device",
    "entry_page": "entry_page", "exit_page": "exit_page",
}
EVENT_KEYS = {"page": "path", "hostname": "hostname", "event": "name"}
GLOB_KEYS = ("page", "entry_page", "exit_page", "hostname")
PROP_PREFIX = "prop:"


@dataclass(frozen=True)
class Filter:
    key: str            # a key of SESSION_KEYS or EVENT_KEYS, or 'prop'
    op: str             # '==' (one of the values) or '!=' (none of them)
    values: tuple[str, ...]
    prop: str | None = None  # the property name for key 'prop'

    @property
    def level(self) -> str:
        return "session" if self.key in SESSION_KEYS else "event"

    def to_dict(self) -> dict:
        key = PROP_PREFIX + self.prop if self.key == "prop" else self.key
        return {"key": key, "op": self.op, "values": list(self.values)}


def _split(text: str, separator: str) -> list[str]:
    r"""Split on ``separator`` outside backslash escapes; ``\;``, ``\|`` and ``\\`` stay
    escaped for the next split and are undone by ``_unescape``."""
    parts, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index:index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\;|])", r"\1", text)


def parse_filters(text: str | None) -> list[Filter]:
    r"""Parse ``key==v1|v2;key!=v;prop:plan==pro``.

    Conditions are joined by ``;`` (all must hold); ``==`` means one of the values, ``!=``
    none of them; ``|`` separates values. A value may hold ``;``, ``|`` or ``\`` written as
    ``\;``, ``\|``, ``\\``. Values are otherwise taken literally (URL-decoding is the
    caller's job); ``*`` in page, entry_page, exit_page and hostname values matches any run
    of characters. For ``source``, ``Direct / None`` means no referrer.
    """
    if text is None or not str(text).strip():
        return []
    if not isinstance(text, str):
        raise InvalidInput("Filters must be text like page==/pricing;device==mobile")
    conditions = [c for c in _split(text, ";") if c.strip()]
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInput(f"Too many filter conditions: {len(conditions)}; at most {MAX_CONDITIONS}")
    filters, total = [], 0
    for condition in conditions:
        match = re.match(r"^\s*([^=!]+?)\s*(==|!=)(.*)$", condition, re.S)
        if not match:
            raise InvalidInput(f"The filter {condition[:60]!r} is not like key==value or key!=value")
        key, op, rest = match.group(1), match.group(2), match.group(3)
        prop = None
        if key.startswith(PROP_PREFIX):
            prop = _unescape(key[len(PROP_PREFIX):])
            if not prop:
                raise InvalidInput("A prop filter needs the property name, like prop:plan==pro")
            if len(prop) > MAX_VALUE_CHARS:
                raise InvalidInput(f"A property name is longer than {MAX_VALUE_CHARS} characters")
            key = "prop"
        elif key not in SESSION_KEYS and key not in EVENT_KEYS:
            known = ", ".join(list(EVENT_KEYS) + list(SESSION_KEYS) + ["prop:<name>"])
            raise InvalidInput(f"Unknown filter {key[:40]!r}: filter by one of {known}")
        values = [_unescape(v) for v in _split(rest, "|")]
        label = PROP_PREFIX + prop if prop is not None else key
        if any(v == "" for v in values):
            raise InvalidInput(f"The filter on {label[:60]} has an empty value")
        for value in values:
            if len(value) > MAX_VALUE_CHARS:
                raise InvalidInput(f"A value of the filter on {label[:60]} is longer than "
                                   f"{MAX_VALUE_CHARS} characters")
            if "\x00" in value:
                raise InvalidInput(f"A value of the filter on {label[:60]} holds a NUL character")
        total += len(values)
        if total > MAX_VALUES:
            raise InvalidInput(f"Too many filter values: more than {MAX_VALUES} in all")
        filters.append(Filter(key, op, tuple(values), prop))
    return filters


def glob_to_like(glob: str) -> str:
    r"""A LIKE pattern (ESCAPE '\') matching ``glob``: ``*`` is any run of characters;
    ``%``, ``_`` and ``\`` are literal."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def json_pointer(name: str) -> str:
    """The RFC 6901 JSON pointer of a top-level key (bound as a parameter, never SQL)."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


class _Params:
    """Named parameters: each value gets a fresh ``$pN`` name."""

    def __init__(self, **initial):
        self.values = dict(initial)

    def add(self, value) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "$" + name


def _match_sql(column: str, values: tuple[str, ...], glob: bool, params: _Params) -> str:
    """SQL true when ``column`` (a whitelisted name) equals one of the values (globs for
    glob keys); values bound."""
    exact = [v for v in values if not (glob and "*" in v)]
    patterns = [glob_to_like(v) for v in values if glob and "*" in v]
    parts = []
    if exact:
        parts.append(f"list_contains({params.add(exact)}::VARCHAR[], {column})")
    for pattern in patterns:
        parts.append(f"{column} LIKE {params.add(pattern)} ESCAPE '\\'")
    return "(" + " OR ".join(parts) + ")"


def _event_condition(f: Filter, params: _Params) -> str:
    """The SQL (over one event row) of an event-level filter, without its operator."""
    if f.key == "prop":
        return _match_sql(f"json_extract_string(props, {params.add(json_pointer(f.prop))})",
                          f.values, False, params)
    sql = _match_sql(EVENT_KEYS[f.key], f.values, f.key in GLOB_KEYS, params)
    return f"(type = 'pageview' AND {sql})" if f.key == "page" else sql


def _session_condition(f: Filter, params: _Params) -> str:
    column = SESSION_KEYS[f.key]
    column = column if f.key in ("entry_page", "exit_page") else f"a.{column}"
    values = tuple("" if (f.key == "source" and v == DIRECT) else v for v in f.values)
    sql = _match_sql(f"coalesce({column}, '')", values, f.key in GLOB_KEYS, params)
    return sql if f.op == "==" else f"NOT {sql}"


def _check_filters(filters) -> list[Filter]:
    if filters is None:
        return []
    if isinstance(filters, str):
        return parse_filters(filters)
    if not all(isinstance(f, Filter) for f in filters):
        raise InvalidInput("Filters must come from parse_filters")
    return list(filters)


def _limit(value, default: int = DEFAULT_LIMIT) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"The limit must be a whole number from 1 to {MAX_LIMIT}")
    return value


# --- the session aggregate -------------------------------------------------------------------------

ATTRIBUTES = ("referrer_host", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
              "browser", "browser_version", "os", "device")


# What a session is, as aggregates of its events: the session reports compute these from
# events, and a sealed day's summary file (session_summary_sql) stores them once.
_SESSION_AGGREGATES = (
    "min(visitor_id) AS visitor_id", "min(ts) AS first_ts", "max(ts) AS last_ts",
    "count(*) AS events", "count(*) FILTER (WHERE type = 'pageview') AS pageviews",
    "arg_min(path, (ts, path)) FILTER (WHERE type = 'pageview') AS entry_page",
    "arg_max(path, (ts, path)) FILTER (WHERE type = 'pageview') AS exit_page",
)
_ATTRIBUTES_OF_FIRST_EVENT = "arg_min(struct_pack({pack}), ts) AS a"
SUMMARY_COLUMNS = ("session_id", "visitor_id", "first_ts", "last_ts", "events", "pageviews", "entry_page",
                   "exit_page", *ATTRIBUTES)
SUMMARY_REPORTS = ("overview", "timeseries", "sources", "devices")


def session_summary_sql(relation_sql: str) -> str:
    """One row per session of an events relation, SUMMARY_COLUMNS, in order of start:
    what the session reports read for a day whose events will not change (a compacted
    day) instead of grouping its events again. Sessions never span two days (visitor ids
    of browsers are per day, and compaction computes sessions within a day), so a day's
    sessions are whole."""
    pack = ", ".join(f"{a} := {a}" for a in ATTRIBUTES)
    unpack = ", ".join(f"a.{a} AS {a}" for a in ATTRIBUTES)
    return (f"SELECT session_id, visitor_id, first_ts, last_ts, events, pageviews, entry_page, exit_page, {unpack} "
            f"FROM (SELECT session_id, {', '.join(_SESSION_AGGREGATES)}, "
            f"{_ATTRIBUTES_OF_FIRST_EVENT.format(pack=pack)} FROM {relation_sql} GROUP BY session_id) "
            f"ORDER BY first_ts")


def summary_applies(report: str, filters) -> bool:
    """Whether a report can read whole days' sessions from their summaries: it needs only
    the sessions (not their events), and no filter looks at events (page, hostname, event,
    prop)."""
    return report in SUMMARY_REPORTS and all(f.level == "session" for f in _check_filters(filters))


@dataclass
class _Query:
    """The CTEs ``ev`` (events of the range) and ``s`` (kept sessions) and their params."""

    sql: str
    params: _Params
    page_condition: str | None        # over an event row: a counted pageview's path test
    event_condition: str | None       # over an event row: a counted custom event's test
    attributes: list[str] = field(default_factory=list)
    filtered: bool = False

    @property
    def semi_join(self) -> str:
        """Keeps the events of kept sessions; nothing to join when no filter drops one."""
        return "SEMI JOIN s USING (session_id)" if self.filtered else ""


def _sessions(relation_sql: str, filters: list[Filter], lo: datetime, hi: datetime, *,
              split_at: datetime | None = None, attributes=(), props: bool = False,
              summary_sql: str | None = None) -> _Query:
    """Build ``WITH ev AS (...), raw AS (...), s AS (...)``.

    ``ev``: the relation cut to [lo, hi); with ``split_at`` each event also gets ``cur``
    (ts >= split_at) and sessions are grouped by (session_id, cur) so one scan serves the
    period and the previous one. ``summary_sql``: a relation of more sessions
    (SUMMARY_COLUMNS, whole days the events relation leaves out, none crossing
    ``split_at``), added to ``raw`` as they are; only where ``summary_applies``.
    """
    params = _Params(lo=lo, hi=hi)
    if split_at is not None:
        params.values["split"] = split_at
    needed = set(attributes)
    session_conditions, flags = [], []
    page_parts, event_parts = [], []
    for f in filters:
        if f.level == "session":
            if f.key not in ("entry_page", "exit_page"):
                needed.add(SESSION_KEYS[f.key])
            session_conditions.append(_session_condition(f, params))
            continue
        condition = _event_condition(f, params)
        flags.append((condition, f.op))
        if f.key in ("page", "hostname"):
            page_parts.append(condition if f.op == "==" else f"NOT coalesce({condition}, false)")
        elif f.key in ("event", "prop"):
            event_parts.append(condition if f.op == "==" else f"NOT coalesce({condition}, false)")
    uses_props = props or any(f.key == "prop" for f in filters)
    uses_host = any(f.key == "hostname" for f in filters)
    attrs = [a for a in ATTRIBUTES if a in needed]
    columns = ["ts", "type", "name", "path", "visitor_id", "session_id"] + attrs
    if uses_props:
        columns.append("props")
    if uses_host:
        columns.append("hostname")
    cur = ", ts >= $split AS cur" if split_at is not None else ""
    page_condition = " AND ".join(page_parts) or None
    counted = f"type = 'pageview' AND ({page_condition})" if page_condition else "type = 'pageview'"
    aggregates = [*_SESSION_AGGREGATES, f"count(*) FILTER (WHERE {counted}) AS counted_pageviews"]
    if attrs:
        pack = ", ".join(f"{a} := {a}" for a in attrs)
        aggregates.append(_ATTRIBUTES_OF_FIRST_EVENT.format(pack=pack))
    for index, (condition, _) in enumerate(flags):
        aggregates.append(f"coalesce(bool_or({condition}), false) AS m{index}")
    group = "session_id, cur" if split_at is not None else "session_id"
    keep = list(session_conditions)
    for index, (_, op) in enumerate(flags):
        keep.append(f"m{index}" if op == "==" else f"NOT m{index}")
    unpack = "".join(f", a.{a} AS {a}" for a in attrs)
    summarized = ""
    if summary_sql is not None:
        if flags or uses_props or uses_host:
            raise ValueError("session summaries cannot answer filters on events")
        packed = f", struct_pack({', '.join(f'{a} := {a}' for a in attrs)}) AS a" if attrs else ""
        summarized = (f" UNION ALL BY NAME SELECT session_id{', first_ts >= $split AS cur' if cur else ''}, "
                      f"visitor_id, first_ts, last_ts, events, pageviews, pageviews AS counted_pageviews, "
                      f"entry_page, exit_page{packed} FROM {summary_sql} AS summary "
                      f"WHERE first_ts >= $lo AND first_ts < $hi")
    sql = (f"WITH ev AS (SELECT {', '.join(columns)}{cur} FROM {relation_sql} AS e "
           f"WHERE ts >= $lo AND ts < $hi), "
           f"raw AS (SELECT {group}, {', '.join(aggregates)} FROM ev GROUP BY {group}{summarized}), "
           f"s AS (SELECT *{unpack} FROM raw"
           + (f" WHERE {' AND '.join(keep)}" if keep else "") + ") ")
    return _Query(sql, params, page_condition, " AND ".join(event_parts) or None, attrs, bool(keep))


def _change(value, previous, *, points: bool = False):
    if value is None or previous is None:
        return None
    if points:
        return value - previous
    if previous == 0:
        return None
    return (value - previous) / previous * 100.0


# --- reports ---------------------------------------------------------------------------------------

_SESSION_METRICS = (
    "count(DISTINCT visitor_id) AS visitors, count(*) AS visits, "
    "coalesce(sum(counted_pageviews), 0) AS pageviews, "
    "count(*) FILTER (WHERE events = 1 AND pageviews = 1) AS bounces, "
    "avg(epoch(last_ts) - epoch(first_ts)) AS duration"
)


def _metrics(visitors, visits, pageviews, bounces, duration) -> dict:
    visits = int(visits or 0)
    return {
        "visitors": int(visitors or 0), "visits": visits, "pageviews": int(pageviews or 0),
        "views_per_visit": (int(pageviews or 0) / visits) if visits else 0.0,
        "bounce_rate": (int(bounces or 0) / visits * 100.0) if visits else 0.0,
        "visit_duration": float(duration) if visits and duration is not None else 0.0,
    }


def overview(con, relation_sql: str, period: Period, filters=(), summary_sql: str | None = None, **opts) -> dict:
    """Visitors, visits, pageviews, views per visit, bounce rate and visit duration of the
    period, each with the previous period's value and the change (percent; for bounce rate
    the difference in percentage points; null when the previous value is 0)."""
    filters = _check_filters(filters)
    query = _sessions(relation_sql, filters, period.previous_start, period.end, split_at=period.start,
                      summary_sql=summary_sql)
    rows = con.execute(query.sql + f"SELECT cur, {_SESSION_METRICS} FROM s GROUP BY cur",
                       query.params.values).fetchall()
    by_cur = {bool(r[0]): _metrics(*r[1:]) for r in rows}
    empty = _metrics(0, 0, 0, 0, None)
    now, before = by_cur.get(True, empty), by_cur.get(False, empty)
    out = {"period": period.to_dict(), "filters": [f.to_dict() for f in filters]}
    for key in ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"):
        out[key] = {"value": now[key], "previous": before[key],
                    "change": _change(now[key], before[key], points=key == "bounce_rate")}
    return out


def timeseries(con, relation_sql: str, period: Period, filters=(), interval: str | None = None,
               summary_sql: str | None = None, **opts) -> dict:
    """One point per bucket of the period (every bucket, zeros filled). A session belongs to
    the bucket of its first event in the period; each point gives that bucket's sessions'
    visitors, visits, counted pageviews, bounce rate and mean visit duration."""
    filters = _check_filters(filters)
    interval = interval or period.interval
    if interval not in INTERVALS:
        raise InvalidInput(f"Unknown interval {str(interval)[:40]!r}: choose one of {', '.join(INTERVALS)}")
    starts = buckets(period.start, period.end, interval)
    if len(starts) > MAX_BUCKETS:
        raise InvalidInput(f"The interval {interval!r} gives too many points for this period; "
                           f"choose a longer interval")
    query = _sessions(relation_sql, filters, period.start, period.end, summary_sql=summary_sql)
    unit = {"minute": "'minute'", "hour": "'hour'", "day": "'day'", "week": "'week'", "month": "'month'"}[interval]
    rows = con.execute(query.sql + f"SELECT date_trunc({unit}, first_ts) AS bucket, {_SESSION_METRICS} "
                       f"FROM s GROUP BY bucket", query.params.values).fetchall()
    found = {r[0]: _metrics(*r[1:]) for r in rows}
    empty = _metrics(0, 0, 0, 0, None)
    points = [{"date": b.isoformat(), **found.get(b, empty)} for b in starts]
    return {"period": period.to_dict(), "interval": interval, "points": points}


def pages(con, relation_sql: str, period: Period, filters=(), limit: int | None = None, **opts) -> dict:
    """Top pages (counted pageviews of kept sessions by path), entry pages (each kept
    session's first pageview path) and exit pages (its last pageview path, with the exit
    rate: exits / that page's pageviews in the kept sessions)."""
    filters = _check_filters(filters)
    limit = _limit(limit)
    query = _sessions(relation_sql, filters, period.start, period.end)
    lim = query.params.add(limit)
    sql = query.sql + (
        f", pv AS (SELECT path, count(DISTINCT visitor_id) FILTER (WHERE counted) AS visitors, "
        f"count(*) FILTER (WHERE counted) AS pageviews, count(*) AS all_views FROM (SELECT ev.path, ev.visitor_id, "
        f"{'coalesce(' + query.page_condition + ', false)' if query.page_condition else 'true'} AS counted "
        f"FROM ev {query.semi_join} WHERE ev.type = 'pageview') GROUP BY path), "
        f"total AS (SELECT count(DISTINCT visitor_id) AS visitors FROM s), "
        f"top AS (SELECT path, visitors, pageviews FROM pv WHERE pageviews > 0 "
        f"ORDER BY visitors DESC, pageviews DESC, path LIMIT {lim}), "
        f"entries AS (SELECT entry_page AS path, count(*) AS visits, count(DISTINCT visitor_id) AS visitors "
        f"FROM s WHERE entry_page IS NOT NULL GROUP BY 1 ORDER BY visits DESC, visitors DESC, path LIMIT {lim}), "
        f"exits AS (SELECT exit_page AS path, count(*) AS exits, count(DISTINCT visitor_id) AS visitors "
        f"FROM s WHERE exit_page IS NOT NULL GROUP BY 1 ORDER BY exits DESC, visitors DESC, path LIMIT {lim}) "
        f"SELECT 'top', path, visitors, pageviews, (SELECT visitors FROM total) FROM top "
        f"UNION ALL SELECT 'entry', path, visitors, visits, NULL FROM entries "
        f"UNION ALL SELECT 'exit', x.path, x.visitors, x.exits, v.all_views FROM exits AS x "
        f"LEFT JOIN pv AS v USING (path)")
    rows = con.execute(sql, query.params.values).fetchall()
    top, entry, exit_ = [], [], []
    for kind, path, visitors, n, extra in rows:
        if kind == "top":
            top.append({"path": path, "visitors": int(visitors), "pageviews": int(n),
                        "share": (visitors / extra * 100.0) if extra else 0.0})
        elif kind == "entry":
            entry.append({"path": path, "visits": int(n), "visitors": int(visitors)})
        else:
            exit_.append({"path": path, "exits": int(n), "visitors": int(visitors),
                          "exit_rate": (n / extra * 100.0) if extra else None})
    top.sort(key=lambda r: (-r["visitors"], -r["pageviews"], r["path"]))
    entry.sort(key=lambda r: (-r["visits"], -r["visitors"], r["path"]))
    exit_.sort(key=lambda r: (-r["exits"], -r["visitors"], r["path"]))
    return {"period": period.to_dict(), "pages": top, "entry_pages": entry, "exit_pages": exit_}


def _breakdowns(con, query: _Query, specs: list[tuple[str, str]], limit: int, *,
                exclude_empty: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """For each (label, attribute) the kept sessions grouped by that attribute: value,
    visitors, visits, bounces, mean duration, ordered by visitors, at most ``limit``."""
    lim = query.params.add(limit)
    parts = []
    for label, attribute in specs:
        where = f" WHERE coalesce({attribute}, '') <> ''" if attribute in exclude_empty else ""
        parts.append(
            f"(SELECT '{label}' AS kind, coalesce({attribute}, '') AS value, count(DISTINCT visitor_id) AS visitors, "
            f"count(*) AS visits, count(*) FILTER (WHERE events = 1 AND pageviews = 1) AS bounces "
            f"FROM s{where} GROUP BY 2 ORDER BY visitors DESC, visits DESC, value LIMIT {lim})")
    sql = query.sql + ", total AS (SELECT count(DISTINCT visitor_id) AS visitors FROM s) " + \
        "SELECT b.*, (SELECT visitors FROM total) FROM (" + " UNION ALL ".join(parts) + ") AS b"
    out: dict[str, list[tuple]] = {label: [] for label, _ in specs}
    for row in con.execute(sql, query.params.values).fetchall():
        out[row[0]].append(row[1:])
    for rows in out.values():
        rows.sort(key=lambda r: (-r[1], -r[2], r[0]))
    return out


def sources(con, relation_sql: str, period: Period, filters=(), limit: int | None = None,
            summary_sql: str | None = None, **opts) -> dict:
    """Kept sessions by their first event's referrer host ('' shown as "Direct / None") and
    by UTM source, medium and campaign (sessions without that tag left out): visitors,
    visits, bounce rate."""
    filters = _check_filters(filters)
    limit = _limit(limit)
    specs = [("sources", "referrer_host"), ("utm_sources", "utm_source"), ("utm_mediums", "utm_medium"),
             ("utm_campaigns", "utm_campaign")]
    query = _sessions(relation_sql, filters, period.start, period.end, attributes=[a for _, a in specs],
                      summary_sql=summary_sql)
    found = _breakdowns(con, query, specs, limit, exclude_empty=("utm_source", "utm_medium", "utm_campaign"))
    out = {"period": period.to_dict()}
    for label, attribute in specs:
        out[label] = [{"name": (DIRECT if value == "" and attribute == "referrer_host" else value),
                       "visitors": int(visitors), "visits": int(visits),
                       "bounce_rate": bounces / visits * 100.0 if visits else 0.0}
                      for value, visitors, visits, bounces, _ in found[label]]
    return out


def devices(con, relation_sql: str, period: Period, filters=(), limit: int | None = None,
            versions: bool = False, summary_sql: str | None = None, **opts) -> dict:
    """Kept sessions by their first event's browser, os and device: visitors and share
    (percent of all visitors of the kept sessions; a visitor seen with two browsers counts
    in both). With ``versions``, each browser also lists its versions."""
    filters = _check_filters(filters)
    limit = _limit(limit)
    specs = [("browsers", "browser"), ("operating_systems", "os"), ("devices", "device")]
    attributes = [a for _, a in specs] + (["browser_version"] if versions else [])
    query = _sessions(relation_sql, filters, period.start, period.end, attributes=attributes,
                      summary_sql=summary_sql)
    if versions:
        specs.append(("versions", "(coalesce(browser, '') || chr(0) || coalesce(browser_version, ''))"))
    found = _breakdowns(con, query, specs, limit if not versions else MAX_LIMIT)
    out = {"period": period.to_dict()}
    for label, _ in specs[:3]:
        out[label] = [{"name": value or NOT_SET, "visitors": int(visitors),
                       "share": visitors / total * 100.0 if total else 0.0}
                      for value, visitors, _v, _b, total in found[label][:limit]]
    if versions:
        per_browser: dict[str, list] = {}
        for value, visitors, _v, _b, total in found["versions"]:
            browser, _, version = value.partition("\x00")
            per_browser.setdefault(browser or NOT_SET, []).append(
                {"version": version or NOT_SET, "visitors": int(visitors),
                 "share": visitors / total * 100.0 if total else 0.0})
        for row in out["browsers"]:
            row["versions"] = per_browser.get(row["name"], [])[:limit]
    return out


def events(con, relation_sql: str, period: Period, filters=(), limit: int | None = None, **opts) -> dict:
    """Custom events (type 'event') of the kept sessions that pass the event and prop
    filters: per name the event count, unique visitors and conversion rate (those visitors
    / all visitors of the kept sessions, percent); and per event its props: name → value →
    events and visitors (at most 50 values per prop, most visitors first)."""
    filters = _check_filters(filters)
    limit = _limit(limit)
    query = _sessions(relation_sql, filters, period.start, period.end, props=True)
    lim = query.params.add(limit)
    vals = query.params.add(MAX_PROP_VALUES)
    nprops = query.params.add(MAX_PROPS_PER_EVENT)
    condition = f" AND ({query.event_condition})" if query.event_condition else ""
    sql = query.sql + (
        f", ce AS (SELECT ev.name, ev.visitor_id, ev.props FROM ev {query.semi_join} "
        f"WHERE ev.type = 'event'{condition}), "
        f"total AS (SELECT count(DISTINCT visitor_id) AS visitors FROM s), "
        f"top AS (SELECT name, count(*) AS events, count(DISTINCT visitor_id) AS visitors FROM ce "
        f"GROUP BY name ORDER BY visitors DESC, events DESC, name LIMIT {lim}), "
        f"kv AS (SELECT ce.name, ce.visitor_id, unnest(map_entries(CAST(ce.props::JSON AS MAP(VARCHAR, VARCHAR)))) AS e "
        f"FROM ce SEMI JOIN top USING (name) WHERE ce.props IS NOT NULL AND ce.props <> '{{}}'), "
        f"pv AS (SELECT name, e.key AS prop, coalesce(e.value, 'null') AS value, count(*) AS events, "
        f"count(DISTINCT visitor_id) AS visitors FROM kv GROUP BY ALL), "
        f"ranked AS (SELECT *, row_number() OVER (PARTITION BY name, prop ORDER BY visitors DESC, events DESC, value) AS r, "
        f"dense_rank() OVER (PARTITION BY name ORDER BY prop) AS pr FROM pv) "
        f"SELECT 'event', name, NULL, NULL, events, visitors, (SELECT visitors FROM total) FROM top "
        f"UNION ALL SELECT 'prop', name, prop, value, events, visitors, NULL FROM ranked "
        f"WHERE r <= {vals} AND pr <= {nprops}")
    rows = con.execute(sql, query.params.values).fetchall()
    listed, props = [], {}
    for kind, name, prop, value, n, visitors, total in rows:
        if kind == "event":
            listed.append({"name": name, "events": int(n), "visitors": int(visitors),
                           "conversion_rate": visitors / total * 100.0 if total else 0.0})
        else:
            props.setdefault(name, {}).setdefault(prop, []).append(
                {"value": value, "events": int(n), "visitors": int(visitors)})
    listed.sort(key=lambda r: (-r["visitors"], -r["events"], r["name"]))
    for row in listed:
        by_prop = props.get(row["name"], {})
        row["props"] = {p: sorted(v, key=lambda x: (-x["visitors"], -x["events"], x["value"]))
                        for p, v in sorted(by_prop.items())}
    return {"period": period.to_dict(), "events": listed}


def realtime(con, relation_sql: str, period: Period | None = None, filters=(), now: datetime | None = None,
             limit: int | None = None, **opts) -> dict:
    """Visitors of the last 5 minutes ([now - 5 min, now); with a period, its bounds) and
    the pages they viewed (path, visitors), filters applied as everywhere."""
    filters = _check_filters(filters)
    limit = _limit(limit)
    if period is None or now is not None:
        period = resolve_period("realtime", now=now)
    query = _sessions(relation_sql, filters, period.start, period.end)
    lim = query.params.add(limit)
    counted = f" AND ({query.page_condition})" if query.page_condition else ""
    sql = query.sql + (
        f", top AS (SELECT path, count(DISTINCT visitor_id) AS visitors FROM ev {query.semi_join} "
        f"WHERE type = 'pageview'{counted} GROUP BY path ORDER BY visitors DESC, path LIMIT {lim}) "
        f"SELECT 'total', NULL, (SELECT count(DISTINCT visitor_id) FROM s) "
        f"UNION ALL SELECT 'page', path, visitors FROM top")
    rows = con.execute(sql, query.params.values).fetchall()
    total = next(int(v) for kind, _, v in rows if kind == "total")
    listed = [{"path": p, "visitors": int(v)} for kind, p, v in rows if kind == "page"]
    listed.sort(key=lambda r: (-r["visitors"], r["path"]))
    return {"period": period.to_dict(), "visitors": total, "pages": listed}
