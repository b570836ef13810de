"""Data fingerprints: equal data, equal fingerprint; any change in values, shape, dtype,
names or container gives another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lineage.fingerprint import fingerprint, sketch


def test_equal_arrays_have_equal_fingerprints_whatever_their_memory_layout():
    a = np.arange(12.0).reshape(3, 4)
    assert fingerprint(a) == fingerprint(a.copy()) == fingerprint(np.asfortranarray(a))
    assert fingerprint(a).startswith("blake3:")


@pytest.mark.parametrize(
    "other",
    [
        lambda a: a.astype("float32"),
        lambda a: a.reshape(4, 3),
        lambda a: a + 1e-12,
        lambda a: a.T,
    ],
)
def test_any_change_to_an_array_changes_the_fingerprint(other):
    a = np.arange(12.0).reshape(3, 4)
    assert fingerprint(other(a)) != fingerprint(a)


def test_containers_are_part_of_the_fingerprint():
    x, y = np.zeros(3), np.ones(3)
    assert fingerprint((x, y)) == fingerprint((x.copy(), y.copy()))
    assert fingerprint((x, y)) != fingerprint([x, y])
    assert fingerprint((x, y)) != fingerprint((y, x))
    assert fingerprint({"X": x}) != fingerprint({"x": x})


def test_frames_hash_values_names_dtypes_and_index():
    df = pd.DataFrame({"price": [1.0, 2.0], "city": ["Oslo", "Lima"]})
    assert fingerprint(df) == fingerprint(df.copy())
    assert fingerprint(df) != fingerprint(df.rename(columns={"city": "town"}))
    assert fingerprint(df) != fingerprint(df.assign(city=["Oslo", "Rome"]))
    assert fingerprint(df) != fingerprint(df.set_axis([5, 6]))
    assert fingerprint(df["price"]) != fingerprint(df["price"].astype("float32"))


def test_unknown_objects_and_object_arrays_have_no_fingerprint():
    assert fingerprint(object()) is None
    assert fingerprint(np.array([{"a": 1}], dtype=object)) is None


def test_long_lists_of_plain_values_are_fingerprinted():
    assert fingerprint(list(range(5000))) == fingerprint(list(range(5000)))
    assert fingerprint(list(range(5000))) != fingerprint(list(range(1, 5001)))


def test_equal_data_has_equal_sketches_so_a_new_sketch_proves_new_data():
    big = np.random.default_rng(0).random(100_000)  # large enough to be sampled
    frame = pd.DataFrame({"x": big, "y": big * 2})
    assert sketch(big) == sketch(big.copy())
    assert sketch((frame, big)) == sketch((frame.copy(), big.copy()))
    assert sketch(big).startswith("blake3:") and sketch(big) != fingerprint(big)
    changed = big.copy()
    changed[0] += 1  # the first and last bytes are always sampled
    assert sketch(changed) != sketch(big)
    assert sketch(big.reshape(1000, 100)) != sketch(big)
    assert sketch(big.astype("float32")) != sketch(big.astype("float32").view("int32"))


def test_a_sketch_is_declined_where_it_would_cost_a_pass_over_the_data():
    assert sketch(np.arange(100_000.0).reshape(1000, 100).T) is None  # not contiguous
    assert sketch(pd.DataFrame({"city": ["Oslo", "Lima"] * 1000})) is None  # object column
    assert sketch(object()) is None
