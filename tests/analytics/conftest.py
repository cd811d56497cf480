"""Fixtures for the analysis tests: a signed-up user with datasets made from files."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def owner(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada Admin").principal()


@pytest.fixture
def make_dataset(storage, owner, tmp_path):
    """make_dataset(frame_or_path, name) -> Dataset in the owner's personal workspace."""
    def make(source, name="data"):
        if not isinstance(source, Path):
            path = tmp_path / f"{name}.csv"
            source.to_csv(path, index=False)
            source = path
        workspace = storage.workspaces.personal_workspace(owner)
        return storage.datasets.create_from_file(owner, workspace.id, source, source.name, name=name)
    return make


@pytest.fixture
def mall(make_dataset):
    return make_dataset(FIXTURES / "shopping_data.csv", "mall")
