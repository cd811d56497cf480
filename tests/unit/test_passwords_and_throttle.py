import pytest

from storage.errors import InvalidInput
from storage.passwords import check_password_rules, hash_password, verify_password
from storage.throttle import MAX_DELAY_SECONDS, delay_for


def test_hash_is_scrypt_and_verifies():
    hashed = hash_password("a long enough password")
    assert hashed.startswith("scrypt:")
    assert verify_password(hashed, "a long enough password")
    assert not verify_password(hashed, "a long enough passworD")
    assert not verify_password(hashed, "")


@pytest.mark.parametrize(
    "password,email,message",
    [("short", "", "at least 10"), (" " * 12, "", "only spaces"), ("me@example.com", "me@example.com", "same as the email"),
     ("x" * 2000, "", "at most 1024")],
)
def test_password_rules(password, email, message):
    with pytest.raises(InvalidInput, match=message):
        check_password_rules(password, email)


def test_delay_grows_then_caps():
    delays = [delay_for(n) for n in range(0, 8)]
    assert delays[0] == 0
    assert delays[1:4] == [0.25, 0.5, 1.0]
    assert delays == sorted(delays)
    assert max(delays) == MAX_DELAY_SECONDS

