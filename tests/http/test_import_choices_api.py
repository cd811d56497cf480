"""The import API's reading choices (options) and the same-name question (if_exists), a
failed import that leaves nothing behind, and a second user who cannot inspect or
import the first user's upload with crafted choices."""
import io
import zipfile
from pathlib import Path

from tests.conftest import bearer
from tests.http.test_datasets_api import upload, wait_job

LOCALE = Path(__file__).resolve().parents[1] / "fixtures" / "locale"
GERMANY_2022 = 84_358_845  # Destatis 12411-0010, 31.12.2022


def chunked(client, token, data: bytes, filename: str) -> str:
    up = client.post("/api/v1/uploads", json={"filename": filename, "size": len(data)}, headers=bearer(token))
    assert up.status_code == 201, up.get_json()
    upload_id = up.get_json()["id"]
    assert client.put(f"/api/v1/uploads/{upload_id}?offset=0", data=data, headers=bearer(token)).status_code == 200
    return upload_id


def start_import(client, token, upload_id, **body):
    return client.post(f"/api/v1/uploads/{upload_id}/import", json=body, headers=bearer(token))


def import_done(client, token, upload_id, **body) -> dict:
    started = start_import(client, token, upload_id, **body)
    assert started.status_code == 202, started.get_json()
    return wait_job(client, token, started.get_json()["status_url"])


def rows(client, token, dataset_id) -> list[dict]:
    return client.get(f"/api/v1/datasets/{dataset_id}/rows?limit=100", headers=bearer(token)).get_json()["rows"]


def test_inspect_says_what_it_decided_and_takes_choices(client, ada):
    data = (LOCALE / "destatis-bevoelkerung-2022.csv").read_bytes()
    upload_id = chunked(client, ada, data, "destatis.csv")
    url = f"/api/v1/uploads/{upload_id}/inspect"
    reading = client.get(url, headers=bearer(ada)).get_json()["inspection"]["reading"]
    assert (reading["decimal"], reading["encoding"], reading["delimiter"]) == (",", "cp1252", ";")
    assert "decimal comma" in reading["summary"]
    # The person says the decimal mark is a point: "13,37" no longer reads as a number.
    chosen = client.get(f"{url}?decimal=.", headers=bearer(ada)).get_json()["inspection"]
    types = {c["name"]: c["type"] for c in chosen["columns"]}
    assert types["Anteil in %"] != "float" and chosen["reading"]["chosen"] == {"decimal": "."}
    bad = client.get(f"{url}?decimal=x", headers=bearer(ada))
    assert bad.status_code == 400 and "decimal must be one of" in bad.get_json()["error"]["message"]


def test_import_with_options_sums_to_the_published_total(client, ada):
    upload_id = chunked(client, ada, (LOCALE / "destatis-bevoelkerung-2022.csv").read_bytes(), "destatis.csv")
    job = import_done(client, ada, upload_id, name="Bevölkerung", options={"decimal": ",", "date_order": "dmy"})
    assert job["status"] == "done", job
    made = job["result"]
    assert {c["name"]: c["type"] for c in made["columns"]}["Bevölkerung"] == "integer"
    got = rows(client, ada, made["id"])
    assert sum(r["Bevölkerung"] for r in got) == GERMANY_2022
    assert got[0]["Stichtag"].startswith("2022-12-31")
    bad = start_import(client, ada, chunked(client, ada, b"a\n1\n", "a.csv"), options={"encoding": "klingon"})
    assert bad.status_code == 400 and "encoding must be one of" in bad.get_json()["error"]["message"]


def test_if_exists_adds_a_version_or_a_second_name(client, ada):
    first = upload(client, ada, b"a,b\n1,2\n", "sales.csv")
    assert first.status_code == 201
    dataset_id = first.get_json()["id"]
    # No if_exists: as before, a second dataset with the same name.
    same = upload(client, ada, b"a,b\n3,4\n", "sales.csv").get_json()
    assert same["name"] == "sales" and same["id"] != dataset_id
    client.delete(f"/api/v1/datasets/{same['id']}", headers=bearer(ada))
    # "version": the existing dataset gets version 2 with the new rows.
    job = import_done(client, ada, chunked(client, ada, b"a,b\n5,6\n7,8\n", "sales.csv"), if_exists="version")
    assert job["status"] == "done", job
    assert (job["result"]["id"], job["result"]["version"], job["result"]["rows"]) == (dataset_id, 2, 2)
    # "new": a new dataset named "sales (2)", then "sales (3)".
    job = import_done(client, ada, chunked(client, ada, b"a,b\n9,9\n", "sales.csv"), if_exists="new")
    assert job["result"]["name"] == "sales (2)"
    job = import_done(client, ada, chunked(client, ada, b"a,b\n9,9\n", "Sales.csv"), if_exists="new")
    assert job["result"]["name"] == "Sales (3)"
    # "error": refused, with the dataset it collides with.
    job = import_done(client, ada, chunked(client, ada, b"a,b\n1,1\n", "sales.csv"), if_exists="error")
    assert job["status"] == "failed" and "A dataset named 'sales' exists" in job["message"]
    multipart = upload(client, ada, b"a,b\n1,1\n", "sales.csv", if_exists="version")
    assert multipart.status_code == 201 and multipart.get_json()["version"] == 3
    bad = start_import(client, ada, chunked(client, ada, b"a\n1\n", "sales.csv"), if_exists="sometimes")
    assert bad.status_code == 400 and "if_exists must be one of" in bad.get_json()["error"]["message"]
    bad = upload(client, ada, b"a,b\n1,1\n", "sales.csv", if_exists="sometimes")
    assert bad.status_code == 400 and "if_exists must be one of" in bad.get_json()["error"]["message"]
    names = sorted(d["name"] for d in client.get("/api/v1/datasets", headers=bearer(ada)).get_json()["datasets"])
    assert names == ["Sales (3)", "sales", "sales (2)"]


def test_a_word_document_is_refused_and_leaves_nothing(app_storage, client, ada):
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    files_before = sorted(p.name for p in (app_storage.datasets.files_dir).iterdir())
    response = upload(client, ada, docx.getvalue(), "report.docx")
    assert response.status_code == 422  # an IngestError: the file is understood, and refused
    assert response.get_json()["error"]["message"].startswith("This is a Word document, not a table.")
    upload_id = chunked(client, ada, docx.getvalue(), "report.docx")
    inspected = client.get(f"/api/v1/uploads/{upload_id}/inspect", headers=bearer(ada))
    assert inspected.status_code == 422 and "Word document" in inspected.get_json()["error"]["message"]
    job = import_done(client, ada, upload_id, name="report")
    assert job["status"] == "failed" and job["message"].startswith("This is a Word document, not a table.")
    assert client.get("/api/v1/datasets", headers=bearer(ada)).get_json()["datasets"] == []
    assert sorted(p.name for p in app_storage.datasets.files_dir.iterdir()) == files_before
    assert [p.name for p in app_storage.datasets.tmp_dir.iterdir()] == []


def test_a_second_user_cannot_inspect_or_import_with_choices(client, ada, bob):
    upload_id = chunked(client, ada, (LOCALE / "swiss-kantone.csv").read_bytes(), "swiss.csv")
    inspected = client.get(f"/api/v1/uploads/{upload_id}/inspect?decimal=,", headers=bearer(bob))
    assert inspected.status_code == 404
    started = start_import(client, bob, upload_id, options={"delimiter": ";"}, if_exists="version")
    assert started.status_code == 404
    # Bob's if_exists cannot reach Ada's dataset of the same name in her workspace.
    mine = upload(client, ada, b"a\n1\n", "shared.csv").get_json()
    job = import_done(client, bob, chunked(client, bob, b"a\n2\n", "shared.csv"), if_exists="version")
    assert job["status"] == "done" and job["result"]["id"] != mine["id"] and job["result"]["version"] == 1
    assert client.get(f"/api/v1/datasets/{mine['id']}", headers=bearer(ada)).get_json()["version"] == 1
