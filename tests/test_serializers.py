"""Serializers chosen by type: the seed's joblib/pickle by default, PyTorch state dicts, and
formats that cannot run code on load (safe=True): skops, npy, npz, parquet, json.

Every test goes through the real register() and lineage.load(): real files, real libraries.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lineage
from lineage import Experiment
from lineage.errors import SerializationError, ValidationError

SAFE_SERIALIZERS = {"skops", "npy", "npz", "parquet", "json", "text", "torch"}


def record(exp: Experiment) -> dict:
    return json.loads((exp.path / "experiment.json").read_text())


def entry(exp: Experiment, role: str) -> dict:
    return next(a for a in record(exp)["artifacts"] if a["role"] == role)


def files(exp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(exp_path)) for p in exp_path.rglob("*") if p.is_file())


def nothing_written(exp: Experiment, root: Path) -> None:
    """The experiment is still running, with no artifact and no staging file."""
    assert record(exp)["status"] == "running"
    assert files(exp.path) == ["experiment.json"]
    assert not [p for p in (root / "objects").rglob("*") if p.is_file()]


@pytest.fixture
def logistic():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).random((60, 4))
    y = (X[:, 0] > 0.5).astype(int)
    return LogisticRegression().fit(X, y), X


@pytest.fixture
def frame() -> pd.DataFrame:
    n = 50
    return pd.DataFrame(
        {
            "price": np.linspace(0, 1, n),
            "count": np.arange(n, dtype="int32"),
            "city": [f"c{i % 7}" for i in range(n)],
            "flag": [True, False] * (n // 2),
            "when": pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC"),
            "kind": pd.Categorical(["a", "b"] * (n // 2)),
        },
        index=pd.Index([f"r{i}" for i in range(n)], name="row"),
    )


# -- the default path: the seed's names --------------------------------------------------------


def test_default_serializers_keep_the_seed_names(root, logistic):
    model, X = logistic
    exp = Experiment(experiment_name="default", root=root).register(
        model=model, data=(X, X[:, 0]), results={"f1": 0.9}
    )
    names = {e["role"]: (e["path"], e["serializer"]) for e in record(exp)["artifacts"]}
    assert names["model"] == ("model/model.joblib", "joblib")
    assert names["data"] == ("data/data.joblib", "joblib")
    assert names["results"] == ("results/results.pickle", "pickle")


def test_lineage_serialize_protocol_still_round_trips(root):
    exp = Experiment(experiment_name="protocol", root=root).register(model=Vocabulary(["a", "b"]))
    assert entry(exp, "model")["serializer"] == "protocol"
    assert entry(exp, "model")["path"] == "model/model.joblib"
    assert lineage.load(root=root).model.words == ["a", "b"]


class Vocabulary:
    """A user type that stores itself as text."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def __lineage_serialize__(self, out) -> None:
        out.write("\n".join(self.words).encode())

    @classmethod
    def __lineage_deserialize__(cls, path: Path) -> Vocabulary:
        return cls(path.read_text().split("\n"))


# -- PyTorch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("safe", [False, True])
def test_a_torch_module_is_stored_as_its_state_dict_and_loads_back(root, safe):
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    exp = Experiment(experiment_name="torch", root=root).register(model=net, safe=safe)

    e = entry(exp, "model")
    assert (e["path"], e["serializer"]) == ("model/model.pt", "torch")
    assert e["type"] == "torch.nn.modules.container.Sequential"
    state = lineage.load(root=root).model
    expected = net.state_dict()
    assert list(state) == list(expected)
    assert all(torch.equal(state[k], expected[k]) for k in expected)

    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    fresh.load_state_dict(state)  # as the README tells users to
    x = torch.randn(3, 4)
    assert torch.equal(fresh(x), net(x))


def test_torch_is_never_imported_to_recognise_a_model(tmp_path):
    code = (
        "import sys\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from lineage import Experiment\n"
        "m = LogisticRegression().fit([[0.0], [1.0]], [0, 1])\n"
        f"Experiment(experiment_name='x', root={str(tmp_path / 'r')!r}).register(model=m)\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "LINEAGE_CAPTURE_GIT": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "False"


# -- safe=True: formats that cannot run code on load --------------------------------------------


def test_safe_sklearn_model_is_stored_with_skops_and_loads_back(root, logistic):
    model, X = logistic
    exp = Experiment(experiment_name="skops", root=root).register(model=model, safe=True)
    e = entry(exp, "model")
    assert (e["path"], e["serializer"]) == ("model/model.skops", "skops")
    assert (lineage.load(root=root).model.predict(X) == model.predict(X)).all()


def test_skops_types_not_trusted_by_default_are_listed_and_load_model_trusts_them(
    root, trained
):
    Experiment(experiment_name="forest", root=root).register(model=trained["model"], safe=True)
    loaded = lineage.load(root=root)
    with pytest.raises(SerializationError) as info:
        loaded.model  # noqa: B018 - the property loads
    message = str(info.value)
    assert "sklearn.tree._tree.Tree" in message
    assert "exp.load_model(trusted=['sklearn.tree._tree.Tree'])" in message

    model = loaded.load_model(trusted=["sklearn.tree._tree.Tree"])
    Xte = trained["Xte"]
    assert (model.predict(Xte) == trained["model"].predict(Xte)).all()
    assert loaded.model is model


def test_safe_numpy_array_is_stored_as_npy(root):
    X = np.random.default_rng(1).random((30, 3)).astype("float32")
    exp = Experiment(experiment_name="npy", root=root).register(data=X, safe=True)
    e = entry(exp, "data")
    assert (e["path"], e["serializer"]) == ("data/data.npy", "npy")
    back = lineage.load(root=root).data
    assert back.dtype == X.dtype and (back == X).all()


@pytest.mark.parametrize(
    "data, kind, keys",
    [
        ((np.arange(5.0), np.arange(5)), "tuple", ["arr_0", "arr_1"]),
        ([np.ones((2, 2)), np.zeros(3, dtype="int8")], "list", ["arr_0", "arr_1"]),
        ({"X_train": np.ones((4, 2)), "y train": np.arange(4)}, "dict", ["X_train", "y train"]),
    ],
    ids=["tuple", "list", "dict"],
)
def test_safe_containers_of_arrays_are_npz_and_load_as_the_same_container(root, data, kind, keys):
    exp = Experiment(experiment_name="npz", root=root).register(data=data, safe=True)
    e = entry(exp, "data")
    assert (e["path"], e["serializer"]) == ("data/data.npz", "npz")
    assert e["container"] == {"kind": kind, "keys": keys}
    back = lineage.load(root=root).data
    assert type(back) is type(data)
    got_items = list(back.values()) if kind == "dict" else list(back)
    want_items = list(data.values()) if kind == "dict" else list(data)
    for got, want in zip(got_items, want_items, strict=True):
        assert got.dtype == want.dtype and (got == want).all()
    if kind == "dict":
        assert list(back) == keys


def test_safe_data_frame_is_stored_as_parquet(root, frame):
    exp = Experiment(experiment_name="parquet", root=root).register(data=frame, safe=True)
    e = entry(exp, "data")
    assert (e["path"], e["serializer"]) == ("data/data.parquet", "parquet")
    pd.testing.assert_frame_equal(lineage.load(root=root).data, frame)


def test_a_frame_larger_than_one_parquet_chunk_round_trips(root, monkeypatch):
    from lineage import serializers

    monkeypatch.setattr(serializers, "PARQUET_CHUNK_BYTES", 1000)  # many slices of rows
    frame = pd.DataFrame({"a": np.arange(5000), "s": [None] * 3000 + ["x"] * 2000})
    frame.columns = [0, 1]  # integer labels: Arrow names them "0" and "1"
    Experiment(experiment_name="chunks", root=root).register(data=frame, safe=True)
    pd.testing.assert_frame_equal(lineage.load(root=root).data, frame)


@pytest.mark.parametrize("kind", ["classification report", "dict of numbers"])
def test_safe_results_are_stored_as_their_json_value(root, trained, kind):
    results = trained["report"] if kind == "classification report" else {"rmse": 1.5}
    exp = Experiment(experiment_name="json", root=root).register(results=results, safe=True)
    e = entry(exp, "results")
    assert (e["path"], e["serializer"]) == ("results/results.value.json", "json")
    assert lineage.load(root=root).results == results
    assert (exp.path / "results" / "results.json").is_file()  # parsed metrics, as always


def test_safe_extra_objects_are_json_or_npy(root):
    weights = np.linspace(0, 1, 7)
    exp = Experiment(experiment_name="extra", root=root).register(
        artifacts={"thresholds": {"low": 0.1, "high": [0.8, 0.9]}, "weights": weights},
        safe=True,
    )
    by_path = {e["path"]: e["serializer"] for e in record(exp)["artifacts"]}
    assert by_path["artifacts/thresholds"] == "json"
    assert by_path["artifacts/weights"] == "npy"
    loaded = lineage.load(root=root)
    assert loaded._load("artifacts/thresholds") == {"low": 0.1, "high": [0.8, 0.9]}
    assert (loaded._load("artifacts/weights") == weights).all()


def test_safe_registration_writes_no_pickle_and_loading_never_unpickles(
    root, logistic, monkeypatch
):
    model, X = logistic
    exp = Experiment(experiment_name="safe", root=root).register(
        model=model,
        data={"X": X, "y": X[:, 0]},
        results="accuracy 0.93",
        artifacts={"weights": X[0], "config": {"lr": 0.1}},
        safe=True,
    )
    stored = files(exp.path)
    assert not [f for f in stored if f.endswith((".joblib", ".pickle", ".pkl"))], stored
    assert {e.get("serializer") for e in record(exp)["artifacts"]} - {None} <= SAFE_SERIALIZERS

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was called while loading a safe registry")

    import joblib

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(joblib, "load", refuse)

    loaded = lineage.load(root=root)
    assert (loaded.model.predict(X) == model.predict(X)).all()
    assert (loaded.data["X"] == X).all()
    assert loaded.results == "accuracy 0.93"
    assert loaded._load("artifacts/config") == {"lr": 0.1}
    assert (loaded._load("artifacts/weights") == X[0]).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"model": threading.Lock()}, r"model of type _thread.lock has no safe format"),
        ({"data": {"a": 1}}, r"data of type builtins.dict has no safe format .*holds a builtins"),
        ({"data": np.array([object()])}, r"data of type numpy.ndarray has no safe format"),
        ({"data": {1: np.ones(2)}}, r"key 1 is not a plain string"),
        ({"results": (0.9, 0.8)}, r"results of type builtins.tuple has no safe format"),
        ({"results": {"f1": float("nan")}}, r"results of type builtins.dict"),
        ({"artifacts": {"obj": object()}}, r"artifact 'obj' of type builtins.object"),
        ({"data": pd.DataFrame([[1, 2]], columns=["a", "a"])}, r"column names repeat"),
    ],
    ids=["lock", "dict-of-ints", "object-array", "int-key", "tuple", "nan", "object", "dup-col"],
)
def test_safe_objects_without_a_safe_format_raise_before_anything_is_written(
    root, logistic, arguments, message
):
    exp = Experiment(experiment_name="unsafe", root=root)
    with pytest.raises(SerializationError, match=message) as info:
        # a valid model comes first: it must not be written either
        exp.register(**{"model": logistic[0], **arguments}, safe=True)
    assert "safe=True" in str(info.value)
    nothing_written(exp, root)


def test_safe_error_lists_the_types_that_are_accepted(root):
    exp = Experiment(experiment_name="unsafe", root=root)
    with pytest.raises(SerializationError) as info:
        exp.register(data=[1, 2, 3], safe=True)
    assert "numpy array (npy)" in str(info.value) and "DataFrame (parquet)" in str(info.value)


def test_safe_refuses_the_protocol_whose_loader_is_code(root):
    exp = Experiment(experiment_name="protocol", root=root)
    with pytest.raises(SerializationError, match="has no safe format"):
        exp.register(model=Vocabulary(["a"]), safe=True)
    nothing_written(exp, root)


def test_safe_must_be_a_bool(root):
    with pytest.raises(ValidationError, match="safe must be True or False"):
        Experiment(experiment_name="x", root=root).register(safe="yes")


@pytest.mark.parametrize("library", ["skops", "pyarrow"])
def test_a_missing_optional_library_names_the_extra_to_install(root, logistic, frame,
                                                                monkeypatch, library):
    monkeypatch.setitem(sys.modules, library, None)  # the import fails as if not installed
    exp = Experiment(experiment_name="missing", root=root)
    arguments = {"model": logistic[0]} if library == "skops" else {"data": frame}
    with pytest.raises(SerializationError, match=library) as info:
        exp.register(**arguments, safe=True)
    assert 'pip install "lineage-ml[safe]"' in str(info.value)
    nothing_written(exp, root)


def test_loading_without_the_optional_library_names_the_extra(root, logistic, monkeypatch):
    Experiment(experiment_name="skops", root=root).register(model=logistic[0], safe=True)
    monkeypatch.setitem(sys.modules, "skops", None)
    with pytest.raises(SerializationError, match=r'pip install "lineage-ml\[safe\]"'):
        lineage.load(root=root).model  # noqa: B018


def test_safe_arrays_stream_without_a_second_copy_in_memory(root):
    X = np.random.default_rng(2).random(12_000_000)  # 96 MB
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        Experiment(experiment_name="big", root=root).register(data=X, safe=True)
        Experiment(experiment_name="big pair", root=root).register(data=(X, X[:10]), safe=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2, f"peak {peak / 1e6:.0f} MB while storing {X.nbytes / 1e6:.0f} MB"
    assert (lineage.load(1, 2, root=root).data[0] == X).all()
