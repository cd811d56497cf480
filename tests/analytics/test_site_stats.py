"""Website stats (analytics/site_stats.py) on a few thousand synthetic events written to
Parquet, every report checked against a plain pandas computation of the definitions in
docs/events.md "Stats definitions" (not the same SQL)."""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import site_stats as ss
from errors import InvalidInput

NOW = datetime(2024, 3, 10, 15, 42, 17)
PATHS = ["/", "/pricing", "/blog/a_b", "/blog/aXb", "/blog/100%", "/blog/1000", "/it's", "/docs/x"]
HOSTS = ["", "", "google.com", "news.ycombinator.com", "t.co"]
BROWSERS = [("Chrome", "122"), ("Chrome", "121"), ("Firefox", "123"), ("Safari", "17")]
OSES = ["Mac", "Windows", "Linux", "iOS", "Android"]
DEVICES = ["desktop", "mobile", "tablet"]
UTM = ["", "", "newsletter", "twitter"]
EVENT_NAMES = ["signup", "purchase", "Outbound Link: Click"]


def make_events(seed: int = 7) -> pd.DataFrame:
    """~4,000 events: 80 visitors, sessions over 2024-03-01..03-10 (gaps inside a session
    under 30 minutes, between sessions hours), bounces, event-only sessions, props, UTM."""
    rng = np.random.default_rng(seed)
    rows, session_id = [], 1000
    for visitor in range(1, 81):
        browser, version = BROWSERS[rng.integers(len(BROWSERS))]
        os_, device = OSES[rng.integers(len(OSES))], DEVICES[rng.integers(len(DEVICES))]
        t = datetime(2024, 3, 1) + timedelta(seconds=int(rng.integers(0, 9 * 86400)))
        for _ in range(int(rng.integers(1, 7))):
            session_id += 1
            kind = rng.random()
            n = 1 if kind < 0.25 else int(rng.integers(2, 14))
            host, utm = HOSTS[rng.integers(len(HOSTS))], UTM[rng.integers(len(UTM))]
            if rng.random() < 0.15:  # sometimes a visitor changes browser between sessions
                browser, version = BROWSERS[rng.integers(len(BROWSERS))]
            only_event = 0.25 <= kind < 0.28
            for i in range(n):
                if i:
                    t += timedelta(seconds=int(rng.integers(5, 25 * 60)))
                is_event = only_event or (i > 0 and rng.random() < 0.25)
                name = EVENT_NAMES[rng.integers(len(EVENT_NAMES))] if is_event else "pageview"
                props = {}
                if is_event and rng.random() < 0.8:
                    props = {"plan": ["pro", "free", "team"][rng.integers(3)], "amount": int(rng.integers(1, 4)) * 10,
                             "new": bool(rng.random() < 0.5)}
                    if rng.random() < 0.2:
                        props["weird/key~"] = "x'y"
                path = PATHS[rng.integers(len(PATHS))]
                rows.append({
                    "ts": t, "type": "event" if is_event else "pageview", "name": name,
                    "url": "https://example.com" + path, "hostname": "example.com", "path": path, "title": path,
                    # later events carry an internal referrer: only the first one is the source
                    "referrer": "", "referrer_host": host if i == 0 else "example.com",
                    "utm_source": utm if i == 0 else "", "utm_medium": ("email" if utm == "newsletter" else "social"
                                                                         if utm else "") if i == 0 else "",
                    "utm_campaign": ("spring" if utm else "") if i == 0 else "", "utm_content": "", "utm_term": "",
                    "visitor_id": visitor, "session_id": session_id, "user_id": None,
                    "browser": browser, "browser_version": version, "os": os_, "device": device,
                    "props": json.dumps(props),
                })
            t += timedelta(seconds=int(rng.integers(45 * 60, 30 * 3600)))
    frame = pd.DataFrame(rows)
    frame["visitor_id"] = frame["visitor_id"].astype("int64")
    frame["session_id"] = frame["session_id"].astype("int64")
    return frame.sort_values("ts").reset_index(drop=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    frame = make_events()
    path = tmp_path_factory.mktemp("site") / "events.parquet"
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"COPY (SELECT * REPLACE (CAST(ts AS TIMESTAMP) AS ts, CAST(user_id AS VARCHAR) AS user_id) "
                f"FROM frame ORDER BY ts) TO '{path}' (FORMAT parquet)")
    con.unregister("frame")
    return con, f"read_parquet('{path}')", frame


# --- the pandas reference ------------------------------------------------------------------------

def _glob(value: str) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in value), re.S)


def _matches(series: pd.Series, values, glob: bool) -> pd.Series:
    series = series.fillna("")
    out = pd.Series(False, index=series.index)
    for v in values:
        out |= series.map(lambda s, p=_glob(v): bool(p.fullmatch(s))) if glob else (series == v)
    return out


def ref(frame: pd.DataFrame, start, end, filters=()):
    """(events of kept sessions, per-session frame of kept sessions, counted-pageview mask)."""
    ev = frame[(frame.ts >= start) & (frame.ts < end)].copy()
    if ev.empty:
        return ev, pd.DataFrame(columns=["visitor_id"]), pd.Series(dtype=bool)
    ev = ev.sort_values(["session_id", "ts", "path"])
    g = ev.groupby("session_id")
    pv = ev[ev.type == "pageview"].groupby("session_id")
    first = g.first()  # rows are sorted by ts: the first event's attributes
    s = pd.DataFrame({
        "visitor_id": g.visitor_id.min(), "first_ts": g.ts.min(), "last_ts": g.ts.max(), "events": g.size(),
        "pageviews": (ev.type == "pageview").groupby(ev.session_id).sum(),
        "entry_page": pv.path.first(), "exit_page": pv.path.last(),
    })
    for col in ss.ATTRIBUTES:
        s[col] = first[col]
    keep = pd.Series(True, index=s.index)
    page_ok = pd.Series(True, index=ev.index)
    event_ok = pd.Series(True, index=ev.index)
    for f in filters:
        if f.key in ss.SESSION_KEYS:
            col = ss.SESSION_KEYS[f.key]
            values = ["" if (f.key == "source" and v == ss.DIRECT) else v for v in f.values]
            hit = _matches(s[col], values, f.key in ss.GLOB_KEYS)
            keep &= hit if f.op == "==" else ~hit
            continue
        if f.key == "page":
            hit = (ev.type == "pageview") & _matches(ev.path, f.values, True)
        elif f.key == "event":
            hit = ev.name.isin(f.values)
        else:
            got = ev.props.map(lambda p, k=f.prop: json.loads(p).get(k))
            got = got.map(lambda v: None if v is None else (str(v).lower() if isinstance(v, bool) else str(v)))
            hit = got.isin(f.values) & got.notna()
        has = hit.groupby(ev.session_id).any().reindex(s.index, fill_value=False)
        keep &= has if f.op == "==" else ~has
        if f.key == "page":
            page_ok &= hit if f.op == "==" else ~hit
        else:
            event_ok &= hit if f.op == "==" else ~hit
    s = s[keep]
    ev = ev[ev.session_id.isin(s.index)]
    counted = (ev.type == "pageview") & page_ok.reindex(ev.index)
    s["counted"] = counted.groupby(ev.session_id).sum().reindex(s.index, fill_value=0)
    ev = ev.assign(counted=counted, event_ok=event_ok.reindex(ev.index))
    return ev, s, counted


def ref_metrics(s: pd.DataFrame) -> dict:
    visits = len(s)
    if not visits:
        return {"visitors": 0, "visits": 0, "pageviews": 0, "views_per_visit": 0.0, "bounce_rate": 0.0,
                "visit_duration": 0.0}
    bounces = ((s.events == 1) & (s.pageviews == 1)).sum()
    return {"visitors": s.visitor_id.nunique(), "visits": visits, "pageviews": int(s.counted.sum()),
            "views_per_visit": s.counted.sum() / visits, "bounce_rate": bounces / visits * 100,
            "visit_duration": (s.last_ts - s.first_ts).dt.total_seconds().mean()}


FILTER_CASES = [
    "", "page==/pricing", "page!=/pricing", "page==/blog/*", "source==Direct / None", "source!=Direct / None|t.co",
    "device==mobile|tablet", "event==signup", "event!=signup", "prop:plan==pro", "prop:new==true",
    "prop:plan!=free", "utm_source==newsletter", "utm_medium==social;browser==Chrome", "os!=Mac",
    "entry_page==/blog/*", "exit_page==/", "page==/pricing;device==desktop;prop:plan==pro|team",
    "utm_campaign==spring;page!=/it's",
]
PERIOD = ss.resolve_period("custom", "2024-03-03", "2024-03-08")


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("text", FILTER_CASES)
def test_overview_matches_pandas(data, text):
    con, rel, frame = data
    filters = ss.parse_filters(text)
    got = ss.overview(con, rel, PERIOD, filters)
    _, s, _ = ref(frame, PERIOD.start, PERIOD.end, filters)
    _, before, _ = ref(frame, PERIOD.previous_start, PERIOD.previous_end, filters)
    want, prev = ref_metrics(s), ref_metrics(before)
    assert want["visits"] > 0 or text  # the unfiltered case has data
    for key in want:
        assert got[key]["value"] == approx(want[key]), key
        assert got[key]["previous"] == approx(prev[key]), key
    if prev["visitors"]:
        assert got["visitors"]["change"] == approx((want["visitors"] - prev["visitors"]) / prev["visitors"] * 100)
    assert got["bounce_rate"]["change"] == approx(want["bounce_rate"] - prev["bounce_rate"])
    json.dumps(got)


def test_overview_unfiltered_has_bounces_and_previous(data):
    con, rel, _ = data
    got = ss.overview(con, rel, PERIOD)
    assert 0 < got["bounce_rate"]["value"] < 100
    assert got["visitors"]["previous"] > 0 and got["visit_duration"]["value"] > 0


@pytest.mark.parametrize("text", ["", "page==/pricing", "source==google.com"])
@pytest.mark.parametrize("interval", ["day", "hour", "week", "month"])
def test_timeseries_matches_pandas_and_fills_zeros(data, text, interval):
    con, rel, frame = data
    period = ss.resolve_period("custom", "2024-02-26", "2024-03-12", interval=interval)
    filters = ss.parse_filters(text)
    got = ss.timeseries(con, rel, period, filters)
    _, s, _ = ref(frame, period.start, period.end, filters)
    freq = {"day": "D", "hour": "h", "week": "W-MON", "month": "MS"}[interval]
    if interval == "week":
        keys = (s.first_ts.dt.normalize() - pd.to_timedelta(s.first_ts.dt.day_of_week, unit="D"))
    else:
        keys = s.first_ts.dt.floor(freq) if interval in ("day", "hour") else s.first_ts.dt.to_period("M").dt.start_time
    expected = {k.to_pydatetime(): ref_metrics(part) for k, part in s.groupby(keys)}
    first = ss.bucket_start(period.start, interval)
    assert got["points"][0]["date"] == first.isoformat()
    n = {"day": 16, "hour": 16 * 24, "week": 3, "month": 2}[interval]
    assert len(got["points"]) == n
    dates = [datetime.fromisoformat(p["date"]) for p in got["points"]]
    assert dates == sorted(set(dates))
    for point, bucket in zip(got["points"], dates):
        want = expected.get(bucket, ref_metrics(s.iloc[0:0]))
        for key in want:
            assert point[key] == approx(want[key]), (bucket, key)
    # Feb 26-29 and Mar 11-12 hold no event: zero points are there
    zero = [p for p in got["points"] if p["date"].startswith("2024-02-27")]
    assert zero or interval in ("week", "month")
    assert all(p["visits"] == 0 and p["bounce_rate"] == 0 for p in zero)
    assert sum(p["visits"] for p in got["points"]) == len(s)


@pytest.mark.parametrize("text", ["", "page==/blog/*", "device==desktop", "prop:plan==pro", "page!=/"])
def test_pages_match_pandas(data, text):
    con, rel, frame = data
    filters = ss.parse_filters(text)
    got = ss.pages(con, rel, PERIOD, filters, limit=1000)
    ev, s, counted = ref(frame, PERIOD.start, PERIOD.end, filters)
    total = s.visitor_id.nunique()
    c = ev[ev.counted]
    top = c.groupby("path").agg(visitors=("visitor_id", "nunique"), pageviews=("ts", "size"))
    assert {r["path"]: (r["visitors"], r["pageviews"]) for r in got["pages"]} == \
        {p: (int(r.visitors), int(r.pageviews)) for p, r in top.iterrows()}
    for r in got["pages"]:
        assert r["share"] == approx(r["visitors"] / total * 100)
    entries = s.dropna(subset=["entry_page"]).groupby("entry_page").agg(visits=("events", "size"),
                                                                       visitors=("visitor_id", "nunique"))
    assert {r["path"]: (r["visits"], r["visitors"]) for r in got["entry_pages"]} == \
        {p: (int(r.visits), int(r.visitors)) for p, r in entries.iterrows()}
    views = ev[ev.type == "pageview"].groupby("path").size()
    exits = s.dropna(subset=["exit_page"]).groupby("exit_page").size()
    assert {r["path"]: r["exits"] for r in got["exit_pages"]} == {p: int(n) for p, n in exits.items()}
    for r in got["exit_pages"]:
        assert r["exit_rate"] == approx(r["exits"] / views[r["path"]] * 100)
    # ordering and the limit
    assert [r["visitors"] for r in got["pages"]] == sorted((r["visitors"] for r in got["pages"]), reverse=True)
    small = ss.pages(con, rel, PERIOD, filters, limit=2)
    assert small["pages"] == got["pages"][:2] and small["entry_pages"] == got["entry_pages"][:2]


def _breakdown(s, col, exclude_empty=False):
    part = s[s[col].fillna("") != ""] if exclude_empty else s
    out = {}
    for value, group in part.groupby(part[col].fillna("")):
        out[value] = (group.visitor_id.nunique(), len(group),
                      ((group.events == 1) & (group.pageviews == 1)).sum() / len(group) * 100)
    return out


@pytest.mark.parametrize("text", ["", "page==/pricing", "device!=mobile"])
def test_sources_match_pandas(data, text):
    con, rel, frame = data
    filters = ss.parse_filters(text)
    got = ss.sources(con, rel, PERIOD, filters, limit=1000)
    _, s, _ = ref(frame, PERIOD.start, PERIOD.end, filters)
    want = {(ss.DIRECT if k == "" else k): v for k, v in _breakdown(s, "referrer_host").items()}
    assert {r["name"]: (r["visitors"], r["visits"]) for r in got["sources"]} == \
        {k: (v[0], v[1]) for k, v in want.items()}
    for r in got["sources"]:
        assert r["bounce_rate"] == approx(want[r["name"]][2])
    # the source is the session's first event's: the internal referrer only for the one
    # session cut by the period's start
    assert want.get("example.com", (0, 0))[1] <= 1
    for label, col in (("utm_sources", "utm_source"), ("utm_mediums", "utm_medium"), ("utm_campaigns", "utm_campaign")):
        want = _breakdown(s, col, exclude_empty=True)
        assert {r["name"]: (r["visitors"], r["visits"]) for r in got[label]} == {k: (v[0], v[1]) for k, v in want.items()}
        assert want


def test_devices_match_pandas(data):
    con, rel, frame = data
    filters = ss.parse_filters("source!=t.co")
    got = ss.devices(con, rel, PERIOD, filters, limit=1000, versions=True)
    _, s, _ = ref(frame, PERIOD.start, PERIOD.end, filters)
    total = s.visitor_id.nunique()
    for label, col in (("browsers", "browser"), ("operating_systems", "os"), ("devices", "device")):
        want = s.groupby(col).visitor_id.nunique()
        assert {r["name"]: r["visitors"] for r in got[label]} == {k: int(v) for k, v in want.items()}
        for r in got[label]:
            assert r["share"] == approx(r["visitors"] / total * 100)
    chrome = next(r for r in got["browsers"] if r["name"] == "Chrome")
    want = s[s.browser == "Chrome"].groupby("browser_version").visitor_id.nunique()
    assert {v["version"]: v["visitors"] for v in chrome["versions"]} == {k: int(v) for k, v in want.items()}
    assert "versions" not in ss.devices(con, rel, PERIOD)["browsers"][0]


@pytest.mark.parametrize("text", ["", "event==signup|purchase", "prop:plan==pro", "page==/pricing"])
def test_events_match_pandas(data, text):
    con, rel, frame = data
    filters = ss.parse_filters(text)
    got = ss.events(con, rel, PERIOD, filters, limit=1000)
    ev, s, _ = ref(frame, PERIOD.start, PERIOD.end, filters)
    total = s.visitor_id.nunique()
    ce = ev[(ev.type == "event") & ev.event_ok]
    want = ce.groupby("name").agg(events=("ts", "size"), visitors=("visitor_id", "nunique"))
    assert {r["name"]: (r["events"], r["visitors"]) for r in got["events"]} == \
        {n: (int(r.events), int(r.visitors)) for n, r in want.iterrows()}
    for r in got["events"]:
        assert r["conversion_rate"] == approx(r["visitors"] / total * 100)
        rows = []
        for _, e in ce[ce.name == r["name"]].iterrows():
            for k, v in json.loads(e.props).items():
                rows.append({"prop": k, "value": str(v).lower() if isinstance(v, bool) else str(v),
                             "visitor_id": e.visitor_id})
        kv = pd.DataFrame(rows, columns=["prop", "value", "visitor_id"])
        expect = {}
        for (prop, value), group in kv.groupby(["prop", "value"]):
            expect.setdefault(prop, {})[value] = (len(group), group.visitor_id.nunique())
        assert {p: {v["value"]: (v["events"], v["visitors"]) for v in vals} for p, vals in r["props"].items()} == expect
    if text == "prop:plan==pro":
        assert all(r["props"]["plan"] == [v for v in r["props"]["plan"] if v["value"] == "pro"] for r in got["events"])
    if text == "":
        signup = next(r for r in got["events"] if r["name"] == "signup")
        assert "weird/key~" in signup["props"] or any("weird/key~" in r["props"] for r in got["events"])
    json.dumps(got)


def test_realtime(data):
    con, rel, frame = data
    now = frame.ts.iloc[len(frame) // 2] + timedelta(seconds=1)
    got = ss.realtime(con, rel, None, [], now=now)
    window = frame[(frame.ts >= now - timedelta(minutes=5)) & (frame.ts < now)]
    assert got["visitors"] == window.visitor_id.nunique() > 0
    pv = window[window.type == "pageview"].groupby("path").visitor_id.nunique()
    assert {r["path"]: r["visitors"] for r in got["pages"]} == {k: int(v) for k, v in pv.items()}
    assert ss.realtime(con, rel, None, [], now=datetime(2030, 1, 1)) == {
        "period": ss.resolve_period("realtime", now=datetime(2030, 1, 1)).to_dict(), "visitors": 0, "pages": []}


# --- malicious values are literal -------------------------------------------------------------------

def test_malicious_values_are_literal(data):
    con, rel, frame = data
    for text in ["page==x'\\; DROP TABLE t\\; --", "source==' OR 1=1 --", "prop:plan')\\; DROP==pro",
                 "prop:plan==pro' OR '1'='1", 'browser==Chrome"', "event==%", "page==%"]:
        got = ss.overview(con, rel, PERIOD, ss.parse_filters(text))
        assert got["visits"]["value"] == 0, text
    assert ss.parse_filters("page==x'\\; DROP TABLE t\\; --")[0].values == ("x'; DROP TABLE t; --",)
    # '_' and '%' in a page glob are literal: /blog/a_b is not /blog/aXb, /blog/100% not /blog/1000
    _, s, _ = ref(frame, PERIOD.start, PERIOD.end, ss.parse_filters("page==/blog/a_b"))
    for text, path, other in [("page==/blog/a_b*", "/blog/a_b", "/blog/aXb"),
                              ("page==/blog/100%*", "/blog/100%", "/blog/1000"),
                              ("page==/it's", "/it's", "/")]:
        listed = {r["path"] for r in ss.pages(con, rel, PERIOD, ss.parse_filters(text), limit=100)["pages"]}
        assert listed == {path}, text
        assert other not in listed
    got = ss.overview(con, rel, PERIOD, ss.parse_filters("page==/blog/a_b"))
    assert got["visits"]["value"] == len(s) > 0
    assert ss.glob_to_like("/a_b%*\\") == "/a\\_b\\%%\\\\"
    assert ss.json_pointer("a/b~c") == "/a~1b~0c"


# --- filter parsing ------------------------------------------------------------------------------

def test_parse_filters():
    got = ss.parse_filters("page==/a|/b*;source!=Direct / None;prop:plan==pro;event==a\\;b|c\\|d\\\\")
    assert [(f.key, f.op, f.values, f.prop) for f in got] == [
        ("page", "==", ("/a", "/b*"), None), ("source", "!=", ("Direct / None",), None),
        ("prop", "==", ("pro",), "plan"), ("event", "==", ("a;b", "c|d\\"), None)]
    assert ss.parse_filters("") == [] and ss.parse_filters(None) == []
    assert ss.parse_filters("page==a=b")[0].values == ("a=b",)


@pytest.mark.parametrize("text, message", [
    ("country==FR", "Unknown filter 'country'"),
    ("page==", "empty value"),
    ("page==/a|", "empty value"),
    ("page", "not like key==value"),
    ("page=/a", "not like key==value"),
    ("prop:==x", "property name"),
    (";".join(["page==/a"] * 21), "Too many filter conditions"),
    ("page==" + "|".join(f"/p{i}" for i in range(101)), "Too many filter values"),
    ("page==/" + "a" * 500, "longer than 500"),
])
def test_parse_filters_errors(text, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        ss.parse_filters(text)


# --- periods -------------------------------------------------------------------------------------

def D(*args):
    return datetime(*args)


@pytest.mark.parametrize("period, kwargs, start, end, interval", [
    ("realtime", {}, D(2024, 3, 10, 15, 37, 17), NOW, "minute"),
    ("day", {}, D(2024, 3, 10), NOW, "hour"),
    ("day", {"from_": "2024-02-29"}, D(2024, 2, 29), D(2024, 3, 1), "hour"),
    ("7d", {}, D(2024, 3, 3), D(2024, 3, 10), "day"),
    ("30d", {}, D(2024, 2, 9), D(2024, 3, 10), "day"),
    ("month", {}, D(2024, 3, 1), NOW, "day"),
    ("month", {"from_": "2024-02-15"}, D(2024, 2, 1), D(2024, 3, 1), "day"),
    ("12mo", {}, D(2023, 4, 1), NOW, "month"),
    ("custom", {"from_": "2024-01-01", "to": "2024-01-01"}, D(2024, 1, 1), D(2024, 1, 2), "hour"),
    ("custom", {"from_": "2024-01-01", "to": "2024-01-31"}, D(2024, 1, 1), D(2024, 2, 1), "day"),
    ("custom", {"from_": "2023-01-01", "to": "2024-12-31"}, D(2023, 1, 1), D(2025, 1, 1), "month"),
])
def test_periods(period, kwargs, start, end, interval):
    p = ss.resolve_period(period, now=NOW, **kwargs)
    assert (p.start, p.end, p.interval) == (start, end, interval)
    assert p.previous_end == p.start and p.previous_end - p.previous_start == p.end - p.start
    assert p.to_dict()["start"] == start.isoformat()


def test_period_with_aware_now_and_interval_override():
    from datetime import timezone
    p = ss.resolve_period("day", now=datetime(2024, 3, 10, 17, 0, tzinfo=timezone(timedelta(hours=2))))
    assert (p.start, p.end) == (D(2024, 3, 10), D(2024, 3, 10, 15))
    assert ss.resolve_period("30d", now=NOW, interval="week").interval == "week"


@pytest.mark.parametrize("args, message", [
    (("week",), "Unknown period"),
    (("custom",), "needs both a start date"),
    (("custom", "2024-01-01"), "needs both a start date"),
    (("custom", "2024-02-01", "2024-01-01"), "is after the end date"),
    (("custom", "2022-01-01", "2024-01-02"), "at most two years"),
    (("custom", "yesterday", "2024-01-02"), "not a date"),
    (("custom", "2024-01-01", "2024-01-02", None, "fortnight"), "Unknown interval"),
    (("12mo", None, None, None, "minute"), "too many points"),
])
def test_period_errors(args, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        ss.resolve_period(*args, now=NOW) if len(args) < 4 else ss.resolve_period(
            args[0], args[1], args[2], NOW, args[4])


def test_limit_errors(data):
    con, rel, _ = data
    for bad in (0, 1001, "10", True):
        with pytest.raises(InvalidInput, match="limit"):
            ss.pages(con, rel, PERIOD, [], limit=bad)


# --- the 10M-row timing (a printout, not an assertion) ----------------------------------------------

@pytest.mark.skipif(not os.environ.get("SITE_STATS_BENCH"), reason="set SITE_STATS_BENCH=1 to time 10M rows")
def test_overview_timing_10m(tmp_path):
    path = tmp_path / "ten_million.parquet"
    build = duckdb.connect()
    started = time.perf_counter()
    # 10M events over 30 days, sorted by ts; ~8 events per session, sessions of 200k visitors
    build.execute(f"""COPY (
        WITH r AS (SELECT i, i // 8 AS s, CAST(hash(i) % 1000 AS BIGINT) AS h, CAST(hash(i // 8) % 1000 AS BIGINT) AS hs
                   FROM range(10000000) AS t(i))
        SELECT TIMESTAMP '2024-02-10' + to_microseconds(i * 259200) AS ts,
          CASE WHEN h % 5 = 0 THEN 'event' ELSE 'pageview' END AS type,
          CASE WHEN h % 5 = 0 THEN 'signup' ELSE 'pageview' END AS name,
          'https://example.com/p' || (h % 50) AS url, 'example.com' AS hostname,
          '/p' || (h % 50) AS path, '' AS title, '' AS referrer,
          ['', 'google.com', 't.co'][1 + hs % 3] AS referrer_host,
          '' AS utm_source, '' AS utm_medium, '' AS utm_campaign, '' AS utm_content, '' AS utm_term,
          CAST(s % 200000 AS BIGINT) AS visitor_id, CAST(s AS BIGINT) AS session_id,
          NULL::VARCHAR AS user_id, ['Chrome', 'Firefox', 'Safari'][1 + hs % 3] AS browser,
          '1' AS browser_version, 'Linux' AS os, ['desktop', 'mobile'][1 + hs % 2] AS device,
          CASE WHEN h % 5 = 0 THEN '{{"plan": "pro"}}' ELSE '{{}}' END AS props
        FROM r ORDER BY ts) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)""")
    print(f"\n10M rows written in {time.perf_counter() - started:.1f}s")
    rel = f"read_parquet('{path}')"
    con = duckdb.connect()
    for filters in ("", "page==/p1|/p2;device==mobile", "prop:plan==pro"):
        period = ss.resolve_period("7d", now=datetime(2024, 3, 11))
        whole = ss.resolve_period("custom", "2024-02-10", "2024-03-10")
        for label, p in (("7d", period), ("30 days", whole)):
            for run in ("cold", "warm"):
                t0 = time.perf_counter()
                got = ss.overview(con, rel, p, ss.parse_filters(filters))
                print(f"overview {label} filters={filters!r} {run}: {time.perf_counter() - t0:.2f}s "
                      f"visits={got['visits']['value']}")
    whole = ss.resolve_period("custom", "2024-02-10", "2024-03-10")
    for name in ("timeseries", "pages", "sources", "devices", "events"):
        for filters in ("", "device==mobile"):
            for run in ("cold", "warm"):
                t0 = time.perf_counter()
                getattr(ss, name)(con, rel, whole, ss.parse_filters(filters))
                print(f"{name} 30 days filters={filters!r} {run}: {time.perf_counter() - t0:.2f}s")
