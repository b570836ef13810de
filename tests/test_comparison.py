"""comparison.py: what differs between records, pure functions with no I/O."""

from __future__ import annotations

import pytest

from lineage.comparison import compare, flatten, lower_is_better, package_changes, unified_diff


def record(number, params, metrics, packages=None, commit="abc"):
    return {
        "set": {"number": 1}, "number": number, "id": f"id{number}", "name": f"exp {number}",
        "status": "registered", "model_version": "0.1", "data_version": "1",
        "hyperparameters": params, "metrics": metrics, "tags": {},
        "provenance": {"packages": packages or {"numpy": "2.0"}, "git": {"commit": commit},
                       "python": {"version": "3.11.7"}},
        "data": {"fingerprint": "d1"},
    }


@pytest.mark.parametrize(
    "name", ["loss", "val_loss", "rmse", "test.mae", "error_rate", "fit_seconds"]
)
def test_error_like_metric_names_are_lower_is_better(name):
    assert lower_is_better(name)


@pytest.mark.parametrize("name", ["f1", "accuracy", "auc", "weighted_precision", "r2"])
def test_score_like_metric_names_are_higher_is_better(name):
    assert not lower_is_better(name)


def test_only_diff_keeps_what_differs_and_the_name():
    rows = compare(
        [record(1, {"a": 1, "b": 2}, {"f1": 0.8}), record(2, {"a": 1, "b": 3}, {"f1": 0.9})],
        only_diff=True,
    ).rows
    keys = [(r.section, r.key) for r in rows]
    assert ("params", "b") in keys and ("metrics", "f1") in keys
    assert ("params", "a") not in keys and ("packages", "numpy") not in keys
    assert ("experiment", "name") in keys


def test_best_is_marked_by_direction_and_deltas_are_against_the_baseline():
    c = compare(
        [record(1, {}, {"f1": 0.8, "loss": 0.3}), record(2, {}, {"f1": 0.9, "loss": 0.5}),
         record(3, {}, {"f1": 0.7, "loss": 0.2})],
        baseline=1,
    )
    by_key = {r.key: r for r in c.rows if r.section == "metrics"}
    assert by_key["f1"].best == 1 and by_key["loss"].best == 2
    assert by_key["f1"].deltas == pytest.approx([-0.1, 0.0, -0.2])
    assert c.labels == ["1/1", "1/2", "1/3"]


def test_directions_can_be_overridden():
    c = compare([record(1, {}, {"score": 1.0}), record(2, {}, {"score": 2.0})],
                directions={"score": "min"})
    assert next(r for r in c.rows if r.key == "score").best == 0


def test_environment_and_data_fingerprints_are_compared():
    flat = flatten(record(1, {}, {}, commit="deadbeef"))
    assert flat[("environment", "git.commit")] == "deadbeef"
    assert flat[("data", "fingerprint")] == "d1"
    assert flat[("packages", "numpy")] == "2.0"


def test_package_changes_lists_added_removed_and_upgraded():
    assert package_changes({"a": "1", "b": "2"}, {"b": "3", "c": "1"}) == [
        ("a", "1", None), ("b", "2", "3"), ("c", None, "1"),
    ]


def test_unified_diff_is_empty_for_equal_texts_and_shows_changes():
    assert unified_diff("x\n", "x\n", "a", "b") == ""
    assert "-DEPTH = 3\n+DEPTH = 5\n" in unified_diff("DEPTH = 3\n", "DEPTH = 5\n", "a", "b")


def test_to_dict_is_json_ready():
    import json

    c = compare([record(1, {"a": 1}, {"f1": 0.5}), record(2, {"a": 2}, {"f1": 0.6})])
    assert json.loads(json.dumps(c.to_dict()))["experiments"][1]["number"] == 2
