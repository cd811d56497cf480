"""The import screen's callbacks as public endpoints: re-reading a file with other reading
choices, the same-name question, and Import all. A second user who posts the first
user's upload id gets a refusal and makes nothing."""
import io
import json
import time
from pathlib import Path

from tests.conftest import _post_callback, sign_in

LOCALE = Path(__file__).resolve().parents[1] / "fixtures" / "locale"
READING = ("delimiter", "decimal", "thousands", "date_order", "encoding")


def _key(client, *output_types: str, input_type: str) -> str:
    callbacks = client.application.extensions["datainsight_dash"].callback_map
    found = [k for k, v in callbacks.items()
             if all(f'"type":"{t}"' in k for t in output_types)
             and any(input_type in json.dumps(i["id"]) for i in v["inputs"])]
    assert len(found) == 1, found
    return found[0]


def pid(kind: str, upload_id: str) -> dict:
    return {"index": upload_id, "type": kind}


def changed(component_id: dict, prop: str) -> list[str]:
    return [json.dumps(component_id, sort_keys=True, separators=(",", ":")) + "." + prop]


def review(client, upload_id: str, decimal: str = "auto") -> str:
    values = {"decimal": decimal}
    response = _post_callback(
        client, _key(client, "import-body", input_type="import-sheet"),
        [(pid("import-body", upload_id), "children")],
        [(pid("import-sheet", upload_id), "value", None),
         *[(pid(f"import-{o}", upload_id), "value", values.get(o, "auto")) for o in READING]],
        [("import-context", "data", {"mode": "new"})],
        changed=changed(pid("import-decimal", upload_id), "value"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json()["response"], ensure_ascii=False)


def check_name(client, upload_id: str, name: str) -> dict:
    response = _post_callback(
        client, _key(client, "import-exists", input_type="import-name"),
        [(pid("import-exists", upload_id), "style"), (pid("import-exists-question", upload_id), "children"),
         (pid("import-exists-choice", upload_id), "options"), (pid("import-exists-choice", upload_id), "value")],
        [(pid("import-name", upload_id), "value", name)],
        [("import-context", "data", {"mode": "new"})],
        changed=changed(pid("import-name", upload_id), "value"))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()["response"]
    # {"import-exists": {...}, ...}: the answer's keys are the JSON of the pattern ids.
    return {json.loads(k)["type"]: v for k, v in answer.items()}


def import_all(client, cards: dict[str, dict]) -> str:
    """Post Import all for the cards {upload id: {"rows":..., "name":..., "if_exists":...}},
    its outputs and states expanded per card as the Dash renderer sends them."""
    ids = list(cards)

    def every(kind, prop, value=lambda u: None):
        return [{"id": pid(kind, u), "property": prop, "value": value(u)} for u in ids]

    body = {
        "output": _key(client, "import-job", input_type="import-all"),
        "outputs": [[{"id": pid(kind, u), "property": prop} for u in ids]
                    for kind, prop in (("import-job", "data"), ("import-result", "children"), ("import-go", "disabled"))],
        "inputs": [{"id": "import-all", "property": "n_clicks", "value": 1}],
        "state": [every("import-columns", "rowData", lambda u: cards[u].get("rows", [])),
                  every("import-name", "value", lambda u: cards[u]["name"]),
                  every("import-sheet", "value"), every("import-sheets", "value", lambda u: []),
                  every("import-exists-choice", "value", lambda u: cards[u].get("if_exists")),
                  *[every(f"import-{o}", "value", lambda u: "auto") for o in READING],
                  every("import-go", "disabled", lambda u: False),
                  {"id": "import-context", "property": "data", "value": {"mode": "new"}}],
        "changedPropIds": ["import-all.n_clicks"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json()["response"], ensure_ascii=False)


def test_import_callbacks_for_the_owner_and_a_crafted_post(make_client, app_storage, admin, second_user):
    ada = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(ada)
    data = (LOCALE / "destatis-bevoelkerung-2022.csv").read_bytes()
    upload = app_storage.uploads.create(ada, "destatis.csv", len(data))
    app_storage.uploads.write_chunk(ada, upload.id, 0, io.BytesIO(data), len(data))
    app_storage.datasets.create_from_file(ada, workspace.id, LOCALE / "swiss-kantone.csv", "swiss-kantone.csv")

    owner = make_client()
    sign_in(owner, admin.email)
    body = review(owner, upload.id)
    assert "decimal comma" in body and "Bevölkerung" in body
    assert "decimal comma" not in review(owner, upload.id, decimal=".")
    asked = check_name(owner, upload.id, "Swiss-Kantone")
    assert asked["import-exists"]["style"] is None
    assert "A dataset named “swiss-kantone” exists" in asked["import-exists-question"]["children"]
    assert check_name(owner, upload.id, "fresh name")["import-exists"]["style"] == {"display": "none"}

    intruder = make_client()
    sign_in(intruder, second_user.email)
    peek = review(intruder, upload.id)
    assert "There is no upload" in peek and "Bevölkerung" not in peek and "Try another file" in peek
    # Bob's workspace has no "swiss-kantone": Ada's names do not leak through the question.
    assert check_name(intruder, upload.id, "swiss-kantone")["import-exists"]["style"] == {"display": "none"}
    stolen = import_all(intruder, {upload.id: {"name": "stolen", "rows": [{"source": "Bundesland", "include": True}]}})
    assert "There is no upload" in stolen and "Importing" not in stolen
    bob = second_user.principal()
    assert app_storage.datasets.list(bob, app_storage.workspaces.personal_workspace(bob).id) == []

    started = import_all(owner, {upload.id: {"name": "Bevölkerung", "rows": [{"source": "Bundesland", "include": True}]}})
    assert "Importing" in started
    for _ in range(200):  # the import runs as a job
        made = [d for d in app_storage.datasets.list(ada, workspace.id) if d.name == "Bevölkerung"]
        if made:
            break
        time.sleep(0.05)
    assert made and made[0].rows == 16
    _columns, rows, _total = app_storage.datasets.rows(ada, made[0].id, limit=100)
    assert sum(r[_columns.index("Bevölkerung")] for r in rows) == 84_358_845
