import pytest

from storage.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthenticated
from storage.throttle import MAX_FAILURES
from tests.conftest import PASSWORD


def test_first_admin_only_once(storage):
    assert storage.users.needs_setup()
    admin = storage.users.create_first_admin("Ada@Example.com ", PASSWORD, "Ada")
    assert admin.email == "ada@example.com" and admin.is_admin
    assert not storage.users.needs_setup()
    with pytest.raises(Conflict, match="already set up"):
        storage.users.create_first_admin("eve@example.com", PASSWORD, "Eve")
    assert storage.users.get_by_email("eve@example.com") is None


def test_every_user_gets_a_personal_workspace_they_own(storage):
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    (workspace,) = storage.workspaces.list_for(admin.principal())
    assert workspace.is_personal and workspace.name == "Ada's workspace" and workspace.role.value == "owner"


def test_authenticate(storage):
    storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    assert storage.users.authenticate("ADA@example.com", PASSWORD).email == "ada@example.com"
    with pytest.raises(Unauthenticated, match="email or password is not right"):
        storage.users.authenticate("ada@example.com", "wrong password!")
    with pytest.raises(Unauthenticated, match="email or password is not right"):
        storage.users.authenticate("nobody@example.com", PASSWORD)
    with pytest.raises(InvalidInput):
        storage.users.authenticate("", "")


def test_failures_slow_down_then_lock_out_even_the_right_password(storage, sleeps):
    storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    for _ in range(MAX_FAILURES["email"]):
        with pytest.raises(Unauthenticated):
            storage.users.authenticate("ada@example.com", "wrong password!", "10.0.0.1")
    assert sleeps == [0.25, 0.5, 1.0, 2.0]  # each failure made the next answer slower
    with pytest.raises(RateLimited, match="Try again in 15 minutes") as locked:
        storage.users.authenticate("ada@example.com", PASSWORD, "10.0.0.1")
    assert 800 < locked.value.retry_after <= 901
    # Another account from another address is not affected.
    storage.users.create_user(storage.users.get_by_email("ada@example.com").principal(), "bob@example.com", PASSWORD)
    assert storage.users.authenticate("bob@example.com", PASSWORD, "10.0.0.2").email == "bob@example.com"


def test_success_resets_the_failure_count(storage, sleeps):
    storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            storage.users.authenticate("ada@example.com", "wrong password!")
    storage.users.authenticate("ada@example.com", PASSWORD)
    sleeps.clear()
    with pytest.raises(Unauthenticated):
        storage.users.authenticate("ada@example.com", "wrong password!")
    assert sleeps == []  # first failure after a success: no delay


def test_change_password_rotates_the_session_stamp(storage):
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    with pytest.raises(InvalidInput, match="current password is not right"):
        storage.users.change_password(admin.principal(), "nope", "another long password")
    with pytest.raises(InvalidInput, match="at least 10"):
        storage.users.change_password(admin.principal(), PASSWORD, "short")
    changed = storage.users.change_password(admin.principal(), PASSWORD, "another long password")
    assert changed.session_stamp != admin.session_stamp
    assert storage.users.authenticate("ada@example.com", "another long password").id == admin.id
    with pytest.raises(Unauthenticated):
        storage.users.authenticate("ada@example.com", PASSWORD)


def test_only_admins_manage_users(storage):
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    bob = storage.users.create_user(admin.principal(), "bob@example.com", PASSWORD, "Bob")
    with pytest.raises(Forbidden):
        storage.users.create_user(bob.principal(), "eve@example.com", PASSWORD)
    with pytest.raises(Forbidden):
        storage.users.list_users(bob.principal())
    with pytest.raises(Forbidden):
        storage.users.toggle_active(bob.principal(), admin.id)
    with pytest.raises(Conflict, match="already exists"):
        storage.users.create_user(admin.principal(), "BOB@example.com", PASSWORD)
    assert [u.email for u in storage.users.list_users(admin.principal())] == ["ada@example.com", "bob@example.com"]


def test_deactivated_user_cannot_sign_in(storage):
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    bob = storage.users.create_user(admin.principal(), "bob@example.com", PASSWORD, "Bob")
    off = storage.users.toggle_active(admin.principal(), bob.id)
    assert not off.is_active and off.session_stamp != bob.session_stamp
    with pytest.raises(Unauthenticated):
        storage.users.authenticate("bob@example.com", PASSWORD)
    with pytest.raises(InvalidInput, match="your own account"):
        storage.users.set_active(admin.principal(), admin.id, False)


def test_invitation_is_used_once(storage):
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    invitation, code = storage.invitations.invite(admin.principal(), "carol@example.com")
    assert storage.invitations.lookup(code).email == "carol@example.com"
    carol = storage.invitations.accept(code, PASSWORD, "Carol")
    assert carol.email == "carol@example.com" and not carol.is_admin
    with pytest.raises(Conflict, match="used already"):
        storage.invitations.accept(code, PASSWORD, "Carol again")
    with pytest.raises(Exception, match="not valid"):
        storage.invitations.lookup("made-up-code")
    with pytest.raises(Forbidden):
        storage.invitations.invite(carol.principal(), "dan@example.com")


def test_a_refused_setup_leaves_setup_open(storage):
    """A too-short password must not mark setup as done: the next, valid try creates the admin."""
    with pytest.raises(InvalidInput):
        storage.users.create_first_admin("ada@example.com", "short", "Ada")
    assert storage.users.needs_setup()
    assert storage.users.get_by_email("ada@example.com") is None
    with pytest.raises(InvalidInput):
        storage.users.create_first_admin("not an email", PASSWORD, "Ada")
    assert storage.users.needs_setup()
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    assert admin.is_admin and not storage.users.needs_setup()
    assert storage.users.authenticate("ada@example.com", PASSWORD).id == admin.id


def test_setup_race_leaves_one_admin_and_no_orphan(storage):
    """Two setups at once: one wins; the loser's account and workspace are rolled back."""
    import threading

    outcomes = []

    def attempt(email):
        try:
            outcomes.append(storage.users.create_first_admin(email, PASSWORD, None).email)
        except Conflict as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(f"user{i}@example.com",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o.endswith("@example.com")]
    assert len(winners) == 1 and len(outcomes) == 4
    assert all("already set up" in o for o in outcomes if o not in winners)
    admin = storage.users.get_by_email(winners[0])
    emails = [u.email for u in storage.users.list_users(admin.principal())]
    assert emails == winners
