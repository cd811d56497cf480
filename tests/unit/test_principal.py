from storage.principal import Principal, Role


def test_roles_read_well_in_messages():
    assert [r.with_article for r in Role] == ["a viewer", "an editor", "an owner"]
    assert Role.OWNER.at_least(Role.EDITOR) and not Role.VIEWER.at_least(Role.EDITOR)


def test_read_scoped_principal_is_a_viewer_everywhere():
    reader = Principal(1, "a@example.com", "A", False, via="token", scope="read")
    assert not reader.can_write and reader.effective_role(Role.OWNER) is Role.VIEWER
    writer = Principal(1, "a@example.com", "A", False)
    assert writer.can_write and writer.effective_role(Role.OWNER) is Role.OWNER
