"""Shared state in Redis (issue 14, point 2; storage.redis_state, storage.rate_limits):
with DATAINSIGHT_REDIS_URL two processes (here two Storage objects on one data dir and one
database, as two web processes are) share the query result cache, compute a query once
between them, and count rate limits against the same keys. Needs a Redis server: run
under scripts/with-redis.sh."""
from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from storage import Storage
from storage.rate_limits import RedisRateLimitStorage, counter_storage
from storage.redis_state import RedisFlights, RedisResultCache, client
from tests.conftest import PASSWORD, bearer
from tests.storage.test_filtered_subsets import _same

REDIS_URL = os.environ.get("DATAINSIGHT_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="needs a Redis server: run under scripts/with-redis.sh (sets DATAINSIGHT_TEST_REDIS_URL)")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BAR = {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "sort": "-y", "limit": 3}
SECRET = "a-secret-shared-by-every-process-of-this-test"


@pytest.fixture
def pair(settings):
    """Two 'processes': two Storage objects with their own engines, pools and caches in
    memory, on one data dir, one database and one Redis."""
    first = Storage(settings.database_url, settings.data_dir, secret_key=SECRET, redis_url=REDIS_URL)
    first.migrate()
    second = Storage(settings.database_url, settings.data_dir, secret_key=SECRET, redis_url=REDIS_URL)
    first.queries.clear_cache()
    yield first, second
    first.dispose()
    second.dispose()


@pytest.fixture
def dataset(pair):
    first, _ = pair
    ada = first.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    workspace = first.workspaces.personal_workspace(ada).id
    return ada, first.datasets.create_from_file(ada, workspace, FIXTURES / "vgsales.csv", "vgsales.csv")


def test_a_result_computed_in_one_process_is_a_hit_in_the_other(pair, dataset):
    first, second = pair
    ada, vg = dataset
    computed = first.queries.run(ada, vg.id, BAR)
    assert computed["cached"] is False
    assert [row[0] for row in computed["rows"]] == ["Action", "Sports", "Shooter"]
    shared = second.queries.run(ada, vg.id, dict(BAR))
    assert shared["cached"] is True and shared["rows"] == computed["rows"]
    # Nothing of the result cache is on this machine's disk.
    assert not (first.data_dir / "cache" / "queries").exists()
    keys = client(REDIS_URL).keys("datainsight:result:*")
    assert len(keys) >= 1


def test_a_value_not_signed_with_the_shared_key_is_ignored(pair):
    conn = client(REDIS_URL)
    ours, theirs = RedisResultCache(conn, SECRET), RedisResultCache(conn, "another key")
    name = f"test-{uuid.uuid4().hex}"
    theirs.set(name, {"rows": [[1]]}, expire=60)
    assert ours.get(name) is None
    ours.set(name, {"rows": [[2]]}, expire=60)
    assert ours.get(name) == {"rows": [[2]]}
    assert 0 < conn.ttl("datainsight:result:" + name) <= 60
    conn.set("datainsight:result:" + name, b"x" * 40)  # forged bytes
    assert ours.get(name) is None


def test_a_flight_is_one_processes_and_only_its_owner_ends_it():
    conn = client(REDIS_URL)
    one, two = RedisFlights(conn), RedisFlights(conn)
    key = f"test-{uuid.uuid4().hex}"
    token = one.take(key, 5)
    assert token is not None and two.take(key, 5) is None
    two.release(key, "not-the-token")
    assert two.take(key, 5) is None and two.wait(key, 0.2) is False
    ended = threading.Timer(0.2, one.release, args=(key, token))
    ended.start()
    started = time.monotonic()
    assert two.wait(key, 5) is True and time.monotonic() - started < 2
    assert two.take(key, 5) is not None
    # A flight whose process died ends by itself.
    dead = f"test-{uuid.uuid4().hex}"
    assert one.take(dead, 0.2) is not None
    assert two.wait(dead, 3) is True


def test_a_query_running_in_another_process_is_waited_for_not_run_again(pair, dataset, monkeypatch):
    first, second = pair
    ada, vg = dataset
    runs_in_second, seen = [], {}
    original_run, original_once = second.queries._run_query, second.queries._run_once_everywhere

    def counted(key, ds, spec):
        runs_in_second.append(key)
        return original_run(key, ds, spec)

    def first_is_computing(key, ds, spec):
        """Just before the second process looks, the first takes the key's flight and
        computes for 0.3 s, then stores the result and ends its flight."""
        token = first.queries.flights.take(key, 10)
        assert token is not None
        seen["key"] = key

        def compute():
            time.sleep(0.3)
            first.queries._run_query(key, ds, spec)
            first.queries.flights.release(key, token)

        seen["thread"] = threading.Thread(target=compute)
        seen["thread"].start()
        return original_once(key, ds, spec)

    monkeypatch.setattr(second.queries, "_run_query", counted)
    monkeypatch.setattr(second.queries, "_run_once_everywhere", first_is_computing)
    started = time.monotonic()
    answer = second.queries.run(ada, vg.id, BAR)
    seen["thread"].join(10)
    assert answer["cached"] is True and [row[0] for row in answer["rows"]] == ["Action", "Sports", "Shooter"]
    assert runs_in_second == []  # the second process never scanned the table
    assert 0.25 < time.monotonic() - started < 5
    assert not client(REDIS_URL).exists("datainsight:flight:" + seen["key"])


def test_an_analysis_computing_in_another_process_is_waited_for(pair):
    """Analysis widgets compute in a background thread of the process a page asked; a poll
    that lands on the other process waits for that computation (QueryService._once_everywhere)."""
    first, second = pair
    key = f"r:test-{uuid.uuid4().hex}"
    token = first.queries.flights.take(key, 10)
    computed_here = []

    def first_finishes():
        time.sleep(0.3)
        first.queries._store(key, {"kind": "figure", "figure": {"data": [1]}})
        first.queries.flights.release(key, token)

    threading.Thread(target=first_finishes).start()
    answer = second.queries._once_everywhere(key, 5, lambda: computed_here.append(1) or {"kind": "again"})
    assert answer == {"kind": "figure", "figure": {"data": [1]}} and computed_here == []
    # A flight that ends with no result (the computation failed there): computed here.
    token = first.queries.flights.take(key + "x", 10)
    threading.Timer(0.2, first.queries.flights.release, args=(key + "x", token)).start()
    assert second.queries._once_everywhere(key + "x", 5, lambda: {"kind": "here"}) == {"kind": "here"}


def test_rate_limit_counters_are_shared_between_processes():
    key = f"token:{uuid.uuid4().hex}"
    rate = parse("3/minute")
    one = FixedWindowRateLimiter(counter_storage(None, REDIS_URL))
    two = FixedWindowRateLimiter(counter_storage(None, REDIS_URL))
    assert isinstance(one.storage, RedisRateLimitStorage)
    assert [one.hit(rate, key), two.hit(rate, key), one.hit(rate, key)] == [True, True, True]
    assert two.hit(rate, key) is False and one.hit(rate, key) is False
    stats = two.get_window_stats(rate, key)
    assert stats.remaining == 0 and 0 < stats.reset_time - one.storage.clock() <= 60
    assert client(REDIS_URL).keys(f"datainsight:limits:*{key}*")  # in Redis, under the app's prefix


def test_the_api_answers_429_from_counts_kept_in_redis(settings):
    from app import create_app

    redis_settings = dataclasses.replace(settings, rate_limit="3/minute", redis_url=REDIS_URL, secret_key=SECRET)
    apps = [create_app(redis_settings) for _ in range(2)]
    stores = [a.server.extensions["datainsight"]["storage"] for a in apps]
    try:
        admin = stores[0].users.create_first_admin("ada@example.com", PASSWORD, "Ada")
        token = stores[0].tokens.create(admin.principal(), "one")[1]
        clients = [a.server.test_client() for a in apps]
        answers = [clients[i % 2].get("/api/v1/datasets", headers=bearer(token)) for i in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
        assert answers[3].get_json()["error"]["code"] == "rate_limited"
        # Nothing was written to the database's counters.
        from sqlalchemy import func, select

        from storage.tables import rate_limits
        with stores[0].engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(rate_limits)).scalar_one() == 0
    finally:
        for store in stores:
            store.dispose()


def test_without_redis_the_cache_is_on_disk(storage):
    assert storage.redis_url is None and storage.queries.flights is None
    assert type(storage.queries.cache).__module__.startswith("diskcache")
    assert type(storage.signup._limiter.storage).__name__ == "DatabaseRateLimitStorage"


def _widgets(storage, principal, dataset, filters) -> dict:
    """The benchmark dashboard's widgets under ``filters``, each computed (no cached result)."""
    from bench.dashboard import WIDGETS
    out = {}
    for name, spec in WIDGETS:
        storage.queries.clear_cache()
        out[name] = storage.queries.run(principal, dataset.id, {**spec, "dataset_id": dataset.id}, filters)["rows"]
    return out


def test_a_filter_sets_rows_are_copied_by_one_process_and_loaded_by_the_other(pair, tmp_path, monkeypatch):
    """Two web processes each get half of a filter change's widgets. One copies the rows
    (storage.filtered_subsets) and shares the copy in the data dir; the other waits for
    it and loads it instead of reading the table again; answers equal the file's."""
    from bench.dashboard import generate
    first, second = pair
    ada = first.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    path = tmp_path / "transactions.parquet"
    generate(path, 60_000)
    table = first.datasets.create_from_file(ada, first.workspaces.personal_workspace(ada).id, path, "t.parquet")
    month = [{"column": "InvoiceDate", "op": "between", "value": ["2023-03-01", "2023-03-28"]},
             {"column": "Country", "op": "in", "value": ["France", "Germany"]}]
    first.queries.subsets.min_rows = second.queries.subsets.min_rows = 10**12
    expected = _widgets(first, ada, table, month)  # from the file
    first.queries.subsets.min_rows = second.queries.subsets.min_rows = 0
    copies = {"first": 0, "second": 0}
    for name, storage in (("first", first), ("second", second)):
        subsets = storage.queries.subsets
        original = subsets._copy

        def counted(*args, _name=name, _original=original):
            time.sleep(0.3)  # a slow copy: the other process's widgets arrive meanwhile
            copies[_name] += 1
            return _original(*args)

        monkeypatch.setattr(subsets, "_copy", counted)
    # Both processes have seen a filter set of this file asked by several widgets (a dashboard's).
    for storage in (first, second):
        for _ in range(2):
            _widgets(storage, ada, table, [{"column": "Channel", "op": "=", "value": "web"}])
    copies.update(first=0, second=0)
    specs = [{"type": "bar", "x": x, "y": "Quantity", "agg": agg, "dataset_id": table.id}
             for x in ("Channel", "Country") for agg in ("sum", "count")]  # four widgets of one dashboard
    with ThreadPoolExecutor(4) as pool:  # a filter change's widgets land on both processes at once
        answers = list(pool.map(lambda job: job[0].queries.run(ada, table.id, job[1], month),
                                zip([first, second, first, second], specs)))
    assert sorted(copies.values()) == [0, 1]  # one process copied; the other loaded its copy
    assert [a["cached"] for a in answers] == [False] * 4
    by_channel = dict(tuple(row) for row in answers[0]["rows"])
    assert sum(by_channel.values()) == sum(dict(tuple(r) for r in answers[2]["rows"]).values())
    assert len(first.queries.subsets.tables()) == 2 and len(second.queries.subsets.tables()) == 2
    shared_dir = first.data_dir / "cache" / "subsets" / Path(first.datasets.file_path(table)).stem
    assert len(list(shared_dir.glob("*.parquet"))) == 2  # the copies of both filter sets
    assert list(shared_dir.glob("*.tmp")) == []
    for name, rows in _widgets(second, ada, table, month).items():  # every widget type from the loaded copy
        if name != "table latest lines":  # ties in its timestamp come in any order
            assert _same(rows, expected[name]), name
    # Deleting the dataset removes its shared copies with its file.
    first.datasets.delete(ada, table.id)
    assert not shared_dir.exists()
