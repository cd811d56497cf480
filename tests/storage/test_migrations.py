"""A data dir made by an older version upgrades on start without loss."""
from datetime import datetime, timezone

from sqlalchemy import inspect, text

from storage import Storage
from storage.database import current_revision, head_revision, make_engine, migrate
from storage.tables import metadata
from tests.conftest import PASSWORD


def test_first_migration_upgrades_with_data_kept(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, "0001")
    assert current_revision(engine) == "0001"
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    with engine.begin() as conn:  # what version 0001 of the app wrote
        conn.execute(text(
            "INSERT INTO users (id, email, name, password_hash, is_admin, is_active, session_stamp, created_at) "
            "VALUES (1, 'old@example.com', 'Old', :h, 1, 1, 'stamp', :t)"), {"h": "x", "t": now})
        conn.execute(text("INSERT INTO workspaces (id, name, is_personal, created_by, created_at) VALUES (1, 'Old ws', 1, 1, :t)"), {"t": now})
        conn.execute(text("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (1, 1, 'owner', :t)"), {"t": now})
    engine.dispose()

    storage = Storage(url, tmp_path)  # what a new version does on start
    storage.migrate()
    assert current_revision(storage.engine) == head_revision() == "0015"
    old = storage.users.get_by_email("old@example.com")
    assert (old.id, old.name, old.is_admin) == (1, "Old", True)
    assert [w.name for w in storage.workspaces.list_for(old.principal())] == ["Old ws"]
    # A server that already had users must not show the setup page after the upgrade.
    assert not storage.users.needs_setup()
    storage.migrate()  # a second start is a no-op
    assert current_revision(storage.engine) == "0015"


def test_empty_old_store_still_offers_setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, "0001")
    migrate(engine)
    storage = Storage(url, tmp_path)
    assert storage.users.needs_setup()
    storage.users.create_first_admin("ada@example.com", PASSWORD)


def test_migrations_build_exactly_the_tables_the_code_describes(storage):
    inspector = inspect(storage.engine)
    actual = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names() if t != "alembic_version"}
    expected = {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}
    assert actual == expected
