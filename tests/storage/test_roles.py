"""Column roles in storage: inferred once per version and kept, corrected by editors only,
corrections kept across versions while the column exists, profile alerts that follow."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.errors import Forbidden, InvalidInput, NotFound
from storage.tables import column_role_overrides, column_roles
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def bob(storage, ada):
    return storage.users.create_user(ada, "bob@example.com", PASSWORD, "Bob").principal()


@pytest.fixture
def workspace(storage, ada):
    return storage.workspaces.personal_workspace(ada).id


@pytest.fixture
def flights(storage, ada, workspace):
    return storage.datasets.create_from_file(ada, workspace, FIXTURES / "public" / "flights_sample.csv",
                                             "flights.csv")


def wait_profile(storage, principal, dataset_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        profile = storage.profiles.get(principal, dataset_id)
        if profile["status"] != "running":
            return profile
        time.sleep(0.1)
    raise AssertionError("the profile did not finish")


def stored_rows(storage, dataset_id):
    with storage.engine.connect() as conn:
        return conn.execute(select(column_roles).where(column_roles.c.dataset_id == dataset_id)).all()


def test_roles_are_inferred_once_per_version_and_kept(storage, ada, flights, monkeypatch):
    found = storage.roles.get(ada, flights.id)
    assert list(found) == flights.column_names
    assert (found["month"]["role"], found["month"]["detail"]) == ("date_part", "month")
    assert found["year"]["role"] == "constant" and found["flight"]["role"] == "code"
    assert found["dep_delay"]["role"] == "measure" and found["time_hour"]["role"] == "time"
    assert all(v["source"] == "inferred" and v["reason"] for v in found.values())
    assert len(stored_rows(storage, flights.id)) == 1
    # Kept: asking again neither scans the file nor reads the profile again.
    monkeypatch.setattr(storage.roles, "_scan", lambda dataset: pytest.fail("scanned again"))
    wait_profile(storage, ada, flights.id)
    assert storage.roles.get(ada, flights.id) == storage.roles.get(ada, flights.id)
    row, = stored_rows(storage, flights.id)
    assert row.basis == "profile"  # inferred again once, from the profile's exact figures
    monkeypatch.setattr(storage.profiles, "read_ready", lambda dataset: pytest.fail("read the profile again"))
    assert storage.roles.get(ada, flights.id)["month"]["role"] == "date_part"


def test_summary_for_gives_the_stats_with_dates_as_dates(storage, ada, flights):
    summary = storage.roles.summary_for(storage.datasets.get(ada, flights.id))
    assert summary["rows"] == 4000
    month = summary["columns"]["month"]
    assert (month["distinct"], month["min"], month["max"], month["missing"]) == (12, 1, 12, 0)
    assert summary["columns"]["time_hour"]["min"].year == 2013  # a datetime, not text
    assert summary["columns"]["dep_delay"]["missing"] > 0


def test_columns_list_types_roles_and_reasons(storage, ada, flights):
    columns = storage.roles.columns(ada, flights.id)
    assert [c["name"] for c in columns] == flights.column_names
    assert {"name", "type", "role", "detail", "reason", "source"} <= set(columns[0])
    assert next(c for c in columns if c["name"] == "distance")["type"] == "integer"


def test_a_person_corrects_a_role_and_can_go_back_to_auto(storage, ada, flights):
    changed = storage.roles.set(ada, flights.id, "flight", "category")
    assert (changed["role"], changed["source"]) == ("category", "person")
    assert changed["inferred"]["role"] == "code" and "Ada" in changed["reason"]
    assert storage.roles.get(ada, flights.id)["flight"]["role"] == "category"
    changed = storage.roles.set(ada, flights.id, "hour", "date_part", "hour")
    assert changed["detail"] == "hour"
    back = storage.roles.set(ada, flights.id, "flight", "auto")
    assert (back["role"], back["source"]) == ("code", "inferred")
    with storage.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(column_role_overrides)).scalar_one() == 1


@pytest.mark.parametrize("column,role,detail,message", [
    ("flight", "average", None, "'average' is not a column role"),
    ("month", "date_part", "fortnight", "'fortnight' is not a detail of 'date_part'"),
    ("carrier", "measure", None, "only a column of numbers can be a measure"),
    ("month", "time", None, "only a column of dates or times can be a time"),
    ("carrier", "geography", "latitude", "must be a number"),
    ("flight", ["code"], None, "not a column role"),
])
def test_bad_roles_are_refused_with_a_message(storage, ada, flights, column, role, detail, message):
    with pytest.raises(InvalidInput, match=message):
        storage.roles.set(ada, flights.id, column, role, detail)


def test_unknown_column_is_not_found(storage, ada, flights):
    with pytest.raises(NotFound, match="no column 'nope'"):
        storage.roles.set(ada, flights.id, "nope", "category")
    with pytest.raises(NotFound):
        storage.roles.set(ada, flights.id, None, "category")


def test_viewers_read_editors_change_others_see_nothing(storage, ada, bob, flights, workspace):
    with pytest.raises(NotFound):
        storage.roles.get(bob, flights.id)
    with pytest.raises(NotFound):
        storage.roles.set(bob, flights.id, "flight", "category")
    team = storage.workspaces.create(ada, "Team").id
    shared = storage.datasets.create_from_file(ada, team, FIXTURES / "public" / "penguins.csv", "penguins.csv")
    storage.workspaces.add_member(ada, team, "bob@example.com", "viewer")
    assert storage.roles.get(bob, shared.id)["year"]["role"] == "date_part"
    with pytest.raises(Forbidden):
        storage.roles.set(bob, shared.id, "year", "measure")
    assert storage.roles.get(ada, shared.id)["year"]["source"] == "inferred"


def test_corrections_survive_new_versions_while_the_column_exists(storage, ada, workspace, tmp_path):
    first = tmp_path / "v1.csv"
    first.write_text("store,amount,region\n" + "".join(f"{i % 7},{i * 3},r{i % 3}\n" for i in range(200)))
    dataset = storage.datasets.create_from_file(ada, workspace, first, "sales.csv")
    storage.roles.set(ada, dataset.id, "store", "code")
    storage.roles.set(ada, dataset.id, "region", "geography", "region")
    second = tmp_path / "v2.csv"
    second.write_text("store,amount\n" + "".join(f"{i % 9},{i * 5}\n" for i in range(300)))
    dataset = storage.datasets.add_version(ada, dataset.id, second, "v2.csv")
    assert dataset.version == 2
    found = storage.roles.get(ada, dataset.id)
    assert (found["store"]["role"], found["store"]["source"]) == ("code", "person")
    with storage.engine.connect() as conn:
        kept = conn.execute(select(column_role_overrides.c.column_name)).scalars().all()
    assert kept == ["store"]  # region is gone from the data, and its correction with it
    assert {r.version for r in stored_rows(storage, dataset.id)} == {2}


def test_deleting_the_dataset_removes_its_roles(storage, ada, flights):
    storage.roles.set(ada, flights.id, "flight", "category")
    storage.datasets.delete(ada, flights.id)
    assert stored_rows(storage, flights.id) == []
    with storage.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(column_role_overrides)).scalar_one() == 0


def test_profile_alerts_follow_the_roles(storage, ada, flights):
    profile = wait_profile(storage, ada, flights.id)
    alerts = {(a["type"], a["column"]) for a in profile["alerts"]}
    cols = {c["name"]: c for c in profile["columns"]}
    # Numbers that name things get no distribution alerts, and say what they are.
    assert ("numeric_code", "flight") in alerts
    assert not {t for t, c in alerts if c in ("flight", "month", "day", "hour", "minute", "dep_time")} & {
        "skewed", "zeros", "negatives"}
    assert cols["month"]["role"]["role"] == "date_part" and cols["month"]["role"]["source"] == "inferred"
    # A person says flight is a measure after all: its alerts are a measure's now.
    storage.roles.set(ada, flights.id, "flight", "measure")
    profile = storage.profiles.get(ada, flights.id)
    alerts = {(a["type"], a["column"]) for a in profile["alerts"]}
    assert ("numeric_code", "flight") not in alerts
    assert {c["name"]: c for c in profile["columns"]}["flight"]["role"]["source"] == "person"
    storage.roles.set(ada, flights.id, "dep_delay", "code")
    profile = storage.profiles.get(ada, flights.id)
    alerts = {(a["type"], a["column"]) for a in profile["alerts"]}
    assert ("numeric_code", "dep_delay") in alerts
    assert {c["name"]: c for c in profile["columns"]}["dep_delay"]["semantic"] == ["categorical_code"]
    assert "categorical_code" not in {c["name"]: c for c in profile["columns"]}["flight"]["semantic"]
    # a correlation with a code is no news: dep_delay's pair with arr_delay is dropped
    assert not any(a["type"] == "high_correlation" and "dep_delay" in a["columns"] for a in profile["alerts"])
    assert "high_correlation" not in {c["name"]: c for c in profile["columns"]}["dep_delay"]["alerts"]
