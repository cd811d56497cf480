import pytest

from storage.errors import Conflict, Forbidden, InvalidInput, NotFound
from storage.principal import Role
from tests.conftest import PASSWORD


@pytest.fixture
def people(storage):
    admin = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada")
    bob = storage.users.create_user(admin.principal(), "bob@example.com", PASSWORD, "Bob")
    eve = storage.users.create_user(admin.principal(), "eve@example.com", PASSWORD, "Eve")
    return admin.principal(), bob.principal(), eve.principal()


def test_owner_adds_members_with_roles(storage, people):
    ada, bob, eve = people
    team = storage.workspaces.create(ada, "Sales")
    member = storage.workspaces.add_member(ada, team.id, "BOB@example.com", "viewer")
    assert member.role is Role.VIEWER
    assert {m.email: m.role.value for m in storage.workspaces.members(bob, team.id)} == {
        "ada@example.com": "owner", "bob@example.com": "viewer"}
    with pytest.raises(Conflict, match="already a member"):
        storage.workspaces.add_member(ada, team.id, "bob@example.com", "editor")
    with pytest.raises(NotFound, match="No active account uses"):
        storage.workspaces.add_member(ada, team.id, "nobody@example.com", "editor")
    with pytest.raises(InvalidInput, match="Unknown role"):
        storage.workspaces.add_member(ada, team.id, "eve@example.com", "superuser")


def test_viewer_cannot_change_anything(storage, people):
    ada, bob, eve = people
    team = storage.workspaces.create(ada, "Sales")
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "viewer")
    with pytest.raises(Forbidden, match="viewer"):
        storage.workspaces.add_member(bob, team.id, "eve@example.com", "viewer")
    with pytest.raises(Forbidden):
        storage.workspaces.rename(bob, team.id, "Mine now")
    with pytest.raises(Forbidden):
        storage.workspaces.change_role(bob, team.id, bob.user_id, "owner")
    assert storage.workspaces.get(ada, team.id).name == "Sales"


def test_non_member_sees_nothing(storage, people):
    ada, bob, eve = people
    personal = storage.workspaces.personal_workspace(ada)
    for call in (
        lambda: storage.workspaces.get(eve, personal.id),
        lambda: storage.workspaces.members(eve, personal.id),
        lambda: storage.workspaces.add_member(eve, personal.id, "eve@example.com", "owner"),
        lambda: storage.workspaces.remove_member(eve, personal.id, ada.user_id),
        lambda: storage.workspaces.get(eve, "not-a-number"),
    ):
        with pytest.raises(NotFound):
            call()
    assert [w.name for w in storage.workspaces.list_for(eve)] == ["Eve's workspace"]


def test_last_owner_stays(storage, people):
    ada, bob, eve = people
    team = storage.workspaces.create(ada, "Sales")
    with pytest.raises(InvalidInput, match="at least one owner"):
        storage.workspaces.change_role(ada, team.id, ada.user_id, "viewer")
    with pytest.raises(InvalidInput, match="at least one owner"):
        storage.workspaces.remove_member(ada, team.id, ada.user_id)
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "owner")
    storage.workspaces.remove_member(ada, team.id, ada.user_id)  # now ada may leave
    assert [m.email for m in storage.workspaces.members(bob, team.id)] == ["bob@example.com"]
    with pytest.raises(NotFound):
        storage.workspaces.get(ada, team.id)


def test_editor_role_and_member_leaving(storage, people):
    ada, bob, eve = people
    team = storage.workspaces.create(ada, "Sales")
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "editor")
    assert storage.workspaces.get(bob, team.id).role is Role.EDITOR
    with pytest.raises(Forbidden):
        storage.workspaces.remove_member(bob, team.id, ada.user_id)
    storage.workspaces.remove_member(bob, team.id, bob.user_id)  # leaving is always allowed
    with pytest.raises(NotFound):
        storage.workspaces.get(bob, team.id)


def test_read_only_token_acts_as_viewer(storage, people):
    ada, bob, eve = people
    team = storage.workspaces.create(ada, "Sales")
    _token, plaintext = storage.tokens.create(ada, "reader", scope="read")
    reader = storage.tokens.resolve(plaintext)
    assert storage.workspaces.get(reader, team.id).role is Role.VIEWER
    with pytest.raises(Forbidden, match="read-only"):
        storage.workspaces.add_member(reader, team.id, "bob@example.com", "viewer")
    with pytest.raises(Forbidden, match="read-only"):
        storage.workspaces.create(reader, "Another")
