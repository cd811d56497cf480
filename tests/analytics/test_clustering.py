"""Clustering: recovers generated blobs, reproducible with a seed, silhouette and the other
scores equal scikit-learn's, mall customers' five segments, sampling, saving the labels as
a new version (editor only), and every bad input's message."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler

from analytics import clustering
from errors import AnalysisError, Forbidden, InvalidSpec, NotFound
from tests.conftest import PASSWORD

INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


def run(storage, owner, dataset, **params):
    return storage.analyses.run(owner, "clustering", dict(params, dataset_id=dataset.id))


def clear_cache(storage):
    for path in storage.analyses.cache_dir.glob("*.json"):
        path.unlink()


@pytest.fixture
def blobs(make_dataset):
    x, truth = make_blobs(n_samples=900, centers=[[0, 0, 0], [8, 8, 0], [0, 8, 8]], cluster_std=1.0, random_state=3)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["truth"] = truth
    return make_dataset(frame, "blobs"), frame


def test_recovers_generated_blobs_and_k(storage, owner, blobs):
    dataset, frame = blobs
    result = run(storage, owner, dataset, features=["a", "b", "c"], k_range=[2, 6], seed=0)
    assert result["k"] == 3 and result["k_chosen_by"] == "silhouette"
    assert [s["k"] for s in result["silhouette_by_k"]] == [2, 3, 4, 5, 6]
    assert sorted(result["sizes"]) == [300, 300, 300] and result["sample_size"] == 900
    labels = clustering.assign(result["model"], frame)
    assert adjusted_rand_score(frame["truth"], labels) == 1.0 and result["warnings"] == []
    assert len(result["clusters"]) == 3 and all(c["description"].startswith(f"Cluster {c['id']} holds 33%")
                                                 for c in result["clusters"])


def test_scores_equal_scikit_learn(storage, owner, blobs):
    dataset, frame = blobs
    result = run(storage, owner, dataset, features=["a", "b", "c"], k=3)
    x = StandardScaler().fit_transform(frame[["a", "b", "c"]])
    labels = clustering.assign(result["model"], frame)
    assert result["silhouette"] == pytest.approx(silhouette_score(x, labels), rel=1e-9)
    assert result["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, labels), rel=1e-9)
    assert result["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(x, labels), rel=1e-9)
    assert result["k_chosen_by"] == "given" and result["silhouette_by_k"] == []


def test_a_fixed_seed_is_reproducible(storage, owner, mall):
    first = run(storage, owner, mall, features=[INCOME, SCORE], seed=7)
    clear_cache(storage)
    second = run(storage, owner, mall, features=[INCOME, SCORE], seed=7)
    assert first["model"]["centroids"] == second["model"]["centroids"]
    assert first["sizes"] == second["sizes"] and first["silhouette"] == second["silhouette"]


def test_mall_customers_fall_into_five_described_segments(storage, owner, mall):
    result = run(storage, owner, mall, features=[INCOME, SCORE, "Genre"], k_range=[2, 8])
    assert "one-hot encoded" in " ".join(result["preparation"])
    numeric_only = run(storage, owner, mall, features=[INCOME, SCORE])
    assert numeric_only["k"] == 5
    assert numeric_only["sizes"] == sorted(numeric_only["sizes"], reverse=True)
    # The well-known segment: high income, low spending.
    rich_savers = [c for c in numeric_only["clusters"]
                   if c["profile"]["numeric"][INCOME]["z"] > 0.5 and c["profile"]["numeric"][SCORE]["z"] < -0.5]
    assert len(rich_savers) == 1
    text = rich_savers[0]["description"]
    assert f"higher {INCOME}" in text and f"lower {SCORE}" in text
    assert len(numeric_only["pca"]["x"]) == 200 and numeric_only["outliers"]["count"] >= 0


def test_noise_gets_a_warning_not_segments(storage, owner, make_dataset):
    rng = np.random.default_rng(5)
    dataset = make_dataset(pd.DataFrame(rng.normal(size=(600, 5)), columns=list("abcde")), "noise")
    result = run(storage, owner, dataset, features=list("abcde"))
    assert result["silhouette"] < 0.25 and "do not fall into clearly separated groups" in result["warnings"][0]


def test_large_data_is_clustered_on_a_stated_sample(storage, owner, make_dataset, monkeypatch):
    monkeypatch.setattr(clustering, "FIT_ROWS", 400)
    monkeypatch.setattr(clustering, "SILHOUETTE_ROWS", 100)
    x, _ = make_blobs(n_samples=1500, centers=3, random_state=1)
    dataset = make_dataset(pd.DataFrame(x, columns=["a", "b"]), "sampled")
    result = run(storage, owner, dataset, features=["a", "b"])
    assert result["sampled"] is True and result["sample_size"] == 400 and result["rows"] == 1500
    assert result["silhouette_sample"] == 100 and sum(result["sizes"]) == 400


def test_saving_labels_makes_a_new_version_with_every_row(storage, owner, blobs):
    dataset, _frame = blobs
    params = {"dataset_id": dataset.id, "features": ["a", "b", "c"], "k": 3}
    saved = storage.analyses.save_cluster_labels(owner, params)
    assert saved.version == 2 and saved.rows == 900
    assert saved.schema[-1] == {"name": "cluster", "type": "integer", "storage_type": "BIGINT"}
    table = pq.read_table(storage.datasets.file_path(saved)).to_pandas()
    assert list(table.columns) == ["a", "b", "c", "truth", "cluster"]
    assert adjusted_rand_score(table["truth"], table["cluster"]) == 1.0
    assert storage.datasets.versions(owner, dataset.id)[0].operation == "derive"
    again = storage.analyses.save_cluster_labels(owner, dict(params, dataset_id=dataset.id))
    assert again.schema[-1]["name"] == "cluster_2"  # never overwrites a column


def test_saving_labels_needs_an_editor_and_membership(storage, owner, blobs):
    dataset, _ = blobs
    viewer = storage.users.create_user(owner, "vera@example.com", PASSWORD, "Vera Viewer").principal()
    stranger = storage.users.create_user(owner, "bob@example.com", PASSWORD, "Bob Other").principal()
    storage.workspaces.add_member(owner, dataset.workspace_id, "vera@example.com", "viewer")
    params = {"dataset_id": dataset.id, "features": ["a", "b"], "k": 3}
    assert run(storage, viewer, dataset, features=["a", "b"], k=3)["k"] == 3  # a viewer may analyse
    with pytest.raises(Forbidden, match="needs an editor"):
        storage.analyses.save_cluster_labels(viewer, params)
    with pytest.raises(NotFound):
        storage.analyses.save_cluster_labels(stranger, params)
    with pytest.raises(NotFound):
        storage.analyses.run(stranger, "clustering", params)
    assert storage.datasets.get(owner, dataset.id).version == 1


@pytest.mark.parametrize("frame,params,error,message", [
    (pd.DataFrame({"a": [None] * 10, "b": range(10)}), {"features": ["a", "b"]}, AnalysisError,
     "The feature 'a' has no values"),
    (pd.DataFrame({"a": [1.0] * 10, "b": [2.0] * 10}), {"features": ["a", "b"]}, AnalysisError,
     "same value in every row"),
    (pd.DataFrame({"a": [1.0, 2.0, 1.0, 2.0], "b": [1, 1, 1, 1]}), {"features": ["a", "b"], "k": 3}, AnalysisError,
     "only 2 distinct combinations"),
    (pd.DataFrame({"a": range(10)}), {"features": ["a"], "k_range": [5, 2]}, InvalidSpec, "2 ≤ low ≤ high ≤ 20"),
    (pd.DataFrame({"a": range(10)}), {"features": ["a"], "k_range": "2-5"}, InvalidSpec, "two whole numbers"),
    (pd.DataFrame({"a": range(10)}), {"features": ["a"], "k": 1}, InvalidSpec, "'k' must be between 2 and 50"),
    (pd.DataFrame({"a": range(10)}), {"features": []}, InvalidSpec, "Choose at least 1 feature"),
    (pd.DataFrame({"a": range(10)}), {"features": ["zz"]}, InvalidSpec, "There is no column 'zz'"),
])
def test_bad_inputs_get_a_clear_message(storage, owner, make_dataset, frame, params, error, message):
    dataset = make_dataset(frame, "bad")
    with pytest.raises(error) as caught:
        run(storage, owner, dataset, **params)
    assert message in caught.value.message
