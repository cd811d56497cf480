"""Datasets copied from a connection (issue 16, point 2), on real PostgreSQL and MariaDB
servers: 200,000 rows of every common type arrive with every value equal and typed by the
database's types; incremental refreshes append only new rows; a failed refresh keeps the
previous version and says why; a due refresh runs exactly once with two schedulers racing;
a refresh whose owner lost access stops with a reason."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pyarrow.parquet as pq
import pytest

from storage import syncs
from storage.syncs import SyncService, _read_ahead
from tests.conftest import bearer

ROWS = 200_000


def workspace_of(app_storage, admin):
    return app_storage.workspaces.personal_workspace(admin.principal()).id


def wait_job(client, token, started, tries=1200):
    assert started.status_code == 202, started.get_json()
    url = started.get_json()["status_url"]
    for _ in range(tries):
        job = client.get(url, headers=bearer(token)).get_json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def connect(client, token, db, ws):
    made = client.post("/api/v1/connections", headers=bearer(token), json=db.payload(ws))
    assert made.status_code == 201, made.get_json()
    return made.get_json()["id"]


def sync(client, token, cid, **payload):
    return client.post(f"/api/v1/connections/{cid}/datasets", headers=bearer(token), json=payload)


def dataset_columns(app_storage, admin, dataset_id) -> tuple[dict, dict]:
    """({column: values} sorted by id, {column: logical type}) of the dataset's current version."""
    dataset = app_storage.datasets.get(admin.principal(), dataset_id)
    table = pq.read_table(app_storage.datasets.file_path(dataset)).sort_by("id")
    return table.to_pydict(), {c["name"]: c["type"] for c in dataset.schema}


PG_EVERY_TYPE = f"""
CREATE TABLE public.every_type AS SELECT
  i AS id,
  (i % 32000)::smallint AS small,
  i::bigint * 1000003 AS big,
  CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 1.25)::numeric(12, 2) END AS price,
  (i / 7.0)::float8 AS ratio,
  (i / 3.0)::real AS approx,
  'name ' || i AS label,
  CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
  DATE '2020-01-01' + i % 2000 AS day,
  TIMESTAMP '2020-01-01 00:00:00' + i * INTERVAL '37 seconds' AS at_local,
  TIMESTAMPTZ '2020-01-01 00:00:00+00' + i * INTERVAL '41 seconds' AS at_utc,
  jsonb_build_object('n', i, 's', 'x' || i) AS doc,
  CASE WHEN i % 3 = 0 THEN NULL ELSE 'v' || (i % 100) END AS maybe_text,
  (i % 5) * INTERVAL '1 day' AS span
FROM generate_series(1, {ROWS}) AS i
"""

MYSQL_EVERY_TYPE = (
    "CREATE TABLE every_type (id INT PRIMARY KEY, small SMALLINT, big BIGINT, price DECIMAL(12, 2), ratio DOUBLE, "
    "approx FLOAT, label VARCHAR(50), flag BOOLEAN, day DATE, at_local DATETIME, at_utc TIMESTAMP NULL, doc JSON, "
    "maybe_text TEXT, span TIME)",
    "SET time_zone = '+00:00'",
    f"INSERT INTO every_type SELECT seq, seq % 32000, seq * 1000003, IF(seq % 10 = 0, NULL, seq * 1.25), seq / 7, "
    "seq / 3, CONCAT('name ', seq), IF(seq % 5 = 0, NULL, seq % 2 = 0), DATE '2020-01-01' + INTERVAL (seq % 2000) DAY, "
    "TIMESTAMP '2020-01-01 00:00:00' + INTERVAL (seq * 37) SECOND, "
    "TIMESTAMP '2020-01-01 00:00:00' + INTERVAL (seq * 41) SECOND, JSON_OBJECT('n', seq), "
    f"IF(seq % 3 = 0, NULL, CONCAT('v', seq % 100)), SEC_TO_TIME(seq % 86400) FROM seq_1_to_{ROWS}",
)

EXPECTED_TYPES = {"id": "integer", "small": "integer", "big": "integer", "price": "float", "ratio": "float",
                  "approx": "float", "label": "text", "flag": "boolean", "day": "date", "at_local": "timestamp",
                  "at_utc": "timestamp", "doc": "text", "maybe_text": "text", "span": "text"}


def naive_utc(value):
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def same(ours, theirs, column):
    if theirs is None or ours is None:
        return ours is None and theirs is None
    if column in ("ratio", "price"):
        return abs(ours - float(theirs)) <= 1e-9 * max(1.0, abs(float(theirs)))
    if column == "approx":
        return abs(ours - float(theirs)) <= 1e-6 * max(1.0, abs(float(theirs)))
    if column == "flag":
        return bool(ours) == bool(theirs)
    if column in ("at_local", "at_utc"):
        return naive_utc(ours) == naive_utc(theirs)
    if column == "doc":
        import json

        return json.loads(ours) == json.loads(theirs)
    if column == "span" and isinstance(theirs, dt.timedelta):
        total = int(theirs.total_seconds())
        return ours == f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
    return ours == theirs


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_200000_rows_of_every_type_arrive_equal(client, ada, app_storage, admin, request, kind):
    db = request.getfixturevalue("pg_db" if kind == "postgresql" else "mysql_db")
    if kind == "postgresql":
        db.run(PG_EVERY_TYPE)
        source_sql = ("SELECT id, small, big, price, ratio, approx, label, flag, day, at_local, at_utc, doc::text, "
                      "maybe_text, span::text FROM every_type ORDER BY id")
    else:
        db.run(*MYSQL_EVERY_TYPE)
        source_sql = "SELECT * FROM every_type ORDER BY id"
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, db, ws)
    started = time.perf_counter()
    job = wait_job(client, ada, sync(client, ada, cid, name="Every type", table="every_type"))
    elapsed = time.perf_counter() - started
    assert job["status"] == "done", job
    result = job["result"]
    assert result["rows"] == ROWS and result["dataset"]["rows"] == ROWS
    assert any("span" in note and "text" in note for note in result["notes"])
    values, types = dataset_columns(app_storage, admin, result["dataset"]["id"])
    assert types == EXPECTED_TYPES
    if kind == "mysql":
        con = db.connect()
        with con.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(source_sql)
            source = list(cur.fetchall())
        con.close()
    else:
        source = db.rows(source_sql)
    names = list(EXPECTED_TYPES)
    assert len(source) == ROWS == len(values["id"])
    mismatches = []
    for index, column in enumerate(names):
        ours = values[column]
        for row_number, row in enumerate(source):
            if not same(ours[row_number], row[index], column):
                mismatches.append((column, row[0], ours[row_number], row[index]))
                break
    assert mismatches == []
    assert values["price"][9] is None and values["flag"][4] is None and values["maybe_text"][2] is None
    sync_info = client.get(f"/api/v1/datasets/{result['dataset']['id']}/sync", headers=bearer(ada)).get_json()
    assert sync_info["table"] == "every_type" and sync_info["last_status"] == "ok" and sync_info["last_rows"] == ROWS
    assert sync_info["connection"]["kind"] == kind and sync_info["refresh"] == "manual"
    print(f"{kind}: {ROWS:,} rows synced in {elapsed:.1f} s")


def test_the_import_route_still_copies_types_the_final_file_cannot_take(client, ada, app_storage, admin, pg_db,
                                                                        monkeypatch):
    """A type ingest.exact_arrow_cast does not vouch for sends the copy through the import
    (a raw file, inspected and written again), with the same result."""
    pg_db.run("CREATE TABLE t AS SELECT i AS id, (i * 1.5)::numeric(8, 2) AS price, 'n' || i AS label, "
              "TIMESTAMPTZ '2026-01-01 00:00+00' + i * INTERVAL '1 hour' AS at FROM generate_series(1, 1000) AS i")
    monkeypatch.setattr(syncs, "_final_plans", lambda columns: None)
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    job = wait_job(client, ada, sync(client, ada, cid, name="T", table="t"))
    assert job["status"] == "done", job
    values, types = dataset_columns(app_storage, admin, job["result"]["dataset"]["id"])
    assert types == {"id": "integer", "price": "float", "label": "text", "at": "timestamp"}
    assert values["id"] == list(range(1, 1001)) and values["price"][1] == 3.0 and values["label"][0] == "n1"
    assert values["at"][0] == dt.datetime(2026, 1, 1, 1, 0)


def test_read_ahead_hands_over_every_batch_then_the_source_error():
    def source():
        yield from range(5)
        raise ValueError("the server went away")

    seen = []
    with pytest.raises(ValueError, match="went away"):
        for item in _read_ahead(source(), depth=1):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_read_ahead_stopped_early_closes_the_source_in_its_own_thread():
    """A failed write or a cancelled job stops reading: the source generator is closed (its
    cursor with it) by the thread that read it, before the caller goes on."""
    closed_in = []

    def source():
        try:
            for item in range(1000):
                yield item
        finally:
            closed_in.append(threading.current_thread().name)

    from contextlib import closing

    with pytest.raises(RuntimeError):
        with closing(_read_ahead(source(), depth=2)) as batches:
            for item in batches:
                if item == 3:
                    raise RuntimeError("the disk is full")
    assert closed_in == ["sync-read-ahead"]
    assert not any(t.name == "sync-read-ahead" for t in threading.enumerate())


def test_incremental_refresh_appends_only_new_rows(client, ada, app_storage, admin, pg_db):
    pg_db.run("CREATE TABLE events (id serial PRIMARY KEY, at timestamptz NOT NULL, amount numeric(8, 2))",
              "INSERT INTO events (at, amount) SELECT TIMESTAMPTZ '2026-01-01 00:00+00' + i * INTERVAL '1 minute', i "
              "FROM generate_series(1, 1000) AS i")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    job = wait_job(client, ada, sync(client, ada, cid, name="Events", table="public.events", incremental_column="at",
                                     refresh={"every": 1, "unit": "hours"}))
    assert job["status"] == "done", job
    dataset_id = job["result"]["dataset"]["id"]
    info = client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(ada)).get_json()
    assert info["refresh"] == {"every": 1, "unit": "hours"} and info["refresh_text"] == "Every hour"
    assert info["next_refresh_at"] is not None and info["incremental_column"] == "at"
    pg_db.run("INSERT INTO events (at, amount) SELECT TIMESTAMPTZ '2026-02-01 00:00+00' + i * INTERVAL '1 minute', "
              "1000 + i FROM generate_series(1, 10) AS i")
    job = wait_job(client, ada, client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(ada)))
    assert job["status"] == "done", job
    assert job["result"]["rows"] == 10 and job["result"]["appended"] is True
    dataset = app_storage.datasets.get(admin.principal(), dataset_id)
    assert dataset.rows == 1010 and dataset.version == 2
    values, _ = dataset_columns(app_storage, admin, dataset_id)
    assert sorted(values["id"]) == list(range(1, 1011)) and max(values["amount"]) == 1010.0
    # nothing new: no new version
    job = wait_job(client, ada, client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(ada)))
    assert job["status"] == "done" and job["result"]["rows"] == 0
    assert app_storage.datasets.get(admin.principal(), dataset_id).version == 2
    # a full refresh copies everything again as a new version
    job = wait_job(client, ada, client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(ada),
                                            json={"full": True}))
    assert job["status"] == "done" and job["result"]["rows"] == 1010 and job["result"]["appended"] is False
    assert app_storage.datasets.get(admin.principal(), dataset_id).version == 3


def test_mysql_incremental_by_id(client, ada, app_storage, admin, mysql_db):
    mysql_db.run("CREATE TABLE payments (id INT AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(8,2))",
                 "INSERT INTO payments (amount) VALUES (1.5), (2.5), (3.5)")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, mysql_db, ws)
    job = wait_job(client, ada, sync(client, ada, cid, name="Payments", table="payments", incremental_column="id"))
    dataset_id = job["result"]["dataset"]["id"]
    mysql_db.run("INSERT INTO payments (amount) VALUES (4.5), (5.5)")
    job = wait_job(client, ada, client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(ada)))
    assert job["status"] == "done" and job["result"]["rows"] == 2
    values, _ = dataset_columns(app_storage, admin, dataset_id)
    assert values["amount"] == [1.5, 2.5, 3.5, 4.5, 5.5]


def test_a_failed_refresh_keeps_the_previous_version_and_says_why(client, ada, app_storage, admin, pg_db):
    pg_db.run("CREATE TABLE t (id int, name text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    job = wait_job(client, ada, sync(client, ada, cid, name="T", table="t"))
    dataset_id = job["result"]["dataset"]["id"]
    pg_db.run("DROP TABLE t")
    job = wait_job(client, ada, client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(ada)))
    assert job["status"] == "failed" and '"t" does not exist' in job["message"], job
    info = client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(ada)).get_json()
    assert info["last_status"] == "failed" and '"t" does not exist' in info["last_error"] and not info["running"]
    dataset = app_storage.datasets.get(admin.principal(), dataset_id)
    assert dataset.version == 1 and dataset.rows == 2
    files = list((app_storage.data_dir / "datasets").glob("*.parquet"))
    assert len(files) == 1  # nothing half made is left
    assert list(app_storage.datasets.tmp_dir.glob("sync-*")) == []


@pytest.mark.parametrize("payload, words", [
    ({"name": "x", "table": "t", "sql": "SELECT 1"}, "not both"),
    ({"name": "x"}, "Say what to copy"),
    ({"name": "x", "table": "t", "mode": "stream"}, "'sync' or 'live'"),
    ({"name": "x", "sql": "DELETE FROM t"}, "Only SELECT"),
    ({"name": "x", "table": "t", "refresh": {"every": 1, "unit": "minutes"}}, "at least 5"),
    ({"name": "x", "table": "t", "refresh": {"daily": "25:00"}}, "24-hour"),
    ({"name": "x", "table": "t", "refresh": {"daily": "06:00", "timezone": "Mars/Base"}}, "time zone"),
    ({"name": "", "table": "t"}, "name"),
])
def test_bad_sync_requests_are_named(client, ada, app_storage, admin, pg_db, payload, words):
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    answer = sync(client, ada, cid, **payload)
    assert answer.status_code == 400, answer.get_json()
    assert words.lower() in answer.get_json()["error"]["message"].lower(), answer.get_json()


@pytest.mark.parametrize("payload, words", [
    ({"name": "x", "table": "missing"}, '"missing" does not exist'),
    ({"name": "x", "table": "t", "incremental_column": "nope"}, "no column 'nope'"),
    ({"name": "x", "table": "t", "incremental_column": "name"}, "cannot tell new rows"),
    ({"name": "x", "sql": "SELECT id, id FROM t"}, "Two columns are named"),
    ({"name": "x", "sql": "SELECT * FROM t WHERE false"}, "no rows"),
])
def test_a_sync_that_fails_leaves_no_dataset(client, ada, app_storage, admin, pg_db, payload, words):
    pg_db.run("CREATE TABLE t (id int, name text)", "INSERT INTO t VALUES (1, 'a')")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    job = wait_job(client, ada, sync(client, ada, cid, **payload))
    assert job["status"] == "failed" and words in job["message"], job
    assert app_storage.datasets.list(admin.principal(), ws) == []


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_a_due_refresh_runs_once_with_two_schedulers_racing(client, ada, app_storage, admin, pg_db):
    pg_db.run("CREATE TABLE t (id int)", "INSERT INTO t SELECT generate_series(1, 100)")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    job = wait_job(client, ada, sync(client, ada, cid, name="T", table="t", refresh={"every": 30, "unit": "minutes"}))
    dataset_id = job["result"]["dataset"]["id"]
    pg_db.run("INSERT INTO t SELECT generate_series(101, 150)")
    later = Clock(dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31))
    s = app_storage
    racers = [SyncService(s.engine, s.workspaces, s.datasets, s.connections, s.jobs, s.users, clock=later)
              for _ in range(2)]
    started: list[list[int]] = []
    barrier = threading.Barrier(2)

    def tick(service):
        barrier.wait()
        started.append(service.tick())

    threads = [threading.Thread(target=tick, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(x) for x in started) == [0, 1]
    for _ in range(300):
        info = client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(ada)).get_json()
        if not info["running"] and info["last_rows"] == 150:
            break
        time.sleep(0.1)
    assert info["last_status"] == "ok" and info["last_rows"] == 150
    assert app_storage.datasets.get(admin.principal(), dataset_id).version == 2
    assert dt.datetime.fromisoformat(info["next_refresh_at"]) >= later.now + dt.timedelta(minutes=29)
    assert racers[0].tick() == [] and racers[1].tick() == []  # not due again yet


def test_a_refresh_whose_owner_lost_access_stops(client, ada, bob, app_storage, admin, second_user, pg_db):
    pg_db.run("CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)")
    ws = workspace_of(app_storage, admin)
    client.post(f"/api/v1/workspaces/{ws}/members", json={"email": "bob@example.com", "role": "editor"},
                headers=bearer(ada))
    cid = connect(client, ada, pg_db, ws)
    job = wait_job(client, bob, sync(client, bob, cid, name="T", table="t", refresh="hourly"))
    assert job["status"] == "done", job
    dataset_id = job["result"]["dataset"]["id"]
    client.delete(f"/api/v1/workspaces/{ws}/members/{second_user.id}", headers=bearer(ada))
    s = app_storage
    later = Clock(dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))
    service = SyncService(s.engine, s.workspaces, s.datasets, s.connections, s.jobs, s.users, clock=later)
    assert service.tick() == []
    info = client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(ada)).get_json()
    assert info["last_status"] == "failed" and "bob@example.com no longer has edit access" in info["last_error"]
    assert info["next_refresh_at"] is None
    # an editor saving the refresh setting takes it over
    changed = client.patch(f"/api/v1/datasets/{dataset_id}/sync", json={"refresh": "hourly"}, headers=bearer(ada))
    assert changed.status_code == 200 and changed.get_json()["next_refresh_at"] is not None


def test_a_viewer_sees_the_source_but_cannot_refresh(client, ada, bob, app_storage, admin, pg_db):
    pg_db.run("CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    dataset_id = wait_job(client, ada, sync(client, ada, cid, name="T", table="t"))["result"]["dataset"]["id"]
    assert client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(bob)).status_code == 404
    assert client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(bob)).status_code == 404
    client.post(f"/api/v1/workspaces/{ws}/members", json={"email": "bob@example.com", "role": "viewer"},
                headers=bearer(ada))
    seen = client.get(f"/api/v1/datasets/{dataset_id}/sync", headers=bearer(bob))
    assert seen.status_code == 200 and seen.get_json()["connection"]["name"] == "shop db"
    assert client.post(f"/api/v1/datasets/{dataset_id}/refresh", headers=bearer(bob)).status_code == 403
    assert client.patch(f"/api/v1/datasets/{dataset_id}/sync", json={"refresh": "hourly"},
                        headers=bearer(bob)).status_code == 403


def test_a_first_copy_delivered_again_never_leaves_two_datasets(client, ada, app_storage, admin, pg_db):
    """The first copy is the named job "sync_create" (it runs on Celery workers too). A run
    delivered again after its worker died between committing the dataset and its sync row
    deletes that half-made dataset and copies again; one delivered again after everything
    was committed answers the dataset it made."""
    from sqlalchemy import delete, select, update

    from storage.jobs import Reporter
    from storage.tables import dataset_syncs, jobs

    pg_db.run("CREATE TABLE t (id int, name text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    ws = workspace_of(app_storage, admin)
    cid = connect(client, ada, pg_db, ws)
    started = sync(client, ada, cid, name="Copy", table="public.t")
    job = wait_job(client, ada, started)
    assert job["status"] == "done", job
    first = job["result"]["dataset"]["id"]
    job_id = started.get_json()["job_id"]
    principal = admin.principal()
    row = app_storage.jobs._row(job_id)
    params = {"connection_id": cid, "values": app_storage.syncs._clean(
        {"name": "Copy", "table": "public.t"}, "postgresql")}
    assert row.kind == "sync"

    def as_a_worker_left_it():
        with app_storage.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(status="running", result_json=None))
        reporter = Reporter(app_storage.engine, job_id)
        reporter.checkpoint({"dataset_id": first})
        return reporter

    # Everything was committed; only "done" was lost: the same dataset, nothing copied.
    again = app_storage.syncs.create_job(principal, params, as_a_worker_left_it())
    assert again["dataset"]["id"] == first and again["rows"] == 2
    assert [d.id for d in app_storage.datasets.list(principal, ws)] == [first]

    # The dataset was committed without its sync row: it is deleted, and copied again once.
    with app_storage.engine.begin() as conn:
        conn.execute(delete(dataset_syncs).where(dataset_syncs.c.dataset_id == first))
    again = app_storage.syncs.create_job(principal, params, as_a_worker_left_it())
    datasets = app_storage.datasets.list(principal, ws)
    # One dataset, with its sync row made again (SQLite may give the new dataset the old id).
    assert [d.id for d in datasets] == [again["dataset"]["id"]]
    with app_storage.engine.connect() as conn:
        assert conn.execute(select(dataset_syncs.c.dataset_id)).scalars().all() == [again["dataset"]["id"]]
    assert again["rows"] == 2
