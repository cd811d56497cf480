"""The PostgreSQL pool (storage.database): hot reads are one round trip (autocommit, no
BEGIN/ROLLBACK), writes keep their transactions, and a pooled connection the server
closed while it sat idle is replaced before use instead of failing a request (it is
pinged only after idling, not on every checkout). Needs a PostgreSQL server: run under
scripts/with-postgres.sh (sets DATAINSIGHT_TEST_DATABASE_URL)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert, select, text

from storage.database import PING_AFTER_IDLE_SECONDS, make_engine, read_only
from storage.tables import instance_state
from tests.conftest import PASSWORD, TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="needs PostgreSQL: run under scripts/with-postgres.sh")


def test_a_read_is_autocommit_and_a_write_keeps_its_transaction(storage):
    reads = read_only(storage.engine)
    one = make_engine(TEST_DATABASE_URL)  # a pool of one connection: the same one comes back
    with read_only(one).connect() as conn:
        lent = conn.connection.dbapi_connection
        assert lent.autocommit is True
        conn.execute(select(instance_state)).all()
        # Nothing left open: no transaction to roll back when the connection goes back.
        assert lent.info.transaction_status.name == "IDLE"
    with one.connect() as conn:  # the same connection, back as it was
        assert conn.connection.dbapi_connection is lent and lent.autocommit is False
    one.dispose()
    with pytest.raises(RuntimeError):
        with storage.engine.begin() as conn:
            conn.execute(insert(instance_state).values(key="pool-test", value="x"))
            raise RuntimeError("undo")
    with reads.connect() as conn:
        assert conn.execute(select(instance_state).where(instance_state.c.key == "pool-test")).first() is None


def test_the_hot_reads_of_a_signed_in_request_run_without_transactions(storage):
    ada = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    assert storage.users.reads is not storage.users.engine
    assert storage.users.reads.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
    for service in (storage.sessions, storage.datasets, storage.roles, storage.dashboards, storage.tokens):
        assert service.reads.get_execution_options()["isolation_level"] == "AUTOCOMMIT", service
    assert storage.users.get(ada.id).email == "ada@example.com"


def test_a_connection_closed_by_the_server_while_idle_is_replaced_before_use(storage):
    engine = make_engine(TEST_DATABASE_URL)  # a pool of one connection, the victim
    with engine.connect() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        record = conn.connection._connection_record
    # It sat idle long enough to be pinged, and the server ended it meanwhile.
    record.info["checked_in"] -= PING_AFTER_IDLE_SECONDS + 1
    other = create_engine(TEST_DATABASE_URL)  # not a connection of the pool under test
    with other.begin() as killer:
        assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim}).scalar() is True
    other.dispose()
    with read_only(engine).connect() as conn:  # no error: the pool opened another connection
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != victim
    engine.dispose()
