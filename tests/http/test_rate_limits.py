"""Rate limits (issue 15, point 3): per token or person on the API, per address for what
strangers reach, counted in the database (so every worker process agrees), 429 with
Retry-After and the JSON error shape."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from settings import Settings, SettingsError
from storage.rate_limits import DatabaseRateLimitStorage
from tests.conftest import bearer, login_body, sign_in


@pytest.fixture
def limited(settings):
    """An app with small limits: 5 API calls a minute per token or person, 4 a minute per
    address for strangers."""
    from app import create_app

    app = create_app(dataclasses.replace(settings, rate_limit="5/minute", anonymous_rate_limit="4/minute"))
    storage = app.server.extensions["datainsight"]["storage"]
    admin = storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
    yield app, storage, admin
    storage.dispose()


def test_a_token_gets_its_limit_then_429_with_retry_after(limited):
    app, storage, admin = limited
    client = app.server.test_client()
    first, second = (storage.tokens.create(admin.principal(), name)[1] for name in ("one", "two"))
    answers = [client.get("/api/v1/datasets", headers=bearer(first)).status_code for _ in range(7)]
    assert answers == [200] * 5 + [429] * 2
    refused = client.get("/api/v1/datasets", headers=bearer(first))
    body = refused.get_json()["error"]
    assert body["code"] == "rate_limited" and "at most 5 a minute" in body["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another token of the same person has its own count; health and metrics are never counted.
    assert client.get("/api/v1/datasets", headers=bearer(second)).status_code == 200
    assert all(client.get("/api/health").status_code == 200 for _ in range(10))


def test_a_signed_in_person_counts_api_calls_not_pages_or_callbacks(limited):
    app, _storage, _admin = limited
    browser = app.server.test_client()
    sign_in(browser, "ada@example.com")
    for _ in range(8):
        assert browser.get("/datasets").status_code == 200  # pages are not counted
    assert [browser.get("/api/v1/datasets").status_code for _ in range(6)] == [200] * 5 + [429]


def test_strangers_are_counted_by_address(limited):
    app, _storage, _admin = limited
    client = app.server.test_client()
    tries = [client.post("/_dash-update-component", json=login_body("ada@example.com", "wrong")).status_code
             for _ in range(5)]
    assert tries[:4] == [200] * 4 and tries[4] == 429
    # Another address is not affected.
    other = app.server.test_client()
    answer = other.post("/_dash-update-component", json=login_body("ada@example.com", "wrong"),
                        environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert answer.status_code == 200


def test_the_count_is_shared_and_exact_under_concurrency(storage):
    """Eight threads hitting one key: the database counts every hit once (the same as
    several worker processes would)."""
    counter = DatabaseRateLimitStorage(storage.engine)
    results, barrier = [], threading.Barrier(8)

    def hit():
        barrier.wait()
        for _ in range(25):
            results.append(counter.incr("k", 60))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == list(range(1, 201))
    assert counter.get("k") == 200


def test_a_window_ends_and_starts_again(storage):
    now = [1000.0]
    counter = DatabaseRateLimitStorage(storage.engine, clock=lambda: now[0])
    assert [counter.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert counter.get_expiry("k") == 1060.0
    now[0] = 1061.0
    assert counter.get("k") == 0 and counter.incr("k", 60) == 1 and counter.get_expiry("k") == 1121.0
    counter.clear("k")
    assert counter.get("k") == 0 and counter.check()


def test_the_settings_take_rates_or_off():
    env = {"DATAINSIGHT_DATA_DIR": "/tmp/x"}
    defaults = Settings.from_env(env)
    assert (defaults.rate_limit, defaults.anonymous_rate_limit) == ("600/minute", "300/minute")
    off = Settings.from_env({**env, "DATAINSIGHT_RATE_LIMIT": "off", "DATAINSIGHT_ANONYMOUS_RATE_LIMIT": "10/second"})
    assert (off.rate_limit, off.anonymous_rate_limit) == (None, "10/second")
    with pytest.raises(SettingsError, match="RATE_LIMIT"):
        Settings.from_env({**env, "DATAINSIGHT_RATE_LIMIT": "lots"})


def test_the_default_limit_refuses_the_601st_call_of_a_minute(settings):
    """With the shipped default (600/minute): call 601 of one token is a 429; another
    token of the same person still gets through."""
    from app import create_app

    app = create_app(dataclasses.replace(settings, rate_limit=Settings.rate_limit))
    storage = app.server.extensions["datainsight"]["storage"]
    try:
        admin = storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
        first, second = (storage.tokens.create(admin.principal(), name)[1] for name in ("one", "two"))
        client = app.server.test_client()
        statuses = [client.get("/api/v1/me", headers=bearer(first)).status_code for _ in range(601)]
        assert statuses[:600] == [200] * 600 and statuses[600] == 429
        assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    finally:
        storage.dispose()


def test_buffered_counts_are_shared_once_a_second_and_kept_when_the_database_fails(storage):
    """Collection's counters (api.collect): each process counts at once and adds its hits
    to the database a round at a time; the others see them after their next round, and
    hits that could not be added are added at the next one."""
    from sqlalchemy.exc import OperationalError

    from storage.rate_limits import BufferedRateLimitStorage

    now = [1000.0]
    first = BufferedRateLimitStorage(DatabaseRateLimitStorage(storage.engine, clock=lambda: now[0]),
                                     flush_seconds=3600, clock=lambda: now[0])
    second = BufferedRateLimitStorage(DatabaseRateLimitStorage(storage.engine, clock=lambda: now[0]),
                                      flush_seconds=3600, clock=lambda: now[0])
    assert [first.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert second.incr("k", 60, amount=2) == 2  # not seen yet
    first.flush()
    second.flush()
    assert second.get("k") == 5 and second.incr("k", 60) == 6
    assert first.incr("k", 60) == 4  # what it saw last, and its own new hit
    first.flush()
    assert first.get("k") == 6  # its own 4 and the other's 2 (the other's newest is not added yet)
    real = first.shared.incr_many
    first.shared.incr_many = lambda items: (_ for _ in ()).throw(OperationalError("x", {}, Exception("down")))
    assert first.incr("k", 60, amount=10) == 16
    with pytest.raises(OperationalError):
        first.flush()
    first.shared.incr_many = real
    first.flush()
    second.flush()
    assert DatabaseRateLimitStorage(storage.engine, clock=lambda: now[0]).get("k") == 17
    now[0] = 1061.0  # the window ended: counted from 0 again
    assert first.get("k") == 0 and first.incr("k", 60) == 1 and first.get_expiry("k") == 1121.0


def test_buffered_counts_keep_a_bounded_number_of_keys(storage, monkeypatch):
    """More addresses at once than the bound: the oldest tenth is forgotten, a hit stays cheap."""
    from storage import rate_limits

    monkeypatch.setattr(rate_limits, "MAX_BUFFERED_KEYS", 100)
    counter = rate_limits.BufferedRateLimitStorage(DatabaseRateLimitStorage(storage.engine), flush_seconds=3600)
    for n in range(1000):
        assert counter.incr(f"ip:{n}", 60) == 1
    assert len(counter._counts) <= 100 and counter.get("ip:999") == 1 and counter.get("ip:0") == 0
