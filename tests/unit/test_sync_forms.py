"""The pure pieces of the Connections page and the Source card: the refresh setting read
from the form (and the form filled from a setting, which storage.syncs accepts back), the
table names handed to storage.syncs, and a job's state in words."""
from __future__ import annotations

import pytest

from callbacks.syncs import job_words, refresh_setting
from components.connections import table_choices, table_value
from components.syncs import refresh_form_values
from storage.connectors import quote_table
from storage.errors import InvalidInput
from storage.syncs import check_refresh, describe_refresh


@pytest.mark.parametrize("form, setting, text", [
    (("manual", 1, "06:00", "UTC"), "manual", "By hand"),
    ((None, None, None, None), "manual", "By hand"),
    (("hours", 1, "06:00", "UTC"), {"every": 1, "unit": "hours"}, "Every hour"),
    (("hours", 6.0, None, None), {"every": 6, "unit": "hours"}, "Every 6 hours"),
    (("minutes", "15", None, None), {"every": 15, "unit": "minutes"}, "Every 15 minutes"),
    (("daily", 1, "07:30", " Europe/Paris "), {"daily": "07:30", "timezone": "Europe/Paris"},
     "Daily at 07:30 Europe/Paris"),
    (("daily", 1, "07:30:00", ""), {"daily": "07:30", "timezone": "UTC"}, "Daily at 07:30 UTC"),
])
def test_the_form_gives_a_setting_storage_accepts(form, setting, text):
    made = refresh_setting(*form)
    assert made == setting
    assert check_refresh(made) == setting and describe_refresh(check_refresh(made)) == text
    # The form filled from the setting gives it back.
    values = refresh_form_values(setting)
    assert refresh_setting(values["kind"], values["every"], values["at"], values["zone"]) == setting


@pytest.mark.parametrize("form, words", [
    (("minutes", 2, None, None), "at least 5"),
    (("hours", None, None, None), "whole number"),
    (("hours", 1.5, None, None), "whole number"),
    (("daily", 1, "", "UTC"), "24-hour clock"),
    (("daily", 1, "07:30", "Mars/Olympus"), "Mars/Olympus"),
    (("weekly", 1, None, None), "manual"),
])
def test_what_storage_refuses_is_passed_on_for_it_to_say(form, words):
    with pytest.raises(InvalidInput) as refused:
        check_refresh(refresh_setting(*form))
    assert words in refused.value.message


@pytest.mark.parametrize("table, kind, value", [
    ({"schema": "sales", "name": "orders"}, "postgresql", "sales.orders"),
    ({"schema": "public", "name": "Odd name"}, "postgresql", 'public."Odd name"'),
    ({"schema": "public", "name": 'say "hi"'}, "postgresql", 'public."say ""hi"""'),
    ({"schema": "shop", "name": "a.b"}, "mysql", "shop.`a.b`"),
    ({"schema": "shop", "name": "it`s"}, "mysql", "shop.`it``s`"),
    ({"schema": "", "name": "orders"}, "mysql", "orders"),
])
def test_table_names_reach_storage_whole(table, kind, value):
    assert table_value(table, kind) == value
    quoted = quote_table(value, kind)  # storage reads it back as the same two parts
    q = "`" if kind == "mysql" else '"'
    parts = ([table["schema"]] if table["schema"] else []) + [table["name"]]
    assert quoted == ".".join(q + p.replace(q, q * 2) + q for p in parts)


def test_table_choices_label_views_and_keep_columns():
    tables = [{"schema": "s", "name": "t", "kind": "table", "columns": [{"name": "id", "type": "integer"}]},
              {"schema": "s", "name": "v", "kind": "view", "columns": []}]
    options, columns = table_choices(tables, "postgresql")
    assert options == [{"label": "s.t", "value": "s.t"}, {"label": "s.v (view)", "value": "s.v"}]
    assert columns == {"s.t": [["id", "integer"]], "s.v": []}


@pytest.mark.parametrize("job, state, shown", [
    ({"status": "queued", "message": None}, "running", "Working…"),
    ({"status": "running", "message": "1,000 rows copied"}, "running", "1,000 rows copied"),
    ({"status": "done", "result": {"rows": 3}}, "done", {"rows": 3}),
    ({"status": "cancelled", "message": "Cancelled"}, "cancelled", "Cancelled: nothing was changed."),
    ({"status": "failed", "message": "There is no table 'x'"}, "failed", "There is no table 'x'"),
])
def test_a_jobs_state_in_words(job, state, shown):
    assert job_words(job) == (state, shown)
