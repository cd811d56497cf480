"""The home page as the page router renders it: a newcomer gets the upload zone, the
samples and empty lists said in words; someone with data gets links to their most recent
datasets and dashboards with row counts and times, and never another workspace's."""
import json
from pathlib import Path

from tests.conftest import post_callback, render_page, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def home(client) -> str:
    response = render_page(client, "/")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.dumps(response.get_json()["response"]["_pages_content"]["children"])


def test_a_newcomer_can_drop_a_file_or_try_a_sample(client, admin):
    sign_in(client, "ada@example.com")
    page = home(client)
    # The real upload zone (assets/uploader.js takes any .upload-zone to the import screen).
    assert '"id": "home-upload-zone"' in page and "upload-zone" in page
    assert '"data-mode": "new"' in page
    # The samples, each with the datasets page's add button.
    assert "Video game sales" in page and "Online retail transactions" in page
    assert json.dumps({"type": "sample-add", "index": "vgsales"}) in page
    # Empty lists say what to do, in words.
    assert "No datasets yet" in page and "No dashboards yet" in page
    assert "Create dashboard" in page
    # No cards repeating the navigation any more.
    assert "Open Analyze" not in page and "Open Settings" not in page


def test_a_sample_added_from_home_opens_as_a_dataset(client, app_storage, admin):
    sign_in(client, "ada@example.com")
    response = post_callback(client, [("sample-feedback", "children"), ("datasets-redirect", "href")],
                             [({"type": "sample-add", "index": "ALL"}, "n_clicks", [("mall-customers", 1)])],
                             changed=[json.dumps({"index": "mall-customers", "type": "sample-add"},
                                                 separators=(",", ":")) + ".n_clicks"])
    assert response.status_code == 200, response.get_data(as_text=True)
    href = response.get_json()["response"]["datasets-redirect"]["href"]
    dataset_id = int(href.rsplit("/", 1)[1])
    assert app_storage.datasets.get(admin.principal(), dataset_id).rows == 200
    page = home(client)
    assert f'"/datasets/{dataset_id}"' in page and "200 rows" in page


def test_someone_with_data_sees_recent_datasets_and_dashboards(client, make_client, app_storage, admin,
                                                               second_user):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    games = app_storage.datasets.create_from_file(principal, workspace.id, FIXTURES / "vgsales.csv", "vgsales.csv")
    board = app_storage.dashboards.create(principal, workspace.id, {"name": "Games at a glance", "widgets": [
        {"id": "n", "spec": {"type": "kpi", "dataset_id": games.id, "agg": "count", "title": "Games"},
         "layout": {"x": 0, "y": 0, "w": 3, "h": 3}}]})
    sign_in(client, "ada@example.com")
    page = home(client)
    assert f'"/datasets/{games.id}"' in page and "16,598 rows" in page
    assert f'"/dashboards/{board["id"]}"' in page and "Games at a glance" in page and "1 widget " in page
    assert "No datasets yet" not in page and "No dashboards yet" not in page
    assert "updated 20" in page  # the time of the last change, e.g. "updated 2026-12-03 08:30"
    # Still a place to drop the next file.
    assert '"id": "home-upload-zone"' in page

    # Bob's home shows his own (empty) workspace, not Ada's data.
    bob = make_client()
    sign_in(bob, "bob@example.com")
    bobs = home(bob)
    assert "Games at a glance" not in bobs and f'"/datasets/{games.id}"' not in bobs
    assert "No datasets yet" in bobs and "No dashboards yet" in bobs
