"""Sign-in sessions end on the server: a cookie captured before sign-out (the session
cookie or the 30-day remember-me cookie) is worth nothing after it, "sign out everywhere"
ends every session of the account, and guessing the current password is throttled."""
from storage.throttle import MAX_FAILURES
from tests.conftest import PASSWORD, post_callback, sign_in

SESSION_COOKIE = "datainsight_session"
REMEMBER_COOKIE = "datainsight_remember"
ORIGIN = {"Origin": "http://localhost"}


def sign_in_remembered(client, email: str):
    return sign_in(client, email, remember=True)


def sign_out(client):
    return post_callback(client, [("nav-redirect", "href")], [("nav-signout", "n_clicks", 1)],
                         changed=["nav-signout.n_clicks"])


def replay(make_client, name: str, value: str):
    """A fresh browser that only has the captured cookie."""
    other = make_client()
    other.set_cookie(name, value)
    return other.get("/api/v1/me")


def test_cookies_captured_before_sign_out_do_not_work_after_it(client, make_client, admin):
    response = sign_in_remembered(client, "ada@example.com")
    assert response.status_code == 200 and response.get_json()["response"]["public-login-redirect"]["href"] == "/"
    session = client.get_cookie(SESSION_COOKIE).value
    remember = client.get_cookie(REMEMBER_COOKIE).value
    # Before sign-out each cookie alone is a session.
    assert replay(make_client, SESSION_COOKIE, session).status_code == 200
    assert replay(make_client, REMEMBER_COOKIE, remember).status_code == 200

    response = sign_out(client)
    assert response.get_json()["response"]["nav-redirect"]["href"] == "/login"
    assert client.get("/api/v1/me").status_code == 401

    assert replay(make_client, SESSION_COOKIE, session).status_code == 401
    assert replay(make_client, REMEMBER_COOKIE, remember).status_code == 401
    # The pages send the replayed cookie to sign in as well.
    page = make_client()
    page.set_cookie(REMEMBER_COOKIE, remember)
    assert page.get("/datasets").headers["Location"] == "/login?next=%2Fdatasets"


def test_sign_out_ends_only_that_session(client, make_client, admin):
    other = make_client()
    sign_in_remembered(client, "ada@example.com")
    sign_in_remembered(other, "ada@example.com")
    sign_out(client)
    assert client.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 200


def test_sign_out_everywhere_ends_every_session_of_the_account(client, make_client, admin, second_user):
    laptop, phone, bobs = make_client(), make_client(), make_client()
    for browser in (client, laptop, phone):
        sign_in_remembered(browser, "ada@example.com")
    sign_in_remembered(bobs, "bob@example.com")
    phone_remember = phone.get_cookie(REMEMBER_COOKIE).value

    listed = laptop.get("/api/v1/me/sessions").get_json()["sessions"]
    assert len(listed) == 3 and sum(s["current"] for s in listed) == 1

    response = laptop.post("/api/v1/me/sessions/revoke", headers=ORIGIN)
    assert response.status_code == 200 and response.get_json()["ended"] == 3
    for browser in (client, laptop, phone):
        assert browser.get("/api/v1/me").status_code == 401
    assert replay(make_client, REMEMBER_COOKIE, phone_remember).status_code == 401
    assert bobs.get("/api/v1/me").status_code == 200  # another account is untouched


def test_sign_out_everywhere_from_the_settings_page(client, make_client, admin):
    other = make_client()
    sign_in_remembered(client, "ada@example.com")
    sign_in_remembered(other, "ada@example.com")
    response = post_callback(client, [("sessions-redirect", "href")], [("sessions-revoke-all", "n_clicks", 1)],
                             changed=["sessions-revoke-all.n_clicks"])
    assert response.status_code == 200 and response.get_json()["response"]["sessions-redirect"]["href"] == "/login"
    assert other.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_a_token_can_end_the_sessions_but_not_list_itself_as_one(client, app_storage, admin):
    sign_in_remembered(client, "ada@example.com")
    token = app_storage.tokens.create(admin.principal(), "script", scope="write")[1]
    read = app_storage.tokens.create(admin.principal(), "reader", scope="read")[1]
    refused = client.application.test_client().post(
        "/api/v1/me/sessions/revoke", headers={"Authorization": f"Bearer {read}"})
    assert refused.status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    ended = client.application.test_client().post(
        "/api/v1/me/sessions/revoke", headers={"Authorization": f"Bearer {token}"})
    assert ended.status_code == 200 and ended.get_json()["ended"] == 1
    assert client.get("/api/v1/me").status_code == 401


def test_password_change_ends_the_other_sessions_and_keeps_this_one(client, make_client, admin):
    other = make_client()
    sign_in_remembered(client, "ada@example.com")
    sign_in_remembered(other, "ada@example.com")
    other_remember = other.get_cookie(REMEMBER_COOKIE).value
    response = client.post("/api/v1/me/password", headers=ORIGIN,
                           json={"current_password": PASSWORD, "new_password": "another long password"})
    assert response.status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    assert other.get("/api/v1/me").status_code == 401
    assert replay(make_client, REMEMBER_COOKIE, other_remember).status_code == 401


def test_guessing_the_current_password_is_throttled(client, admin, sleeps):
    sign_in_remembered(client, "ada@example.com")
    wrong = {"current_password": "not my password", "new_password": "another long password"}
    for _ in range(MAX_FAILURES["password"]):
        response = client.post("/api/v1/me/password", headers=ORIGIN, json=wrong)
        assert response.status_code == 400
    assert sleeps[-1] > 0  # each failure made the next answer slower
    response = client.post("/api/v1/me/password", headers=ORIGIN,
                           json={"current_password": PASSWORD, "new_password": "another long password"})
    assert response.status_code == 429
    assert 800 < int(response.headers["Retry-After"]) <= 901
    assert "Try again in 15 minutes" in response.get_json()["error"]["message"]
    # The lock held: the password did not change.
    assert client.application.extensions["datainsight"]["storage"].users.authenticate(
        "ada@example.com", PASSWORD).id == admin.id
