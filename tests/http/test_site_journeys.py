"""Journeys on live events (issue 13, point 8): a backend sends sign-up → plan chosen →
first payment → churn for a few hundred people through the server-side route, and the
funnel, journeys (the Sankey) and retention analyses of the site's dataset count them
with user_id as the person; a new event changes the next answer."""
from __future__ import annotations

import datetime as dt
import json
import random

from tests.conftest import bearer
from tests.http.test_sites_api import make_site

STAGES = ["Signup", "Plan chosen", "First payment", "Churn"]


def lifecycle_events(people: int, seed: int = 7) -> tuple[list[dict], dict[str, int]]:
    """Each person goes as far as a random stage; returns the events and how many reached each."""
    rng = random.Random(seed)
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=40)
    events, reached = [], dict.fromkeys(STAGES, 0)
    for person in range(people):
        depth = rng.choice([1, 1, 2, 2, 3, 3, 3, 4])
        moment = start + dt.timedelta(hours=rng.randrange(0, 24 * 10))
        for stage in STAGES[:depth]:
            events.append({"type": "event", "name": stage, "user_id": f"user-{person}",
                           "ts": moment.isoformat(), "props": {"plan": rng.choice(["basic", "pro"])}})
            reached[stage] += 1
            moment += dt.timedelta(days=rng.randrange(1, 8))
    return events, reached


def analyze(client, token, kind, body):
    answer = client.post(f"/api/v1/analyze/{kind}", json=body, headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_the_lifecycle_draws_as_a_funnel_and_a_sankey(client, ada, bob):
    site = make_site(client, ada)
    events, reached = lifecycle_events(300)
    lines = "\n".join(json.dumps(e) for e in events)
    sent = client.post(f"/api/v1/sites/{site['id']}/events", data=lines,
                       headers={**bearer(ada), "Content-Type": "application/x-ndjson"})
    assert sent.status_code == 202 and sent.get_json()["accepted"] == len(events)
    person = {"dataset_id": site["dataset_id"], "entity": "user_id", "event": "name", "time": "ts"}

    funnel = analyze(client, ada, "funnel", {**person, "steps": STAGES})
    assert [s["entities"] for s in funnel["steps"]] == [reached[s] for s in STAGES]

    journeys = analyze(client, ada, "journeys", {**person, "depth": 4})
    assert journeys["entities"] == 300
    links = {(l["position"], l["source"], l["target"]): l["entities"] for l in journeys["links"]}
    for position, (source, target) in enumerate(zip(STAGES, STAGES[1:]), 1):
        assert links[(position, source, target)] == reached[target]
        assert links.get((position, source, "(end)"), 0) == reached[source] - reached[target]

    retention = analyze(client, ada, "retention", {**person, "grain": "week"})
    assert sum(c["size"] for c in retention["cohorts"]) == 300 and retention["lifecycle"]

    # The next event is in the next answer: the dataset is the events as they are.
    client.post(f"/api/v1/sites/{site['id']}/events", headers=bearer(ada),
                json={"type": "event", "name": "Signup", "user_id": "user-new"})
    again = analyze(client, ada, "funnel", {**person, "steps": STAGES})
    assert again["steps"][0]["entities"] == reached["Signup"] + 1

    refused = client.post("/api/v1/analyze/funnel", json={**person, "steps": STAGES}, headers=bearer(bob))
    assert refused.status_code == 404
