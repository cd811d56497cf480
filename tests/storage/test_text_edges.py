"""Text that SQLite takes and PostgreSQL refuses (found by running the fuzz test on
PostgreSQL): refused or absorbed the same way on both, never a driver error."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.errors import InvalidInput, NotFound, Unauthenticated


def test_nul_in_any_text_parameter_is_the_persons_input_error(storage):
    admin = storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
    with pytest.raises(InvalidInput, match="NUL"):
        storage.jobs.get(admin.principal(), "job\x00id")
    with pytest.raises(InvalidInput, match="NUL"):
        with storage.engine.connect() as conn:
            conn.execute(text("SELECT :name"), {"name": ["fine", "not\x00fine"]})
    with pytest.raises(NotFound):  # the same id without the NUL is just unknown
        storage.jobs.get(admin.principal(), "job-id")


def test_a_very_long_email_is_throttled_like_any_other(storage):
    storage.users.create_first_admin("ada@example.com", "correct horse battery", "Ada")
    long_email = "x" * 2000 + "@example.com"
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            storage.users.authenticate(long_email, "wrong")
    with storage.engine.connect() as conn:
        (key,) = [k for (k,) in conn.execute(text("SELECT key FROM login_throttle")) if k.startswith("email:")]
    assert key.startswith("email:sha256:") and len(key) < 100
