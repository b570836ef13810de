"""Reading back and choosing: load, search, best, compare, aliases."""

from __future__ import annotations

import pytest

import lineage
from lineage import Experiment
from lineage.errors import (
    AliasNotFoundError,
    ExperimentNotFoundError,
    InvalidNameError,
    QueryError,
    SetNotFoundError,
    StateError,
    ValidationError,
)


@pytest.fixture
def grid(root):
    """Set 1: four forests of varying depth; set 2: two regressions."""
    for depth, f1 in [(2, 0.70), (5, 0.85), (10, 0.91), (20, 0.88)]:
        exp = Experiment(experiment_name=f"forest d{depth}", root=root, set_name="forests",
                         data_version="0.0.2" if depth > 5 else "0.0.1")
        exp.hyperparameters = {"max_depth": depth, "criterion": "gini"}
        exp.log_metric("f1", f1)
        exp.log_metric("loss", 1 - f1)
        exp.tags["team"] = "nlp" if depth < 10 else "vision"
        exp.register()
    for alpha, rmse in [(1.0, 3.5), (10.0, 2.5)]:
        exp = Experiment(experiment_name=f"ridge {alpha}", new_set=alpha == 1.0, root=root,
                         set_name="ridge")
        exp.hyperparameters = {"alpha": alpha}
        exp.register(results={"rmse": rmse})
    return root


def names(found) -> list[str]:
    return [e.name for e in found]


def test_search_filters_orders_and_limits(grid):
    found = lineage.search(1, "metrics.f1 > 0.8 and params.max_depth >= 5", "-metrics.f1",
                           2, root=grid)
    assert names(found) == ["forest d10", "forest d20"]


def test_search_understands_versions_tags_names_and_or(grid):
    assert names(lineage.search(where="data_version = '0.0.2'", root=grid)) == [
        "forest d10", "forest d20"]
    assert names(lineage.search(where="tags.team = 'nlp' or name ~ 'RIDGE 10'", root=grid)) == [
        "forest d2", "forest d5", "ridge 10.0"]
    assert len(lineage.search(where="not (status = 'registered')", root=grid)) == 0


def test_search_orders_by_several_keys(grid):
    found = lineage.search(1, order_by=["tags.team", "-params.max_depth"], root=grid)
    assert names(found) == ["forest d5", "forest d2", "forest d20", "forest d10"]


def test_numbers_logged_as_strings_match_numeric_filters(root):
    exp = Experiment(experiment_name="s", root=root)
    exp.hyperparameters = {"max_depth": "10"}
    exp.register()
    assert names(lineage.search(where="params.max_depth = 10", root=root)) == ["s"]


def test_malformed_filter_points_at_the_position(grid):
    with pytest.raises(QueryError) as info:
        lineage.search(where="metrics.f1 > > 3", root=grid)
    assert info.value.position == 13
    assert "^" in str(info.value)


def test_to_pandas_has_one_row_per_experiment_with_prefixed_columns(grid):
    frame = lineage.search(1, root=grid).to_pandas()
    assert len(frame) == 4
    assert {"params.max_depth", "metrics.f1", "tags.team", "status", "created"} <= set(frame)
    assert frame["metrics.f1"].max() == 0.91
    assert str(frame["created"].dtype).startswith("datetime64")


def test_best_by_max_and_min(grid):
    assert lineage.best(1, "f1", root=grid).name == "forest d10"
    assert lineage.best(1, "loss", mode="min", root=grid).name == "forest d10"
    assert lineage.best("ridge", "rmse", mode="min", root=grid).name == "ridge 10.0"
    assert lineage.best(1, "f1", where="tags.team = 'nlp'", root=grid).name == "forest d5"


def test_best_of_an_unknown_metric_lists_the_metrics_there_are(grid):
    with pytest.raises(ValidationError, match="metrics in this set: f1, loss"):
        lineage.best(1, "auc", root=grid)


def test_best_ignores_experiments_that_did_not_register(grid):
    with pytest.raises(ZeroDivisionError):
        with Experiment(experiment_name="broken", root=grid, set="forests") as exp:
            exp.log_metric("f1", 0.99)
            1 / 0  # noqa: B018
    assert lineage.best(1, "f1", root=grid).name == "forest d10"


def test_best_then_promote_in_one_step_and_load_by_alias(grid):
    lineage.best(1, "f1", root=grid).promote("production")
    assert lineage.load(alias="production", root=grid).name == "forest d10"
    lineage.alias(1, "forest d5", "production", root=grid)
    assert lineage.load(alias="production", root=grid).name == "forest d5"
    history = lineage.alias_history("production", root=grid)
    assert [(h["number"], (h["previous"] or {}).get("number")) for h in history] == [
        (3, None), (2, 3)]
    assert lineage.aliases(root=grid)["production"]["number"] == 2


def test_unknown_alias_lists_the_aliases_there_are(grid):
    lineage.alias(1, 1, "staging", root=grid)
    with pytest.raises(AliasNotFoundError, match="aliases: staging"):
        lineage.load(alias="production", root=grid)


def test_only_registered_experiments_can_hold_an_alias(grid):
    Experiment(experiment_name="still running", root=grid, set=1)
    with pytest.raises(StateError, match="running"):
        lineage.alias(1, "still running", "production", root=grid)


@pytest.mark.parametrize("bad", ["", "has space", "-lead", "x" * 65, "a/b"])
def test_alias_names_are_short_words(grid, bad):
    with pytest.raises(InvalidNameError):
        lineage.alias(1, 1, bad, root=grid)


def test_compare_shows_only_differences_with_best_and_deltas(grid):
    c = lineage.compare(1, [1, 3], only_diff=True, root=grid)
    rows = {(r.section, r.key): r for r in c.rows}
    assert ("params", "criterion") not in rows  # the same in both
    assert rows[("params", "max_depth")].values == [2, 10]
    f1 = rows[("metrics", "f1")]
    assert f1.best == 1 and f1.deltas == pytest.approx([0.0, 0.21])
    assert rows[("experiment", "data_version")].values == ["0.0.1", "0.0.2"]


def test_compare_defaults_to_every_experiment_of_the_set(grid):
    assert len(lineage.compare("forests", root=grid).experiments) == 4


def test_load_by_name_and_latest_and_errors(grid):
    assert lineage.load("forests", "latest", root=grid).name == "forest d20"
    assert lineage.load(root=grid).name == "ridge 10.0"
    with pytest.raises(SetNotFoundError, match="forests"):
        lineage.load("nope", root=grid)
    with pytest.raises(ExperimentNotFoundError, match="forest d2"):
        lineage.load(1, "nope", root=grid)


def test_search_results_read_the_full_record_only_on_demand(grid):
    found = lineage.search(1, limit=1, root=grid)[0]
    assert "packages" not in found._record["provenance"]
    assert "pytest" in found.record["provenance"]["packages"]


def test_sets_lists_each_set_with_its_counts(grid):
    Experiment(experiment_name="still running", root=grid, set="ridge")
    summaries = {s["name"]: s for s in lineage.sets(root=grid)}
    assert summaries["forests"]["experiments"] == 4
    assert (summaries["ridge"]["experiments"], summaries["ridge"]["running"]) == (3, 1)
    assert summaries["forests"]["last_activity"] >= summaries["forests"]["created"]
