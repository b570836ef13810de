"""parse_results() / flat_metrics(): results objects become plain, strict-JSON metrics."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import classification_report

from lineage.errors import ValidationError
from lineage.results import flat_metrics, parse_results

MULTI_TRUE = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 2, 1]
MULTI_PRED = [0, 2, 2, 2, 1, 0, 1, 1, 0, 2, 0, 1]
BIN_TRUE = [0, 1, 1, 0, 1, 1, 0, 1, 0, 1]
BIN_PRED = [0, 1, 0, 0, 1, 1, 1, 1, 0, 1]


def _strict_json(parsed: dict[str, Any]) -> Any:
    """Round-trip through strict JSON (no NaN/inf allowed), as lineage stores it."""
    return json.loads(json.dumps(parsed, allow_nan=False))


def _assert_matches_dict_form(parsed: dict[str, Any], expected: dict[str, Any], digits: int):
    """Every number of the text parse equals sklearn's dict form, to the printed digits."""
    tol = 0.5 * 10**-digits + 1e-12
    averages = {"macro avg": "macro", "weighted avg": "weighted", "micro avg": "micro"}
    averages["samples avg"] = "samples"
    for key, value in expected.items():
        if key == "accuracy":
            assert parsed["accuracy"] == pytest.approx(value, abs=tol)
            continue
        got = parsed["averages"][averages[key]] if key in averages else parsed["classes"][key]
        assert got["precision"] == pytest.approx(value["precision"], abs=tol)
        assert got["recall"] == pytest.approx(value["recall"], abs=tol)
        assert got["f1"] == pytest.approx(value["f1-score"], abs=tol)
        assert got["support"] == value["support"]
    n_classes = len([k for k in expected if k != "accuracy" and k not in averages])
    assert len(parsed["classes"]) == n_classes


# -- classification_report as text ---------------------------------------------------------


def test_text_multiclass_report_matches_sklearn_dict_form() -> None:
    text = classification_report(MULTI_TRUE, MULTI_PRED)
    expected = classification_report(MULTI_TRUE, MULTI_PRED, output_dict=True)

    parsed = parse_results(text)

    assert parsed is not None and parsed["kind"] == "classification_report"
    assert list(parsed["classes"]) == ["0", "1", "2"]
    assert set(parsed["averages"]) == {"macro", "weighted"}
    _assert_matches_dict_form(parsed, expected, digits=2)


def test_text_binary_report_parses_both_classes_and_accuracy() -> None:
    parsed = parse_results(classification_report(BIN_TRUE, BIN_PRED))

    assert parsed is not None
    assert list(parsed["classes"]) == ["0", "1"]
    assert parsed["accuracy"] == pytest.approx(0.8, abs=0.005)
    assert parsed["classes"]["1"]["support"] == 6
    assert isinstance(parsed["classes"]["1"]["support"], int)


def test_text_report_with_spaced_labels_parses_each_class() -> None:
    names = ["negative review", "class 0", "positive review"]
    text = classification_report(MULTI_TRUE, MULTI_PRED, target_names=names)
    expected = classification_report(MULTI_TRUE, MULTI_PRED, target_names=names, output_dict=True)

    parsed = parse_results(text)

    assert parsed is not None
    assert list(parsed["classes"]) == names
    _assert_matches_dict_form(parsed, expected, digits=2)


def test_text_report_with_four_digits_keeps_the_precision() -> None:
    text = classification_report(MULTI_TRUE, MULTI_PRED, digits=4)
    expected = classification_report(MULTI_TRUE, MULTI_PRED, output_dict=True)

    parsed = parse_results(text)

    assert parsed is not None
    _assert_matches_dict_form(parsed, expected, digits=4)
    # 2/3 printed with 4 digits is 0.6667, which a 2-digit tolerance would not distinguish.
    assert parsed["classes"]["1"]["recall"] == 0.75
    assert parsed["averages"]["macro"]["precision"] == pytest.approx(0.7500, abs=5e-5)


def test_text_multilabel_report_has_micro_and_samples_but_no_accuracy() -> None:
    y_true = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    y_pred = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 1, 1]])
    names = ["label a", "b", "c"]
    text = classification_report(y_true, y_pred, target_names=names, zero_division=0)
    expected = classification_report(
        y_true, y_pred, target_names=names, zero_division=0, output_dict=True
    )

    parsed = parse_results(text)

    assert parsed is not None
    assert "accuracy" not in parsed
    assert set(parsed["averages"]) == {"micro", "macro", "weighted", "samples"}
    _assert_matches_dict_form(parsed, expected, digits=2)
    assert "accuracy" not in flat_metrics(parsed)


def test_text_report_for_a_subset_of_labels_has_micro_avg_instead_of_accuracy() -> None:
    text = classification_report(MULTI_TRUE, MULTI_PRED, labels=[0, 1])

    parsed = parse_results(text)

    assert parsed is not None
    assert "accuracy" not in parsed
    assert list(parsed["classes"]) == ["0", "1"]
    assert "micro" in parsed["averages"]


def test_text_report_with_sample_weights_keeps_fractional_support() -> None:
    weights = [0.5, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    text = classification_report(BIN_TRUE, BIN_PRED, sample_weight=weights)

    parsed = parse_results(text)

    assert parsed is not None
    assert parsed["classes"]["0"]["support"] == pytest.approx(4.5)
    assert flat_metrics(parsed)["support"] == pytest.approx(10.5)


def test_text_report_after_a_title_line_still_parses() -> None:
    text = "Validation set\n" + classification_report(BIN_TRUE, BIN_PRED)

    parsed = parse_results(text)

    assert parsed is not None and list(parsed["classes"]) == ["0", "1"]


def test_text_report_with_a_garbled_row_is_not_a_report() -> None:
    text = classification_report(BIN_TRUE, BIN_PRED).replace("0.80", "n/a", 1)

    assert parse_results(text) is None


def test_text_report_with_nan_values_stores_none_and_valid_json() -> None:
    # zero_division=nan prints "nan" for the precision of a class never predicted.
    text = classification_report([0, 1, 0, 1], [0, 0, 0, 0], zero_division=np.nan)
    assert "nan" in text

    parsed = parse_results(text)

    assert parsed is not None
    assert parsed["classes"]["1"]["precision"] is None
    assert _strict_json(parsed) == parsed
    assert all(math.isfinite(v) for v in flat_metrics(parsed).values())


# -- classification_report as a dict -------------------------------------------------------


def test_dict_report_parses_classes_averages_and_accuracy() -> None:
    report = classification_report(MULTI_TRUE, MULTI_PRED, output_dict=True)

    parsed = parse_results(report)

    assert parsed is not None and parsed["kind"] == "classification_report"
    assert parsed["accuracy"] == report["accuracy"]
    assert parsed["classes"]["2"]["f1"] == report["2"]["f1-score"]
    assert parsed["averages"]["weighted"]["recall"] == report["weighted avg"]["recall"]
    assert parsed["classes"]["2"]["support"] == 5 and isinstance(
        parsed["classes"]["2"]["support"], int
    )


def test_dict_and_text_forms_of_the_same_report_give_the_same_flat_metrics() -> None:
    from_text = flat_metrics(parse_results(classification_report(BIN_TRUE, BIN_PRED, digits=6)))
    from_dict = flat_metrics(
        parse_results(classification_report(BIN_TRUE, BIN_PRED, output_dict=True))
    )

    assert set(from_text) == set(from_dict)
    for key, value in from_dict.items():
        assert from_text[key] == pytest.approx(value, abs=5e-7)


def test_dict_report_missing_a_field_falls_back_to_nested_metrics() -> None:
    report = {"0": {"precision": 0.5, "recall": 0.4}, "accuracy": 0.9}

    parsed = parse_results(report)

    assert parsed == {
        "kind": "metrics",
        "metrics": {"0.precision": 0.5, "0.recall": 0.4, "accuracy": 0.9},
    }


# -- flat metrics of a report --------------------------------------------------------------


def test_flat_metrics_of_a_report_use_macro_and_weighted_averages() -> None:
    report = classification_report(MULTI_TRUE, MULTI_PRED, output_dict=True)

    flat = flat_metrics(parse_results(report))

    assert flat == {
        "accuracy": report["accuracy"],
        "precision": report["macro avg"]["precision"],
        "recall": report["macro avg"]["recall"],
        "f1": report["macro avg"]["f1-score"],
        "weighted_precision": report["weighted avg"]["precision"],
        "weighted_recall": report["weighted avg"]["recall"],
        "weighted_f1": report["weighted avg"]["f1-score"],
        "support": 12.0,
    }
    assert all(type(v) is float for v in flat.values())


def test_flat_metrics_fall_back_to_micro_when_there_is_no_macro_average() -> None:
    parsed = parse_results(
        {
            "a": {"precision": 1.0, "recall": 0.5, "f1-score": 0.6, "support": 4},
            "micro avg": {"precision": 0.9, "recall": 0.8, "f1-score": 0.7, "support": 4},
        }
    )

    flat = flat_metrics(parsed)

    assert (flat["precision"], flat["recall"], flat["f1"]) == (0.9, 0.8, 0.7)
    assert "weighted_f1" not in flat and "accuracy" not in flat


def test_flat_metrics_of_an_unknown_answer_raise_validation_error() -> None:
    with pytest.raises(ValidationError, match="parse_results"):
        flat_metrics({"kind": "pickle"})


# -- scores --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.87, np.float64(0.87), np.float32(0.5), np.array(0.25)])
def test_a_single_number_is_a_score(value: Any) -> None:
    parsed = parse_results(value)

    assert parsed == {"kind": "score", "score": pytest.approx(float(value))}
    assert type(parsed["score"]) is float
    assert flat_metrics(parsed) == {"score": pytest.approx(float(value))}


def test_integers_including_numpy_integers_are_scores_as_floats() -> None:
    assert parse_results(3) == {"kind": "score", "score": 3.0}
    assert flat_metrics(parse_results(np.int64(7))) == {"score": 7.0}


@pytest.mark.parametrize("value", [True, False, np.True_, np.array(False)])
def test_bools_are_not_numbers(value: Any) -> None:
    assert parse_results(value) is None


def test_bool_inside_a_metrics_dict_makes_it_unknown() -> None:
    assert parse_results({"rmse": 1.0, "converged": True}) is None


@pytest.mark.parametrize("value", [float("nan"), float("inf"), np.float64("-inf"), 10**400])
def test_non_finite_score_is_stored_as_none_and_left_out_of_flat_metrics(value: Any) -> None:
    parsed = parse_results(value)

    assert parsed == {"kind": "score", "score": None}
    assert _strict_json(parsed) == parsed
    assert flat_metrics(parsed) == {}


# -- dicts of metrics ----------------------------------------------------------------------


def test_dict_of_numbers_is_metrics_with_nested_dicts_flattened_by_dot() -> None:
    results = {"rmse": 1.2, "n": np.int32(40), "cv": {"mean": np.float64(0.8), "std": 0.05}}

    parsed = parse_results(results)

    assert parsed == {
        "kind": "metrics",
        "metrics": {"rmse": 1.2, "n": 40.0, "cv.mean": 0.8, "cv.std": 0.05},
    }
    assert flat_metrics(parsed) == parsed["metrics"]
    assert all(type(v) is float for v in flat_metrics(parsed).values())


def test_any_mapping_of_numbers_is_metrics() -> None:
    parsed = parse_results(OrderedDict(auc=0.91))

    assert parsed == {"kind": "metrics", "metrics": {"auc": 0.91}}


def test_nan_metric_is_none_in_the_structure_and_dropped_from_flat_metrics() -> None:
    parsed = parse_results({"auc": float("nan"), "loss": 0.3, "cv": {"max": np.inf}})

    assert parsed == {"kind": "metrics", "metrics": {"auc": None, "loss": 0.3, "cv.max": None}}
    assert _strict_json(parsed) == parsed
    assert flat_metrics(parsed) == {"loss": 0.3}


@pytest.mark.parametrize(
    "results",
    [
        {},
        {"rmse": 1.2, "model": "forest"},
        {"a": {"b": {"c": 1.0}}},
        {1: 0.5},
        {"a.b": 1.0, "a": {"b": 2.0}},
        {"scores": [0.1, 0.2]},
    ],
    ids=["empty", "string-value", "two-levels", "int-key", "colliding-names", "list-value"],
)
def test_dicts_that_are_not_all_numbers_are_unknown(results: dict[Any, Any]) -> None:
    assert parse_results(results) is None


# -- anything else -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "hello world", "precision is high", "precision recall f1-score support\n"],
    ids=["empty", "prose", "mentions-precision", "header-only"],
)
def test_strings_that_are_not_reports_are_unknown(text: str) -> None:
    assert parse_results(text) is None


@pytest.mark.parametrize(
    "obj",
    [None, object(), [0.1, 0.2], np.array([0.1, 0.2]), 1 + 2j, b"0.5", "0.5"],
    ids=["none", "object", "list", "array", "complex", "bytes", "numeric-string"],
)
def test_other_objects_are_unknown(obj: object) -> None:
    assert parse_results(obj) is None


def test_every_known_answer_is_strict_json() -> None:
    answers = [
        parse_results(classification_report(MULTI_TRUE, MULTI_PRED)),
        parse_results(classification_report(MULTI_TRUE, MULTI_PRED, output_dict=True)),
        parse_results(np.float32(0.5)),
        parse_results({"a": 1, "b": {"c": np.float16(2)}}),
    ]

    for answer in answers:
        assert answer is not None
        assert _strict_json(answer) == answer
