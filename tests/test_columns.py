"""Listing columns: what a listing offers, and the columns a user's patterns pick."""

from __future__ import annotations

import pytest

from lineage import columns

OFFERED = columns.available({"params": ["lr", "max_depth", "a b"], "metrics": ["f1", "loss"]})


def test_available_lists_the_top_fields_then_params_metrics_and_tags():
    assert OFFERED[: len(columns.TOP)] == list(columns.TOP)
    assert OFFERED[len(columns.TOP):] == [
        "params.lr", "params.max_depth", "params.`a b`", "metrics.f1", "metrics.loss"]


def test_globs_and_names_pick_columns_in_the_order_asked_each_once():
    picked = columns.expand("name, metrics.*, params.lr, name, metrics.f1", OFFERED)
    assert picked == ["name", "metrics.f1", "metrics.loss", "params.lr"]
    assert columns.expand("hyperparameters.max_depth,,", OFFERED) == ["params.max_depth"]


def test_a_name_nothing_offers_is_left_to_the_caller():
    assert columns.expand("name,params.nope", OFFERED) == ["name"]
    assert columns.expand("params.nope", OFFERED, lambda item: [item]) == ["params.nope"]

    def refuse(item: str) -> list[str]:
        raise ValueError(f"unknown column {item}")

    with pytest.raises(ValueError, match="params.nope"):
        columns.expand("name,params.nope", OFFERED, refuse)
