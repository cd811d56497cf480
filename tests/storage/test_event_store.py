"""The events' storage (issue 13, points 4 and 6): sessions split at 30 minutes, the
same answers before and after compaction, covered files hidden at once and deleted
later, retention by whole days, one compactor per site across processes, the daily salt
shared through the database, and the site's dataset file published from the events."""
from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storage import Storage
from storage.collect import CollectService, EventUpkeep
from storage.duck import connect
from storage.event_store import EVENT_SCHEMA, EventStore
from storage.sites import SiteService

T0 = dt.datetime(2026, 11, 20, 10, 0)


def events(rows: list[tuple]) -> pa.Table:
    """(minutes after T0, visitor, path) rows as an events table."""
    columns = {f.name: [None] * len(rows) for f in EVENT_SCHEMA}
    columns["ts"] = [T0 + dt.timedelta(minutes=m) for m, _, _ in rows]
    columns["visitor_id"] = [v for _, v, _ in rows]
    columns["path"] = [p for _, _, p in rows]
    columns["type"] = ["pageview"] * len(rows)
    columns["props"] = ["{}"] * len(rows)
    return pa.table(columns, schema=EVENT_SCHEMA)


def read(store: EventStore, site_id: int = 1) -> list[tuple]:
    con = connect()
    try:
        return con.execute(f"SELECT ts, visitor_id, path, session_id FROM {store.relation_sql(site_id)} "
                           "ORDER BY ts, visitor_id").fetchall()
    finally:
        con.close()


def sessions_of(rows) -> list[int]:
    """Each row's session as a small number, in order of first appearance."""
    seen: dict = {}
    return [seen.setdefault(r[3], len(seen)) for r in rows]


@pytest.fixture
def store(tmp_path):
    return EventStore(tmp_path)


def test_a_gap_of_29_minutes_stays_in_the_session_and_31_starts_a_new_one(store, tmp_path):
    store.append(1, events([(0, 7, "/"), (29, 7, "/a"), (60, 7, "/b"), (61, 8, "/")]))
    rows = read(store)
    assert sessions_of(rows) == [0, 0, 1, 2]
    assert store.compact(1, "2026-11-20", tmp_path / "tmp") == 4
    assert read(store) == rows  # the compacted file's session ids are those computed before
    store.append(1, events([(89, 7, "/c"), (121, 7, "/d")]))  # 29 minutes after /b, then 32
    assert sessions_of(read(store)) == [0, 0, 1, 2, 1, 3]


def test_compaction_hides_what_it_covers_at_once_and_deletes_it_later(store, tmp_path):
    for minute in range(5):
        store.append(1, events([(minute, 1, f"/{minute}")]))
    folder = store.day_dir(1, "2026-11-20")
    assert len(list(folder.glob("i-*.parquet"))) == 5
    before = read(store)
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    assert len(list(folder.glob("[ic]-*.parquet"))) == 6 and read(store) == before  # nothing counted twice
    assert len(list(folder.glob("s-*.parquet"))) == 1  # its sessions
    assert store.sweep_covered(1, "2026-11-20", grace=3600) == 0  # a reader may still have listed them
    assert store.sweep_covered(1, "2026-11-20", grace=0) == 5
    [compacted] = folder.glob("[ic]-*.parquet")
    assert compacted.name.startswith("c-") and read(store) == before
    covers = json.loads(pq.read_metadata(compacted).metadata[b"covers"])
    assert len(covers) == 5


def test_a_crash_before_the_rename_leaves_only_a_temp_file_that_is_swept(store, tmp_path):
    store.append(1, events([(0, 1, "/")]))
    folder = store.day_dir(1, "2026-11-20")
    (folder / ".tmp-c-123-abc.parquet").write_bytes(b"half a file")
    assert read(store) == read(store) and len(read(store)) == 1
    import os
    os.utime(folder / ".tmp-c-123-abc.parquet", (0, 0))
    store.sweep_covered(1, "2026-11-20")
    assert not (folder / ".tmp-c-123-abc.parquet").exists()


def test_retention_drops_whole_old_days(store):
    store.append(1, events([(0, 1, "/old"), (60 * 24 * 5, 1, "/new")]))
    assert store.days(1) == ["2026-11-20", "2026-11-25"]
    assert store.drop_days_before(1, "2026-11-21") == 1
    assert [r[2] for r in read(store)] == ["/new"]


@pytest.fixture
def two_processes(settings):
    """Two Storage objects on one database and data dir: two worker processes."""
    first = Storage(settings.database_url, settings.data_dir)
    first.migrate()
    second = Storage(settings.database_url, settings.data_dir)
    yield first, second
    first.dispose()
    second.dispose()


def _site(storage: Storage):
    admin = storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
    workspace = storage.workspaces.personal_workspace(admin.principal())
    return admin, storage.sites.create(admin.principal(), workspace.id, {"name": "Shop", "domain": "shop.example"})


def test_every_process_uses_the_same_salt_and_old_salts_are_deleted(two_processes):
    first, second = two_processes
    assert first.sites.salt("2026-11-20") == second.sites.salt("2026-11-20")
    assert first.sites.salt("2026-11-21") != first.sites.salt("2026-11-20")
    SiteService(first.engine, first.workspaces, first.datasets, first.events).salt("2026-11-23")
    from sqlalchemy import select
    from storage.tables import event_salts
    with first.engine.connect() as conn:
        assert conn.execute(select(event_salts.c.day).order_by(event_salts.c.day)).scalars().all() == \
            ["2026-11-21", "2026-11-23"]


def test_visitor_ids_rotate_daily_and_identified_people_keep_theirs(two_processes):
    first, second = two_processes
    _, site = _site(first)
    days = iter([dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc),
                 dt.datetime(2026, 11, 20, 13, tzinfo=dt.timezone.utc),
                 dt.datetime(2026, 11, 21, 12, tzinfo=dt.timezone.utc)])
    for storage in (first, second, first):  # two processes on day one, then the next day
        service = CollectService(storage.sites, storage.events, clock=lambda: next(days))
        service.collect({"site": site["key"], "url": "https://shop.example/"}, "198.51.100.1", "Firefox/133.0")
    rows = read(first.events, site["id"])
    assert rows[0][1] == rows[1][1] != rows[2][1]
    server = CollectService(first.sites, first.events)
    ref = first.sites.ref(site)
    for address in ("198.51.100.1", "203.0.113.2"):
        server.collect({"type": "event", "name": "Signup", "user_id": "u-1"}, address, "backend", site=ref)
    ids = {r[1] for r in read(first.events, site["id"]) if r[2] == ""}
    assert len(ids) == 1


def test_one_process_compacts_a_site_at_a_time(two_processes):
    first, second = two_processes
    _, site = _site(first)
    token = first.sites.claim_compaction(site["id"])
    assert token and second.sites.claim_compaction(site["id"]) is None
    assert first.sites.renew_compaction(site["id"], token)
    first.sites.release_compaction(site["id"], token)
    late = second.sites.claim_compaction(site["id"], seconds=-1)  # a claim that ran out at once
    newer = first.sites.claim_compaction(site["id"])
    assert late and newer and not second.sites.renew_compaction(site["id"], late)
    second.sites.release_compaction(site["id"], late)  # the old holder cannot free the new claim
    assert second.sites.claim_compaction(site["id"]) is None


def test_upkeep_compacts_and_publishes_the_events_as_the_datasets_file(two_processes):
    first, second = two_processes
    admin, site = _site(first)
    first.events.append(site["id"], events([(0, 1, "/"), (5, 1, "/a"), (50, 2, "/")]))
    upkeep = EventUpkeep(second.sites, second.events, second.data_dir / "tmp", snapshot_seconds=0)
    done = upkeep.run_once(min_age=0)
    assert done["compacted"] == 1 and done["published"] == 1
    dataset = first.datasets.get(admin.principal(), site["dataset_id"])
    assert dataset.rows == 3 and dataset.version == 2
    columns, rows, total = first.datasets.rows(admin.principal(), dataset.id, 0, 10)
    assert total == 3 and [r[columns.index("path")] for r in rows] == ["/", "/a", "/"]
    assert upkeep.run_once(min_age=0)["published"] == 0  # nothing new
    for batch in range(4):
        first.events.append(site["id"], events([(100 + batch, 3, f"/{batch}")]))
        second.events._states.clear()  # another process's listing is trusted a second: as if it passed
        upkeep.run_once(min_age=0)
    versions = first.datasets.versions(admin.principal(), dataset.id)
    assert [v.version for v in versions][:3] == [6, 5, 4] and len(versions) == 3
    assert first.datasets.get(admin.principal(), dataset.id).rows == 7


def test_compacting_twice_before_the_sweep_counts_nothing_twice(store, tmp_path):
    store.append(1, events([(0, 1, "/a"), (1, 1, "/b")]))
    store.append(1, events([(2, 1, "/c")]))
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    store.append(1, events([(3, 1, "/d")]))
    store.compact(1, "2026-11-20", tmp_path / "tmp")  # reads the first compacted file and the new one
    assert [r[2] for r in read(store)] == ["/a", "/b", "/c", "/d"]
    store.sweep_covered(1, "2026-11-20", grace=0)
    assert [r[2] for r in read(store)] == ["/a", "/b", "/c", "/d"]
    assert len(list(store.day_dir(1, "2026-11-20").glob("[ic]-*.parquet"))) == 1
    assert len(list(store.day_dir(1, "2026-11-20").glob("s-*.parquet"))) == 1  # the swept one's summary went too
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    assert [r[2] for r in read(store)] == ["/a", "/b", "/c", "/d"]


def test_an_unreadable_compacted_file_fails_the_read_rather_than_showing_its_inputs(store, tmp_path):
    store.append(1, events([(0, 1, "/a")]))
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    [compacted] = store.day_dir(1, "2026-11-20").glob("c-*.parquet")
    store._covers.clear()
    compacted.write_bytes(b"damaged")
    with pytest.raises(Exception):
        store.visible(1, "2026-11-20")
    assert store._covers == {}


def test_a_compaction_whose_claim_ran_out_writes_nothing(store, tmp_path):
    store.append(1, events([(0, 1, "/a")]))
    assert store.compact(1, "2026-11-20", tmp_path / "tmp", still_claimed=lambda: False) == 0
    assert [p.name[:2] for p in store.day_dir(1, "2026-11-20").iterdir()] == ["i-"]


def test_a_deleted_sites_late_folder_is_removed_and_its_id_never_reused(two_processes):
    first, second = two_processes
    admin, site = _site(first)
    first.sites.delete(admin.principal(), site["id"])
    first.events.append(site["id"], events([(0, 1, "/late")]))  # another process's cache still knew the key
    import os
    os.utime(first.events.site_dir(site["id"]), (0, 0))
    assert EventUpkeep(second.sites, second.events, second.data_dir / "tmp").run_once(min_age=0)["orphans"] == 1
    assert not first.events.site_dir(site["id"]).exists()
    workspace = first.workspaces.personal_workspace(admin.principal())
    again = first.sites.create(admin.principal(), workspace.id, {"name": "New", "domain": "new.example"})
    assert again["id"] != site["id"]


def test_rows_that_cannot_be_converted_fail_their_request_alone(store):
    """The writer converts every waiting request's rows at once; a request whose rows do not
    fit the schema gets the error and the others are written."""
    import threading

    from storage.event_store import EVENT_COLUMNS, _Pending

    good = tuple(T0 if c == "ts" else 7 if c == "visitor_id" else None if c == "session_id" else "/" if c == "path"
                 else "x" for c in EVENT_COLUMNS)
    bad = tuple("not a time" if c == "ts" else v for c, v in zip(EVENT_COLUMNS, good))
    first, broken = _Pending([(1, [good])], threading.Event()), _Pending([(1, [bad])], threading.Event())
    batch = [first, broken]
    store._write_batch(batch)
    assert broken.error is not None and broken.done.is_set() and batch == [first]
    assert [(r[1], r[2]) for r in read(store)] == [(7, "/")]


@pytest.mark.parametrize("report, text", [("overview", ""), ("overview", "source==google.com"),
                                          ("timeseries", ""), ("sources", ""), ("devices", "browser==Chrome"),
                                          ("overview", "entry_page==/pricing")])
def test_session_reports_read_compacted_days_from_summaries_with_the_same_answers(store, tmp_path, report, text):
    """A compacted day's sessions are read from its summary file; every figure equals the
    one computed from the events, for the period and the one before it."""
    from analytics import site_stats
    from storage.site_stats import _whole_days_of
    from tests.analytics.test_site_stats import make_events

    frame = make_events()
    frame["session_id"] = None
    store.append(1, pa.Table.from_pandas(frame, schema=EVENT_SCHEMA, preserve_index=False))
    for day in store.days(1):
        store.compact(1, day, tmp_path / "tmp")
    store.append(1, events([]))  # nothing: no inbox file is left, every day is sealed
    period = site_stats.resolve_period("custom", "2024-03-04", "2024-03-07")
    first, last = period.previous_start.date().isoformat(), "2024-03-07"
    filters = site_stats.parse_filters(text)
    assert site_stats.summary_applies(report, filters)
    relation, sessions = store.relations(1, first, last, _whole_days_of(period))
    assert sessions is not None and relation != store.relation_sql(1, first, last)
    con = connect()
    try:
        function = getattr(site_stats, report)
        from_events = function(con, store.relation_sql(1, first, last), period, filters)
        from_summaries = function(con, relation, period, filters, summary_sql=sessions)
    finally:
        con.close()
    assert _close(from_summaries, from_events)
    if report == "overview" and not text:  # both periods have sessions
        assert from_events["visits"]["value"] > 0 and from_events["visits"]["previous"] > 0


def _close(a, b) -> bool:
    """Equal, floats to 1e-9 relative (sums in another order)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9)
    return a == b


def test_a_compacted_day_beside_a_fresh_one_reads_every_column_in_its_place(store, tmp_path):
    """A period over a compacted day and a day with inbox files: the fresh day's rows (its
    sessions computed when read) line up column by column with the compacted day's."""
    store.append(1, events([(0, 1, "/a"), (5, 1, "/b")]))
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    store.append(1, events([(60 * 24, 2, "/c"), (60 * 24 + 5, 2, "/d")]))  # the next day, not compacted
    con = connect()
    try:
        rows = con.execute(f"SELECT path, session_id, props, type FROM {store.relation_sql(1)} ORDER BY ts").fetchall()
    finally:
        con.close()
    assert [r[0] for r in rows] == ["/a", "/b", "/c", "/d"]
    assert all(isinstance(r[1], int) for r in rows) and rows[0][1] == rows[1][1] != rows[2][1] == rows[3][1]
    assert [r[2] for r in rows] == ["{}"] * 4 and [r[3] for r in rows] == ["pageview"] * 4


def test_a_covered_compacted_files_summary_stays_as_long_as_it_does(store, tmp_path):
    store.append(1, events([(0, 1, "/a")]))
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    [first_summary] = store.day_dir(1, "2026-11-20").glob("s-*.parquet")
    store.append(1, events([(1, 1, "/b")]))
    store.compact(1, "2026-11-20", tmp_path / "tmp")
    store.sweep_covered(1, "2026-11-20", grace=3600)  # a reader may have listed the first file and its summary
    assert first_summary.exists()
    store.sweep_covered(1, "2026-11-20", grace=0)
    assert not first_summary.exists() and len(list(store.day_dir(1, "2026-11-20").glob("s-*.parquet"))) == 1
