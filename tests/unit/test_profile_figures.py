"""The profile's column figures: skewed histograms get a log axis, even ones do not."""
from analytics.profiling.figures import column_figure, needs_log_scale


def numeric_column(counts: list[int]) -> dict:
    return {"kind": "numeric", "histogram": {"edges": [float(i) for i in range(len(counts) + 1)], "counts": counts},
            "top_values": []}


def test_skewed_histogram_is_drawn_on_a_log_axis():
    figure = column_figure(numeric_column([50_000, 300, 20, 0, 3]))
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert figure["layout"]["yaxis"]["title"]["text"] == "rows (log)"
    assert figure["data"][0]["y"] == [50_000, 300, 20, 0, 3]


def test_even_histogram_keeps_a_linear_axis():
    figure = column_figure(numeric_column([120, 340, 400, 310, 90]))
    assert "type" not in figure["layout"]["yaxis"]


def test_log_scale_rule():
    assert needs_log_scale([101, 1]) and not needs_log_scale([100, 1])
    assert not needs_log_scale([5000, 0, 0]) and not needs_log_scale([])


def test_dates_keep_a_linear_axis_however_uneven():
    column = {"kind": "temporal", "histogram": {"edges": ["2024-01-01", "2024-01-02", "2024-01-03"],
                                                "counts": [5000, 3]}, "top_values": []}
    assert "type" not in column_figure(column)["layout"]["yaxis"]
