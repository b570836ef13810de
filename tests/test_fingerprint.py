"""Data fingerprints: equal data, equal fingerprint; any change in values, shape, dtype,
names or container gives another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lineage.fingerprint import fingerprint


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
