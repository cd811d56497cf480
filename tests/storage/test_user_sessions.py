from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.database import utcnow
from storage.errors import Forbidden
from storage.sessions import IDLE_LIMIT, TOUCH_INTERVAL
from storage.tables import user_sessions
from tests.conftest import PASSWORD


def seen(storage):
    with storage.engine.connect() as conn:
        return conn.execute(select(user_sessions.c.last_seen_at)).scalar_one()


def age(storage, by: timedelta):
    with storage.engine.begin() as conn:
        conn.execute(update(user_sessions).values(last_seen_at=utcnow() - by))


def test_a_session_lives_until_it_is_ended_or_idle(storage):
    ada = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    key = storage.sessions.start(ada.id, "Firefox", "203.0.113.5")
    assert storage.sessions.resolve(ada.id, ada.session_stamp, key).id == ada.id
    assert storage.sessions.resolve(ada.id, ada.session_stamp, key + "x") is None
    assert storage.sessions.resolve(ada.id, "other stamp", key) is None
    with storage.engine.connect() as conn:  # only the hash of the key is kept
        assert conn.execute(select(user_sessions.c.key_hash)).scalar_one() != key
    age(storage, IDLE_LIMIT + timedelta(minutes=1))
    assert storage.sessions.resolve(ada.id, ada.session_stamp, key) is None
    storage.sessions.sweep()
    assert storage.sessions.list_for(ada.principal()) == []


def test_last_seen_is_written_at_most_every_few_minutes(storage):
    ada = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    key = storage.sessions.start(ada.id)
    age(storage, TOUCH_INTERVAL - timedelta(seconds=30))
    before = seen(storage)
    storage.sessions.resolve(ada.id, ada.session_stamp, key)
    assert seen(storage) == before
    age(storage, TOUCH_INTERVAL + timedelta(seconds=30))
    before = seen(storage)
    storage.sessions.resolve(ada.id, ada.session_stamp, key)
    assert seen(storage) > before


def test_deactivating_ends_the_sessions_and_read_tokens_cannot(storage):
    ada = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    bob = storage.users.create_user(ada.principal(), "bob@example.com", PASSWORD, "Bob")
    key = storage.sessions.start(bob.id)
    reader = storage.tokens.resolve(storage.tokens.create(bob.principal(), "r", scope="read")[1])
    with pytest.raises(Forbidden, match="read-only"):
        storage.sessions.end_all(reader)
    assert [s.current for s in storage.sessions.list_for(bob.principal(), key)] == [True]
    storage.users.set_active(ada.principal(), bob.id, False)
    storage.users.set_active(ada.principal(), bob.id, True)
    bob = storage.users.get(bob.id)
    assert storage.sessions.resolve(bob.id, bob.session_stamp, key) is None
