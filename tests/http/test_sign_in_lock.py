"""The sign-in lock, from the outside: the client's address is read from X-Forwarded-For
only when the peer is a trusted proxy, and an attacker's failures on an account do not lock
its owner out of a device they signed in from before."""
import json

import pytest

from storage.throttle import MAX_FAILURES
from tests.conftest import PASSWORD, login_body

DEVICE_COOKIE = "datainsight_device"
PROXY = "10.0.0.2"


def attempt(client, email: str, password: str, forwarded_for: str | None = None, peer: str = "127.0.0.1"):
    """One sign-in through the login callback; returns (status, what the page shows)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    client.environ_base["REMOTE_ADDR"] = peer
    response = client.post("/_dash-update-component", json=login_body(email, password), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()["response"]
    if out.get("public-login-redirect", {}).get("href") == "/":
        return "signed in", ""
    return "refused", json.dumps(out["public-login-feedback"]["children"])


@pytest.fixture
def proxied_app(settings, sleeps):
    """The app behind a reverse proxy at 10.0.0.0/8."""
    from app import create_app

    dash_app = create_app(settings.with_overrides(trusted_proxies=("10.0.0.0/8",)))
    dash_app.server.config["TESTING"] = True
    store = dash_app.server.extensions["datainsight"]["storage"]
    store.users.sleep = sleeps.append
    store.users.create_first_admin("ada@example.com", PASSWORD, "Ada Admin")
    yield dash_app
    store.dispose()


def spray(client, count: int, forwarded_for: str | None, peer: str):
    """``count`` failures on as many made-up accounts (so only the address key grows)."""
    for i in range(count):
        assert attempt(client, f"nobody{i}@example.com", "wrong password!", forwarded_for, peer)[0] == "refused"


def test_behind_a_trusted_proxy_one_address_does_not_lock_another(proxied_app):
    client = proxied_app.server.test_client()
    spray(client, MAX_FAILURES["ip"], "198.51.100.7, 203.0.113.5", PROXY)
    status, shown = attempt(client, "ada@example.com", PASSWORD, "203.0.113.5", PROXY)
    assert status == "refused" and "Try again in" in shown  # the sprayer is locked out
    # Everyone else behind the same proxy signs in.
    assert attempt(proxied_app.server.test_client(), "ada@example.com", PASSWORD, "203.0.113.9", PROXY)[0] == "signed in"
    # A client cannot dodge its lock by prepending addresses: the proxy appends the real one.
    status, _ = attempt(proxied_app.server.test_client(), "ada@example.com", PASSWORD,
                        "192.0.2.44, 203.0.113.5", PROXY)
    assert status == "refused"


def test_from_an_untrusted_peer_forwarded_for_is_ignored(proxied_app):
    client = proxied_app.server.test_client()
    for i in range(MAX_FAILURES["ip"]):  # a new made-up address on every try
        assert attempt(client, f"nobody{i}@example.com", "wrong password!", f"203.0.113.{i}", "192.0.2.1")[0] == "refused"
    status, shown = attempt(proxied_app.server.test_client(), "ada@example.com", PASSWORD, "203.0.113.200", "192.0.2.1")
    assert status == "refused" and "Try again in" in shown


def test_the_owner_signs_in_from_a_known_device_while_the_account_is_attacked(client, make_client, admin, sleeps):
    assert attempt(client, "ada@example.com", PASSWORD)[0] == "signed in"
    device = client.get_cookie(DEVICE_COOKIE)
    assert device is not None and device.http_only and device.expires is not None
    owner = make_client()
    owner.set_cookie(DEVICE_COOKIE, device.value)

    attacker = make_client()
    for _ in range(MAX_FAILURES["email"]):
        assert attempt(attacker, "ada@example.com", "guess guess guess", peer="192.0.2.66")[0] == "refused"
    status, shown = attempt(attacker, "ada@example.com", PASSWORD, peer="192.0.2.66")
    assert status == "refused" and "Try again in 15 minutes" in shown

    sleeps.clear()
    assert attempt(owner, "ada@example.com", PASSWORD, peer="198.51.100.1")[0] == "signed in"
    assert sleeps == []  # the attacker's failures did not slow the owner down
    # Without the device cookie the owner is told how long to wait.
    status, shown = attempt(make_client(), "ada@example.com", PASSWORD, peer="198.51.100.1")
    assert status == "refused" and "Try again in 15 minutes" in shown


def test_a_device_cookie_passes_only_its_own_account_and_only_when_signed(client, make_client, admin, second_user):
    assert attempt(client, "bob@example.com", PASSWORD)[0] == "signed in"
    bobs_device = client.get_cookie(DEVICE_COOKIE).value
    attacker = make_client()
    for _ in range(MAX_FAILURES["email"]):
        attempt(attacker, "ada@example.com", "guess guess guess", peer="192.0.2.66")
    for value in (bobs_device, bobs_device.replace(str(second_user.id) + ".", str(admin.id) + ".", 1), "1.2.3", ""):
        browser = make_client()
        browser.set_cookie(DEVICE_COOKIE, value)
        status, shown = attempt(browser, "ada@example.com", PASSWORD, peer="198.51.100.1")
        assert status == "refused" and "Try again in" in shown, value


def test_a_known_device_has_its_own_failure_count(client, make_client, admin):
    assert attempt(client, "ada@example.com", PASSWORD)[0] == "signed in"
    stolen = make_client()
    stolen.set_cookie(DEVICE_COOKIE, client.get_cookie(DEVICE_COOKIE).value)
    for _ in range(MAX_FAILURES["device"]):
        assert attempt(stolen, "ada@example.com", "guess guess guess", peer="192.0.2.66")[0] == "refused"
    status, shown = attempt(stolen, "ada@example.com", PASSWORD, peer="192.0.2.66")
    assert status == "refused" and "Try again in" in shown
