from datetime import timedelta

import pytest
from sqlalchemy import update

from storage.database import utcnow
from storage.errors import Forbidden, InvalidInput, NotFound
from storage.tables import api_tokens
from tests.conftest import PASSWORD


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


def test_token_is_shown_once_and_stored_hashed(storage, ada):
    token, plaintext = storage.tokens.create(ada, "script")
    assert plaintext.startswith("dit_") and len(plaintext) > 40
    with storage.engine.connect() as conn:
        stored = conn.execute(api_tokens.select()).one()
    assert plaintext not in (stored.token_hash, stored.prefix) and plaintext.startswith(stored.prefix)
    principal = storage.tokens.resolve(plaintext)
    assert (principal.user_id, principal.via, principal.scope) == (ada.user_id, "token", "write")
    assert storage.tokens.list_for(ada)[0].last_used_at is not None


def test_revoked_expired_and_unknown_tokens_do_not_resolve(storage, ada):
    token, plaintext = storage.tokens.create(ada, "script", expires_in_days=1)
    other, other_plain = storage.tokens.create(ada, "other")
    storage.tokens.revoke(ada, token.id)
    assert storage.tokens.resolve(plaintext) is None
    assert storage.tokens.list_for(ada)[1].status == "revoked"
    with storage.engine.begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.id == other.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert storage.tokens.resolve(other_plain) is None
    assert storage.tokens.resolve("dit_made-up") is None
    assert storage.tokens.resolve("") is None


def test_tokens_belong_to_their_user(storage, ada):
    bob = storage.users.create_user(ada, "bob@example.com", PASSWORD).principal()
    token, _ = storage.tokens.create(ada, "script")
    with pytest.raises(NotFound):
        storage.tokens.revoke(bob, token.id)
    assert storage.tokens.list_for(bob) == []
    assert storage.tokens.list_for(ada)[0].status == "active"


def test_token_rules(storage, ada):
    with pytest.raises(InvalidInput, match="name"):
        storage.tokens.create(ada, "  ")
    with pytest.raises(InvalidInput, match="scope"):
        storage.tokens.create(ada, "x", scope="admin")
    with pytest.raises(InvalidInput, match="between 1 and 3650"):
        storage.tokens.create(ada, "x", expires_in_days=0)
    _, plaintext = storage.tokens.create(ada, "x")
    with pytest.raises(Forbidden, match="signed-in session"):
        storage.tokens.create(storage.tokens.resolve(plaintext), "minted by a token")


def test_deactivated_user_token_stops_working(storage, ada):
    bob = storage.users.create_user(ada, "bob@example.com", PASSWORD)
    _, plaintext = storage.tokens.create(bob.principal(), "bob's")
    assert storage.tokens.resolve(plaintext) is not None
    storage.users.set_active(ada, bob.id, False)
    assert storage.tokens.resolve(plaintext) is None
