"""Funnels, journeys and retention on the clickstream sample (40 users of the retentioneering
e-commerce demo), checked against answers computed by hand: literal counts read off the
file, and a plain-Python walk through every user's events."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from analytics import funnels
from errors import AnalysisError, InvalidSpec

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "events-ecom-journey" / "ecom-sample.csv"
# The whole clickstream (600 users, 31,106 events), as the app ships it as a sample dataset.
WHOLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "ecom-journey.csv.gz"
SCHEMA = [{"name": n, "type": t} for n, t in (
    ("user_id", "text"), ("session_id", "text"), ("event", "categorical"), ("timestamp", "timestamp"),
    ("platform", "categorical"), ("acquisition_channel", "categorical"), ("user_cohort", "text"),
    ("user_lifecycle", "categorical"))]
COLUMNS = {"entity": "user_id", "event": "event", "time": "timestamp"}
STEPS = ["catalog", "product_view", "add_to_cart", "cart", "purchase"]


def quiet(_fraction, _message=None):
    return None


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE events AS SELECT * FROM read_csv('{SAMPLE}')")
    return connection


def read_events(path: Path):
    """(user, time, event) of every row, read with the csv module: no DuckDB in the reference."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        rows = [(r["user_id"], dt.datetime.fromisoformat(r["timestamp"]), r["event"]) for r in csv.DictReader(handle)]
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))


@pytest.fixture(scope="module")
def events():
    return read_events(SAMPLE)


def by_user(events):
    users = defaultdict(list)
    for user, time, event in events:
        users[user].append((time, event))
    return users


def reference_funnel(events, steps, window_days=None):
    """Each user: enters at the first step-1 event; then the first step-k event at or after
    step k-1 (and within the window of entering)."""
    reached = [0] * len(steps)
    for rows in by_user(events).values():
        times = [t for t, e in rows if e == steps[0]]
        if not times:
            continue
        start = current = min(times)
        reached[0] += 1
        for k, step in enumerate(steps[1:], start=1):
            later = [t for t, e in rows if e == step and t >= current
                     and (window_days is None or t <= start + dt.timedelta(days=window_days))]
            if not later:
                break
            current = min(later)
            reached[k] += 1
    return reached


def test_funnel_counts_equal_the_hand_computed_answer(con, events):
    result = funnels.funnel(con, "events", SCHEMA, dict(COLUMNS, steps=STEPS), quiet)
    counts = [s["entities"] for s in result["steps"]]
    # Read off the file: all 40 users browse the catalog then view a product; 36 add to the
    # cart after that, 32 then open the cart, 15 then buy.
    assert counts == [40, 40, 36, 32, 15]
    assert counts == reference_funnel(events, STEPS)
    assert [s["name"] for s in result["steps"]] == STEPS
    assert result["entered"] == 40 and result["converted"] == 15 and result["entities_total"] == 40


def test_funnel_conversion_and_drop_off(con):
    steps = funnels.funnel(con, "events", SCHEMA, dict(COLUMNS, steps=STEPS), quiet)["steps"]
    assert [s["conversion"] for s in steps] == pytest.approx([1.0, 1.0, 0.9, 0.8, 0.375])
    assert [s["drop_off"] for s in steps] == pytest.approx([0.0, 0.0, 0.1, 4 / 36, 17 / 32])
    assert [s["dropped"] for s in steps] == [0, 0, 4, 4, 17]
    assert steps[0]["median_seconds_from_previous"] is None


def test_funnel_median_time_to_convert_by_hand(con, events):
    """Median seconds from cart to purchase among the 15 who bought, walked in Python."""
    gaps = []
    for rows in by_user(events).values():
        current = min((t for t, e in rows if e == STEPS[0]), default=None)
        times = [current]
        for step in STEPS[1:]:
            later = [t for t, e in rows if e == step and t >= times[-1]]
            if not later:
                break
            times.append(min(later))
        if len(times) == len(STEPS):
            gaps.append((times[-1] - times[-2]).total_seconds())
    gaps.sort()
    median = (gaps[len(gaps) // 2] if len(gaps) % 2 else (gaps[len(gaps) // 2 - 1] + gaps[len(gaps) // 2]) / 2)
    steps = funnels.funnel(con, "events", SCHEMA, dict(COLUMNS, steps=STEPS), quiet)["steps"]
    assert steps[-1]["median_seconds_from_previous"] == pytest.approx(median)


def test_funnel_window_limits_the_time_to_convert(con, events):
    result = funnels.funnel(con, "events", SCHEMA, dict(COLUMNS, steps=STEPS, window_days=7), quiet)
    counts = [s["entities"] for s in result["steps"]]
    assert counts == reference_funnel(events, STEPS, window_days=7)
    assert counts[-1] < 15


def test_order_matters(con, events):
    reverse = ["purchase", "catalog"]
    result = funnels.funnel(con, "events", SCHEMA, dict(COLUMNS, steps=reverse), quiet)
    assert [s["entities"] for s in result["steps"]] == reference_funnel(events, reverse)


def reference_paths(events, chosen, depth):
    paths = {}
    for user, rows in by_user(events).items():
        mapped = sorted((t, e if e in chosen else funnels.OTHER) for t, e in rows)
        collapsed = []
        for _t, step in mapped:
            if not collapsed or collapsed[-1] != step:
                collapsed.append(step)
        paths[user] = collapsed[:depth]
    return paths


def test_journeys_links_and_paths_equal_the_hand_computed_answer(con, events):
    chosen = ["catalog", "product_view", "add_to_cart", "cart", "purchase"]
    result = funnels.journeys(con, "events", SCHEMA, dict(COLUMNS, events=chosen, depth=4, top_paths=20), quiet)
    paths = reference_paths(events, chosen, 4)
    links = Counter()
    for path in paths.values():
        for i, step in enumerate(path):
            links[(i + 1, step, path[i + 1] if i + 1 < len(path) else funnels.END)] += 1
    got = {(l["position"], l["source"], l["target"]): l["entities"] for l in result["links"]}
    assert got == {k: v for k, v in links.items() if k[0] < 4 or k[2] == funnels.END}
    whole = Counter(tuple(p) for p in paths.values())
    for row in result["paths"]:
        assert whole[tuple(row["path"])] == row["entities"]
    assert result["paths"][0]["entities"] == max(whole.values())
    assert result["entities"] == 40


def test_journeys_default_to_the_most_common_events(con):
    result = funnels.journeys(con, "events", SCHEMA, dict(COLUMNS, top_events=3), quiet)
    assert len(result["events"]) == 3 and "catalog" in result["events"]
    assert {l["source"] for l in result["links"]} <= set(result["events"]) | {funnels.OTHER}


def test_lifecycle_states_as_journeys(con):
    """The lifecycle column as the 'event': a Sankey between states."""
    result = funnels.journeys(con, "events", SCHEMA, {"entity": "user_id", "event": "user_lifecycle",
                                                      "time": "timestamp", "depth": 3}, quiet)
    assert set(result["events"]) <= {"new", "returning", "loyal"}
    assert sum(l["entities"] for l in result["links"] if l["position"] == 1) == 40


def reference_retention(events, grain="month"):
    def period(t):
        if grain == "month":
            return dt.date(t.year, t.month, 1)
        day = t.date()
        return day - dt.timedelta(days=day.weekday())

    def offset(a, b):
        return (b.year - a.year) * 12 + b.month - a.month if grain == "month" else (b - a).days // 7

    cohorts, active = {}, defaultdict(set)
    for user, rows in by_user(events).items():
        cohorts[user] = period(min(t for t, _e in rows))
        for t, _e in rows:
            active[user].add(period(t))
    table = defaultdict(Counter)
    for user, cohort in cohorts.items():
        for p in active[user]:
            table[cohort][offset(cohort, p)] += 1
    return cohorts, table


@pytest.mark.parametrize("grain", ["month", "week"])
def test_retention_equals_the_hand_computed_answer(con, events, grain):
    result = funnels.retention(con, "events", SCHEMA, dict(COLUMNS, grain=grain, periods=52), quiet)
    cohorts, table = reference_retention(events, grain)
    sizes = Counter(cohorts.values())
    assert [c["cohort"] for c in result["cohorts"]] == sorted(sizes)
    for row in result["cohorts"]:
        assert row["size"] == sizes[row["cohort"]]
        assert row["active"] == [table[row["cohort"]].get(k, 0) for k in range(len(row["active"]))]
        assert row["retention"][0] == 1.0
    if grain == "month":
        # Read off the file: January's 4 users, 3 back in February, 2 in March.
        january = result["cohorts"][0]
        assert january["cohort"] == dt.date(2024, 1, 1) and january["active"][:3] == [4, 3, 2]


def test_lifecycle_counts_by_hand(con, events):
    result = funnels.retention(con, "events", SCHEMA, dict(COLUMNS, grain="month"), quiet)
    cohorts, _ = reference_retention(events, "month")
    active = defaultdict(set)
    for user, rows in by_user(events).items():
        for t, _e in rows:
            active[dt.date(t.year, t.month, 1)].add(user)
    months = sorted(active)
    for row in result["lifecycle"]:
        month = row["period"]
        previous = dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
        now, before = active[month], active.get(previous, set())
        seen_before = {u for m in months if m < month for u in active[m]}
        assert row["new"] == sum(1 for u in now if cohorts[u] == month)
        assert row["retained"] == len([u for u in now if u in before and cohorts[u] != month])
        assert row["resurrected"] == len([u for u in now if u not in before and u in seen_before])
        assert row["churned"] == len(before - now)


def test_retention_from_a_start_event_to_a_return_event(con, events):
    result = funnels.retention(con, "events", SCHEMA, dict(COLUMNS, grain="month", start_event="purchase",
                                                         return_event="purchase"), quiet)
    buyers = {u for u, _t, e in events if e == "purchase"}
    assert sum(c["size"] for c in result["cohorts"]) == len(buyers)


@pytest.mark.skipif(not WHOLE.exists(), reason="the shipped sample data/samples/ecom-journey.csv.gz is not there")
def test_whole_clickstream_funnel_and_retention_by_hand():
    """All 600 users: the same counts as the plain-Python walk."""
    everything = read_events(WHOLE)
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE events AS SELECT * FROM read_csv('{WHOLE}')")
    steps = ["catalog", "product_view", "add_to_cart", "shipping_details", "payment_details", "purchase"]
    result = funnels.funnel(connection, "events", SCHEMA, dict(COLUMNS, steps=steps), quiet)
    assert [s["entities"] for s in result["steps"]] == reference_funnel(everything, steps)
    assert result["entities_total"] == 600
    retention = funnels.retention(connection, "events", SCHEMA, dict(COLUMNS, grain="week", periods=52), quiet)
    _cohorts, table = reference_retention(everything, "week")
    for row in retention["cohorts"]:
        assert row["active"] == [table[row["cohort"]].get(k, 0) for k in range(len(row["active"]))]


def test_a_cancelled_run_stops(con):
    """The job's progress raises when the person cancels: nothing swallows it."""
    class Cancelled(Exception):
        pass

    def cancel(_fraction, _message=None):
        raise Cancelled

    for run in (funnels.funnel, funnels.journeys):
        with pytest.raises(Cancelled):
            run(con, "events", SCHEMA, dict(COLUMNS, steps=STEPS), cancel)


def test_sparkify_log_with_epoch_milliseconds_by_hand():
    """The Sparkify log keeps time as Unix epoch milliseconds. Read off its 15 lines: users
    39, 8 and 26 open Home; 8 and 26 then play a song (8 in the same millisecond: "at or
    after" counts it); only 8 then upgrades."""
    sparkify = Path(__file__).resolve().parents[1] / "fixtures" / "events-sparkify" / "2018-11-01-events.json"
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE log AS SELECT * FROM read_json('{sparkify}')")
    schema = [{"name": "userId", "type": "text"}, {"name": "page", "type": "categorical"},
              {"name": "ts", "type": "integer"}]
    params = {"entity": "userId", "event": "page", "time": "ts", "steps": ["Home", "NextSong", "Upgrade"]}
    result = funnels.funnel(connection, "log", schema, params, quiet)
    assert [s["entities"] for s in result["steps"]] == [3, 2, 1]
    assert result["entities_total"] == 5
    # User 8: Home and a song at 21:01:46.796, the upgrade 26 s later.
    assert result["steps"][2]["median_seconds_from_previous"] == pytest.approx(26.0)


# --- bad input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    (dict(COLUMNS, steps=["catalog"]), "'steps' needs 2 to 12 events, not 1"),
    (dict(COLUMNS, steps=["catalog", "purchse"]), "There is no event 'purchse' in column 'event'"),
    (dict(COLUMNS, steps=["catalog", "cart", "catalog"]), "'catalog' appears twice"),
    (dict(COLUMNS, steps="catalog,cart"), "must be a list of event names"),
    ({"event": "event", "time": "timestamp", "steps": STEPS}, "Choose the entity id column"),
    (dict(COLUMNS, entity="event", steps=STEPS), "three different columns"),
    (dict(COLUMNS, entity="nobody", steps=STEPS), "There is no column 'nobody'"),
    (dict(COLUMNS, steps=STEPS, window_days=0), "'window_days' must be between 1 and 3650"),
])
def test_bad_funnel_requests(con, params, message):
    with pytest.raises(InvalidSpec, match=message):
        funnels.funnel(con, "events", SCHEMA, params, quiet)


def test_unparseable_times_are_refused(con):
    schema = [dict(c, type="text") if c["name"] == "platform" else c for c in SCHEMA]
    with pytest.raises(AnalysisError, match="'platform' has 2,056 of 2,056 values that are not dates"):
        funnels.funnel(con, "events", schema, dict(COLUMNS, time="platform", steps=STEPS), quiet)


def test_bad_retention_requests(con):
    with pytest.raises(InvalidSpec, match="'grain' must be one of week, month"):
        funnels.retention(con, "events", SCHEMA, dict(COLUMNS, grain="day"), quiet)
    with pytest.raises(InvalidSpec, match="There is no event 'signup'"):
        funnels.retention(con, "events", SCHEMA, dict(COLUMNS, start_event="signup"), quiet)
