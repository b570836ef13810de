"""Artifacts that cost nothing twice: data stored once, reused by fingerprint, versions checked."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import lineage
from lineage import Experiment, LineageWarning


def objects(root):
    """Every stored object (staging files in objects/tmp/ left out)."""
    store = root / "objects"
    return sorted(p for p in store.rglob("*") if p.is_file() and p.parent != store / "tmp")


def data_entry(exp):
    record = json.loads((exp.path / "experiment.json").read_text())
    return next(a for a in record["artifacts"] if a["role"] == "data"), record


def test_the_same_data_is_stored_once_and_not_serialized_again(root):
    X = np.random.default_rng(0).random((2000, 50))
    first = Experiment(experiment_name="a", root=root).register(data=(X, X[:, 0]))
    before = objects(root)
    second = Experiment(experiment_name="b", root=root).register(data=(X.copy(), X[:, 0].copy()))
    assert before and objects(root) == before  # zero new bytes
    entry_1, record_1 = data_entry(first)
    entry_2, record_2 = data_entry(second)
    assert entry_2["reused"] is True and entry_2["hash"] == entry_1["hash"]
    assert (first.path / "data" / "data.joblib").stat().st_ino == (
        second.path / "data" / "data.joblib").stat().st_ino
    assert record_1["data"]["fingerprint"] == record_2["data"]["fingerprint"]
    loaded = lineage.load(1, 2, root=root).data
    assert (loaded[0] == X).all()


@pytest.fixture
def overlap_small_data(monkeypatch):
    """Take the path large data takes (fingerprint while serializing) for test-sized data."""
    from lineage import registration

    monkeypatch.setattr(registration, "OVERLAP_BYTES", 1024)


def test_new_large_data_is_fingerprinted_while_it_is_stored(root, overlap_small_data):
    from lineage import artifacts
    from lineage.fingerprint import fingerprint, sketch

    X = np.random.default_rng(1).random((500, 20))
    assert artifacts.surely_new(root, sketch(X), "joblib")
    first = Experiment(experiment_name="a", data_version="1", root=root).register(data=X)
    assert data_entry(first)[1]["data"]["fingerprint"] == fingerprint(X)
    assert not artifacts.surely_new(root, sketch(X), "joblib")  # remembered at commit
    before = objects(root)
    second = Experiment(experiment_name="b", data_version="1", root=root).register(data=X.copy())
    assert objects(root) == before and data_entry(second)[0]["reused"] is True
    with pytest.warns(LineageWarning, match="registered with different data"):
        Experiment(experiment_name="c", data_version="1", root=root).register(data=X + 1)
    assert (lineage.load(1, 3, root=root).data == X + 1).all()


def test_data_stored_before_sketches_existed_is_still_stored_once(root, overlap_small_data):
    import shutil

    X = np.random.default_rng(2).random((500, 20))
    first = Experiment(experiment_name="a", root=root).register(data=X)
    shutil.rmtree(root / "fingerprints" / "sketches")
    before = objects(root)
    second = Experiment(experiment_name="b", root=root).register(data=X)
    assert objects(root) == before  # serialized again, but published onto the same object
    assert data_entry(second)[0]["hash"] == data_entry(first)[0]["hash"]
    assert (root / "fingerprints" / "sketches").is_dir()


def test_a_warning_raised_as_an_error_leaves_no_staged_data(root, overlap_small_data):
    import warnings

    Experiment(experiment_name="a", data_version="1", root=root).register(data=np.zeros(500))
    exp = Experiment(experiment_name="b", data_version="1", root=root)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LineageWarning)
        with pytest.raises(LineageWarning):
            exp.register(data=np.ones(500))
    assert list((root / "objects" / "tmp").iterdir()) == []


def test_different_data_is_stored_apart(root):
    Experiment(experiment_name="a", root=root).register(data=np.zeros(10))
    exp = Experiment(experiment_name="b", root=root).register(data=np.ones(10))
    assert "reused" not in data_entry(exp)[0]


def test_a_lost_fingerprint_map_only_costs_a_new_serialization(root):
    df = pd.DataFrame({"a": range(100), "b": ["x"] * 100})
    first = Experiment(experiment_name="a", root=root).register(data=df)
    import shutil

    shutil.rmtree(root / "fingerprints")
    second = Experiment(experiment_name="b", root=root).register(data=df)
    assert data_entry(second)[0]["hash"] == data_entry(first)[0]["hash"]
    assert (lineage.load(1, 2, root=root).data == df).all().all()


def test_the_record_holds_fingerprint_shapes_dtypes_and_rows(root):
    df = pd.DataFrame({"price": [1.5, 2.5, 3.5], "city": ["a", "b", "c"]})
    exp = Experiment(experiment_name="a", root=root).register(data=(df, np.arange(3)))
    data = data_entry(exp)[1]["data"]
    assert data["fingerprint"].startswith("blake3:")
    assert data["items"][0]["shape"] == [3, 2]
    assert data["items"][0]["columns"] == {"price": "float64", "city": str(df.dtypes["city"])}
    assert data["items"][1] == {"type": "numpy.ndarray", "shape": [3], "rows": 3,
                                "dtype": "int64"}


def test_a_data_version_reused_for_other_data_warns(root):
    Experiment(experiment_name="a", data_version="1.0", root=root).register(data=np.zeros(5))
    exp = Experiment(experiment_name="b", data_version="1.0", root=root)
    with pytest.warns(LineageWarning, match="data_version '1.0' was registered with different"):
        exp.register(data=np.ones(5))
    assert any("different data" in w for w in data_entry(exp)[1]["warnings"])


def test_the_same_data_under_a_new_version_warns(root):
    Experiment(experiment_name="a", data_version="1.0", root=root).register(data=np.zeros(5))
    with pytest.warns(LineageWarning, match="registered as data_version '1.0'"):
        Experiment(experiment_name="b", data_version="2.0", root=root).register(
            data=np.zeros(5))


def test_consistent_versions_do_not_warn(root):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Experiment(experiment_name="a", data_version="1.0", root=root).register(data=np.zeros(5))
        Experiment(experiment_name="b", data_version="1.0", root=root).register(data=np.zeros(5))
        Experiment(experiment_name="c", data_version="2.0", root=root).register(data=np.ones(5))
    assert [str(w.message) for w in caught] == []
    assert lineage.load(1, 3, root=root).record["warnings"] == []


def test_large_artifacts_show_progress_on_a_terminal_only(tmp_path):
    code = textwrap.dedent(f"""
        import numpy as np
        from lineage import Experiment
        Experiment(experiment_name="big", root={str(tmp_path / "r")!r}).register(
            data=np.zeros(4_000_000))
        print("done")
    """)
    env = {**os.environ, "LINEAGE_PROGRESS_BYTES": "1000000", "LINEAGE_CAPTURE_GIT": "0",
           "COLUMNS": "100"}
    pid, fd = pty.fork()
    if pid == 0:  # the child runs with a real terminal on stdout and stderr
        os.execve(sys.executable, [sys.executable, "-c", code], env)
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.waitpid(pid, 0)
    assert b"storing data" in output and b"done" in output
    piped = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           check=True)
    assert piped.stderr == b"" and piped.stdout == b"done\n"


def test_used_data_finds_every_experiment_on_the_same_data(root):
    X = np.arange(100.0)
    for name, data in [("a", X), ("b", np.ones(3)), ("c", X.copy())]:
        Experiment(experiment_name=name, root=root).register(data=data)
    expected = ["a", "c"]
    assert [e.name for e in lineage.used_data(lineage.load(1, 1, root=root), root=root)] == expected
    assert [e.name for e in lineage.used_data(X, root=root)] == expected
    fingerprint = lineage.load(1, 3, root=root).record["data"]["fingerprint"]
    assert [e.name for e in lineage.used_data(fingerprint, root=root)] == expected


def test_used_data_of_an_experiment_without_data_says_why(root):
    Experiment(experiment_name="no data", root=root).register()
    with pytest.raises(lineage.ValidationError, match="no data fingerprint"):
        lineage.used_data(lineage.load(root=root), root=root)


def test_trace_maps_data_versions_to_model_versions(root):
    for model, data_version, data in [("0.1", "d1", np.zeros(4)), ("0.2", "d1", np.zeros(4)),
                                      ("0.3", "d2", np.ones(4))]:
        Experiment(experiment_name=f"m{model}", model_version=model, data_version=data_version,
                   root=root).register(data=data)
    lineage_of = lineage.trace(1, 2, root=root)
    assert [r["number"] for r in lineage_of["same_data"]] == [1, 2]
    assert {v: [m["model_version"] for m in ms]
            for v, ms in lineage_of["data_versions"].items()} == {"d1": ["0.1", "0.2"],
                                                                  "d2": ["0.3"]}


# -- the reuse cache respects the serializer -----------------------------------------------------


def test_fingerprint_reuse_respects_the_serializer(root):
    X = np.random.default_rng(3).random((500, 4))
    y = np.arange(500)
    plain = Experiment(experiment_name="joblib", root=root).register(data=(X, y))
    safe = Experiment(experiment_name="npz", root=root).register(data=(X, y), safe=True)
    entry_plain, entry_safe = data_entry(plain)[0], data_entry(safe)[0]
    # a safe registration never reuses the joblib object of the same data
    assert entry_safe["serializer"] == "npz" and "reused" not in entry_safe
    assert entry_safe["hash"] != entry_plain["hash"]
    assert data_entry(plain)[1]["data"]["fingerprint"] == data_entry(safe)[1]["data"]["fingerprint"]

    safe_again = Experiment(experiment_name="npz again", root=root).register(
        data=(X.copy(), y.copy()), safe=True)
    plain_again = Experiment(experiment_name="joblib again", root=root).register(
        data=(X.copy(), y.copy()))
    again_safe, again_plain = data_entry(safe_again)[0], data_entry(plain_again)[0]
    assert again_safe["reused"] is True and again_safe["hash"] == entry_safe["hash"]
    assert again_safe["path"] == "data/data.npz"
    assert again_safe["container"] == {"kind": "tuple", "keys": ["arr_0", "arr_1"]}
    assert again_plain["reused"] is True and again_plain["hash"] == entry_plain["hash"]
    assert again_plain["serializer"] == "joblib" and again_plain["path"] == "data/data.joblib"

    for number in (1, 2, 3, 4):
        loaded = lineage.load(1, number, root=root).data
        assert type(loaded) is tuple and (loaded[0] == X).all() and (loaded[1] == y).all()
    assert len(list((root / "fingerprints").rglob("*.json"))) == 2


def test_a_fingerprint_entry_of_another_serializer_is_never_reused(root):
    X = np.arange(50.0)
    first = Experiment(experiment_name="a", root=root).register(data=X)
    digest = data_entry(first)[0]["hash"].partition(":")[2]
    fp = data_entry(first)[1]["data"]["fingerprint"].partition(":")[2]
    # a cache entry under the npy name that points at the joblib object (hand-made, or written
    # by an older lineage) must not make a safe registration link a joblib file
    npy_entry = root / "fingerprints" / fp[:2] / f"{fp[2:]}.npy.json"
    joblib_entry = json.loads((root / "fingerprints" / fp[:2] / f"{fp[2:]}.json").read_text())
    npy_entry.write_text(json.dumps(joblib_entry))
    second = Experiment(experiment_name="b", root=root).register(data=X, safe=True)
    entry = data_entry(second)[0]
    assert entry["serializer"] == "npy" and "reused" not in entry
    assert entry["hash"].partition(":")[2] != digest
    assert (lineage.load(1, 2, root=root).data == X).all()


# -- folders as extra artifacts ------------------------------------------------------------------


def data_entry_record(exp):
    return json.loads((exp.path / "experiment.json").read_text())


def make_folder(base):
    folder = base / "tokenizer"
    (folder / "merges" / "deep").mkdir(parents=True)
    (folder / "vocab.txt").write_text("a\nb\n")
    (folder / ".config").write_text("{}")
    (folder / "merges" / "part1.txt").write_text("ab\n")
    (folder / "merges" / "deep" / "part2.bin").write_bytes(bytes(range(256)))
    return folder


def test_a_folder_artifact_stores_every_file_under_it(root, tmp_path):
    folder = make_folder(tmp_path)
    exp = Experiment(experiment_name="folder", root=root).register(
        artifacts={"tokenizer": folder})
    entries = [e for e in data_entry_record(exp)["artifacts"] if e["role"] == "artifact"]
    assert [e["path"] for e in entries] == [
        "artifacts/tokenizer/.config",
        "artifacts/tokenizer/merges/deep/part2.bin",
        "artifacts/tokenizer/merges/part1.txt",
        "artifacts/tokenizer/vocab.txt",
    ]
    for e in entries:
        source = folder / e["path"].removeprefix("artifacts/tokenizer/")
        stored = exp.path / e["path"]
        assert stored.read_bytes() == source.read_bytes()
        assert e["size"] == source.stat().st_size and e["source"] == str(source)
    loaded = lineage.load(root=root)
    path = loaded.artifact_path("artifacts/tokenizer/merges/deep/part2.bin")
    assert path.read_bytes() == bytes(range(256))



@pytest.mark.parametrize("link", ["file", "folder", "outside"])
def test_a_symlink_inside_a_folder_artifact_is_refused_before_anything_is_written(
    root, tmp_path, link
):
    folder = make_folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the registry")
    if link == "file":
        os.symlink(folder / "vocab.txt", folder / "merges" / "vocab-link.txt")
    elif link == "folder":
        os.symlink(folder / "merges", folder / "merges-link")
    else:
        os.symlink(secret, folder / "merges" / "deep" / "leak.txt")
    exp = Experiment(experiment_name="links", root=root)
    with pytest.raises(lineage.ArtifactError, match="symbolic link") as info:
        exp.register(data=np.zeros(3), artifacts={"tokenizer": folder})
    assert "never followed" in str(info.value)
    assert data_entry_record(exp)["status"] == "running"
    assert sorted(p.name for p in exp.path.iterdir()) == ["experiment.json"]
    assert not [p for p in (root / "objects").rglob("*") if p.is_file()]


def test_an_empty_folder_artifact_is_refused(root, tmp_path):
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    exp = Experiment(experiment_name="empty", root=root)
    with pytest.raises(lineage.ArtifactError, match="holds no files"):
        exp.register(artifacts={"nothing": tmp_path / "empty"})
    assert data_entry_record(exp)["status"] == "running"


def test_a_special_file_inside_a_folder_artifact_is_refused(root, tmp_path):
    folder = make_folder(tmp_path)
    os.mkfifo(folder / "pipe")
    exp = Experiment(experiment_name="fifo", root=root)
    with pytest.raises(lineage.ArtifactError, match="neither a regular file nor a folder"):
        exp.register(artifacts={"tokenizer": folder})
    assert sorted(p.name for p in exp.path.iterdir()) == ["experiment.json"]
