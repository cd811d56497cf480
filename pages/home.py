"""/: where a signed-in person lands. A newcomer can start right here: drop a file (the
same upload zone as the datasets page, which leads to the import screen) or add a sample;
someone with data finds their most recent datasets and dashboards."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.dashboards import short_time
from components.datasets import human_size, sample_cards, upload_zone
from components.feedback import icon, page_header
from storage.principal import Role
from storage.samples import list_samples
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/", title="Home · DataInsight", order=0)

RECENT = 5  # items in each "recent" list; the full lists are one click away


def _section(title: str, more_href: str | None, more_label: str | None, body) -> html.Div:
    more = dcc.Link(more_label, href=more_href, className="small") if more_href else None
    return html.Div(
        [html.Div([html.H2(title, className="home-section-title mb-0"), more],
                  className="d-flex justify-content-between align-items-baseline mb-2"),
         body],
        className="mb-4",
    )


def _empty(text: str, element_id: str) -> html.P:
    return html.P(text, className="text-body-secondary small mb-0 home-empty", id=element_id)


def recent_datasets(found) -> object:
    if not found:
        return _empty("No datasets yet. Drop a file above or add a sample, and it appears here.", "home-no-datasets")
    items = [
        dbc.ListGroupItem([
            dcc.Link(d.name, href=f"/datasets/{d.id}", className="home-item-name fw-semibold"),
            html.Span(f"{d.rows:,} rows · {human_size(d.size_bytes)} · updated {short_time(d.updated_at)} UTC",
                      className="home-item-meta text-body-secondary"),
        ])
        for d in found[:RECENT]
    ]
    return dbc.ListGroup(items, className="home-list", id="home-datasets")


def recent_dashboards(boards: list[dict]) -> object:
    if not boards:
        return _empty("No dashboards yet. Open a dataset and press “Create dashboard” to get one made from its "
                      "columns.", "home-no-dashboards")
    items = []
    for board in boards[:RECENT]:
        count = len(board.get("widgets") or [])
        items.append(dbc.ListGroupItem([
            dcc.Link(board["name"], href=f"/dashboards/{board['id']}", className="home-item-name fw-semibold"),
            html.Span(f"{count} widget{'s' if count != 1 else ''} · updated {short_time(board.get('updated_at'))} UTC",
                      className="home-item-meta text-body-secondary"),
        ]))
    return dbc.ListGroup(items, className="home-list", id="home-dashboards")


def layout(**_query):
    principal = require_principal()
    storage = current_storage()
    workspace = current_workspace(principal)
    can_edit = workspace.role.at_least(Role.EDITOR)
    datasets = storage.datasets.list(principal, workspace.id, sort="updated")
    boards = storage.dashboards.list(principal, workspace.id)
    samples = list_samples()

    if can_edit:
        start = [
            _section("Start with a file", None, None,
                     upload_zone("home-upload-zone", text="Drop a CSV, Excel, JSON or Parquet file here, "
                                                          "or click to choose")),
            _section("Or try a sample", None, None, sample_cards(samples, True)) if samples else None,
            # The datasets page's sample callback serves these buttons too: it adds the
            # sample and sends the person to the new dataset.
            html.Div(id="sample-feedback"),
            dcc.Location(id="datasets-redirect", refresh=True),
        ]
    else:
        start = [dbc.Alert(f"You are {workspace.role.with_article} in {workspace.name}: you can open its datasets "
                           "and dashboards but not add them.", color="secondary")]
    newcomer = not datasets and not boards
    return html.Div(
        [
            page_header(
                f"Welcome, {principal.name}",
                ("Start by adding data: a file of your own or one of the samples. DataInsight profiles it and can "
                 "make a first dashboard from it." if newcomer and can_edit
                 else f"You are in {workspace.name} as {workspace.role.value}."),
            ),
            *([] if not newcomer else start),
            dbc.Row([
                dbc.Col(_section("Recent datasets", "/datasets", "All datasets", recent_datasets(datasets)), lg=6),
                dbc.Col(_section("Recent dashboards", "/dashboards", "All dashboards", recent_dashboards(boards)),
                        lg=6),
            ]),
            *([] if newcomer else [html.Hr(className="my-4"), *start]),
        ],
        className="home-page",
    )
