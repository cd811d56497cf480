"""API tokens of the two test users, for the HTTP tests (``bearer`` in tests/conftest.py
turns one into the Authorization header)."""
import pytest


@pytest.fixture
def ada(app_storage, admin):
    return app_storage.tokens.create(admin.principal(), "tests")[1]


@pytest.fixture
def bob(app_storage, second_user):
    return app_storage.tokens.create(second_user.principal(), "bob")[1]
