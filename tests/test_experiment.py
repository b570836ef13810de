"""The Experiment API as a user meets it: the seed example, metrics, failures, bad input."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

import lineage
from lineage import Experiment
from lineage.errors import (
    AlreadyRegisteredError,
    ArtifactError,
    InvalidMetricError,
    InvalidNameError,
    InvalidParameterError,
    SerializationError,
    SetNotFoundError,
    StateError,
)


def read_record(exp: Experiment) -> dict:
    return json.loads((exp.path / "experiment.json").read_text())


def tree(root: Path) -> set[str]:
    """Relative paths of the seed-visible files (what `ls -R` shows a user)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "objects" not in p.parts and not p.name.startswith(".")
    }


def test_seed_example_produces_the_seed_tree(tmp_path, trained, notebook):
    exp = Experiment(
        new_set=True,
        experiment_name="Random Forest for Text Classification",
        experiment_description="Use Random Forest Algorithm for Financial Text Classification",
        model_version="0.0.1",
        data_version="0.0.1",
    )
    exp.hyperparameters = {"depth": 100}
    rln = exp.draft_release_note()
    exp.register(
        model=trained["model"],
        data=(trained["X"], trained["y"]),
        exploration="eda.ipynb",
        releasenotes=rln,
        results=trained["report"],
    )
    e1 = "experiment_set_1/experiment_1/"
    files = tree(tmp_path / ".lineage")
    for seed_file in [
        "data/data.joblib",
        "exploration/notebook.ipynb",
        "model/model.joblib",
        "releasenotes/releasenotes.md",
        "results/results.pickle",
    ]:
        assert e1 + seed_file in files
    record = read_record(exp)
    assert record["status"] == "registered"
    assert record["hyperparameters"] == {"depth": 100}
    assert 0.5 < record["metrics"]["accuracy"] <= 1.0
    for entry in record["artifacts"]:
        assert (exp.path / entry["path"]).stat().st_size == entry["size"]
        assert entry["hash"].startswith("blake3:")


def test_second_experiment_goes_to_the_newest_set(root):
    Experiment(new_set=True, experiment_name="first set", root=root).register()
    Experiment(new_set=True, experiment_name="second set", root=root).register()
    exp = Experiment(experiment_name="joins set 2", root=root)
    assert (exp.set_number, exp.number) == (2, 2)


def test_set_can_be_picked_by_number_or_name(root):
    Experiment(new_set=True, experiment_name="a", set_name="baselines", root=root).register()
    Experiment(new_set=True, experiment_name="b", root=root).register()
    assert Experiment(experiment_name="c", set="baselines", root=root).set_number == 1
    assert Experiment(experiment_name="d", set=2, root=root).set_number == 2


def test_set_that_does_not_exist_raises_and_writes_nothing(root):
    Experiment(experiment_name="only", root=root).register()
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(SetNotFoundError, match="no experiment set 'nope'"):
        Experiment(experiment_name="x", set="nope", root=root)
    assert sorted(p.name for p in root.iterdir()) == before
    assert len(list((root / "experiment_set_1").iterdir())) == 2  # set.json + experiment_1


def test_experiment_is_visible_as_running_while_it_trains(root):
    exp = Experiment(experiment_name="long run", root=root)
    assert read_record(exp)["status"] == "running"
    assert lineage.load(root=root).status == "running"
    exp.register()
    assert read_record(exp)["status"] == "registered"


def test_exception_inside_with_marks_failed_with_traceback(root):
    with pytest.raises(ZeroDivisionError):
        with Experiment(experiment_name="diverges", root=root) as exp:
            exp.log_metric("loss", 1.0, step=0)
            1 / 0  # noqa: B018
    record = read_record(exp)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "ZeroDivisionError"
    assert "1 / 0" in record["error"]["traceback"]
    assert record["step_metrics"]["loss"]["count"] == 1


def test_with_block_that_ends_normally_registers(root):
    with Experiment(experiment_name="short", root=root) as exp:
        exp.log_metric("f1", 0.8)
    assert read_record(exp)["status"] == "registered"
    assert read_record(exp)["metrics"] == {"f1": 0.8}


def test_step_metrics_go_to_one_append_only_file(root):
    exp = Experiment(experiment_name="curves", root=root)
    for step in range(100):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
        exp.log_metric("acc", step / 100, step=step)
    exp.register()
    lines = (exp.path / "metrics" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 200
    first = json.loads(lines[0])
    assert first | {"time": 0} == {"name": "loss", "step": 0, "value": 1.0, "time": 0}
    record = read_record(exp)
    assert record["step_metrics"]["loss"] | {} == {
        "count": 100, "first_step": 0, "last_step": 99, "last": 0.01, "min": 0.01, "max": 1.0,
    }
    assert record["metrics"]["loss"] == 0.01  # the last value is the final one
    assert lineage.load(root=root).steps["acc"][-1] == (99, 0.99)
    assert any(a["path"] == "metrics/metrics.jsonl" for a in record["artifacts"])


def test_step_metrics_are_flushed_in_the_background(root, monkeypatch):
    monkeypatch.setenv("LINEAGE_FLUSH_INTERVAL", "0.05")
    exp = Experiment(experiment_name="live", root=root)
    exp.log_metric("loss", 0.5, step=1)
    path = exp.path / "metrics" / "metrics.jsonl"
    deadline = threading.Event()
    for _ in range(100):
        if path.exists() and path.read_text():
            break
        deadline.wait(0.05)
    assert json.loads(path.read_text())["value"] == 0.5
    exp.register()


def test_numpy_scalars_are_accepted_as_metrics_and_params(root):
    import numpy as np
    exp = Experiment(experiment_name="np", root=root)
    exp.hyperparameters = {"n": np.int64(3), "lr": np.float32(0.5), "sizes": (1, 2)}
    exp.log_metric("f1", np.float32(0.75))
    exp.log_metric("loss", np.float64(0.25), step=np.int64(2))
    exp.register()
    record = read_record(exp)
    assert record["hyperparameters"] == {"n": 3, "lr": 0.5, "sizes": [1, 2]}
    assert record["metrics"] == {"f1": 0.75, "loss": 0.25}


def test_log_params_merges(root):
    exp = Experiment(experiment_name="p", root=root)
    exp.hyperparameters = {"a": 1}
    exp.log_params({"b": 2}, c="three")
    assert exp.hyperparameters == {"a": 1, "b": 2, "c": "three"}


def test_tags_are_recorded(root):
    exp = Experiment(experiment_name="t", root=root)
    exp.tags["team"] = "nlp"
    exp.register()
    assert read_record(exp)["tags"] == {"team": "nlp"}


def test_results_number_becomes_score_and_dict_keeps_keys(root):
    a = Experiment(experiment_name="score", root=root).register(results=0.87)
    b = Experiment(experiment_name="dict", root=root).register(results={"rmse": 1.5, "mae": 1})
    assert read_record(a)["metrics"] == {"score": 0.87}
    assert read_record(b)["metrics"] == {"rmse": 1.5, "mae": 1.0}
    assert json.loads((b.path / "results" / "results.json").read_text())["kind"] == "metrics"


def test_exploration_script_is_stored_under_its_name(root, tmp_path):
    script = tmp_path / "explore.py"
    script.write_text("print('eda')\n")
    exp = Experiment(experiment_name="s", root=root).register(exploration=script)
    assert (exp.path / "exploration" / "explore.py").read_text() == "print('eda')\n"


def test_extra_artifacts_are_stored(root, tmp_path):
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    exp = Experiment(experiment_name="x", root=root)
    exp.register(artifacts={"vocab.txt": tmp_path / "vocab.txt", "thresholds": [0.1, 0.2]})
    assert (exp.path / "artifacts" / "vocab.txt").read_text() == "a\nb\n"
    assert lineage.load(root=root)._load("artifacts/thresholds") == [0.1, 0.2]


def test_seed_seeds_random_and_numpy_and_is_recorded(root):
    import random

    import numpy as np
    exp = Experiment(experiment_name="seeded", root=root)
    exp.seed(42)
    first = (random.random(), np.random.rand())
    exp.seed(42)
    assert (random.random(), np.random.rand()) == first
    exp.register()
    assert read_record(exp)["seed"]["value"] == 42
    assert {"random", "numpy"} <= set(read_record(exp)["seed"]["libraries"])


def test_release_note_draft_is_completed_at_register_and_diffs_the_previous(root, trained):
    first = Experiment(experiment_name="rf", model_version="0.0.1", root=root)
    first.hyperparameters = {"max_depth": 4}
    first.register(results={"f1": 0.80})
    second = Experiment(experiment_name="rf deeper", model_version="0.0.2", root=root)
    second.hyperparameters = {"max_depth": 8}
    draft = second.draft_release_note()
    assert "max_depth" in draft and "0.0.1 → 0.0.2" in draft
    second.register(data=(trained["X"], trained["y"]), releasenotes=draft, results={"f1": 0.85})
    notes = lineage.load(root=root).release_notes
    assert "`max_depth`: 4 → 8" in notes
    assert "`f1`: 0.8 → 0.85 (+0.05)" in notes
    assert "shape (400, 8)" in notes  # completed with the data given to register


def test_edited_release_note_is_stored_as_written(root):
    exp = Experiment(experiment_name="e", root=root)
    text = exp.draft_release_note() + "\nReviewed by Ana.\n"
    exp.register(releasenotes=text)
    assert lineage.load(root=root).release_notes == text


def test_load_gives_back_model_data_and_results(root, trained):
    Experiment(experiment_name="rf", root=root).register(
        model=trained["model"], data=(trained["X"], trained["y"]), results=trained["report"]
    )
    loaded = lineage.load(1, "rf", root=root)
    assert (loaded.model.predict(trained["Xte"]) == trained["model"].predict(trained["Xte"])).all()
    assert (loaded.data[0] == trained["X"]).all()
    assert loaded.results == trained["report"]
    from lineage.results import flat_metrics, parse_results

    assert loaded.metrics == flat_metrics(parse_results(trained["report"]))


def test_provenance_records_environment_and_script(root):
    exp = Experiment(experiment_name="prov", root=root).register()
    prov = read_record(exp)["provenance"]
    assert prov["python"]["version"].count(".") == 2
    assert prov["packages"]["pytest"] == pytest.__version__
    assert prov["host"]
    assert read_record(exp)["created"] <= read_record(exp)["ended"]


# -- bad input: a clear error, and nothing written -------------------------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 257, "257 characters"),
        ("bad\x00name", "control character"),
        ("two\nlines", "control character"),
        ("bell\x07", "control character"),
    ],
)
def test_bad_names_raise_before_anything_is_written(root, name, message):
    with pytest.raises(InvalidNameError, match=message):
        Experiment(experiment_name=name, root=root)
    assert not root.exists()


@pytest.mark.parametrize(
    "name", ["A/B test", "Árbol de decisión 🌲", "../../etc/passwd", "x" * 256]
)
def test_any_printable_name_works_and_never_becomes_a_path(root, name):
    exp = Experiment(experiment_name=name, root=root)
    assert exp.path == root / "experiment_set_1" / "experiment_1"
    exp.register()
    assert lineage.load(1, name, root=root).name == name


def test_hyperparameters_that_are_not_a_mapping_raise(root):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(InvalidParameterError, match="must be a mapping"):
        exp.hyperparameters = [("depth", 3)]


def test_hyperparameter_that_is_not_json_names_the_key(root):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(InvalidParameterError, match="'lock' has value of type lock"):
        exp.hyperparameters = {"depth": 3, "lock": threading.Lock()}
    assert exp.hyperparameters == {}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.9", None, True, [1.0]])
def test_metric_values_that_are_not_finite_numbers_raise(root, value):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(InvalidMetricError, match="'f1'"):
        exp.log_metric("f1", value)
    with pytest.raises(InvalidMetricError):
        exp.log_metric("loss", value, step=1)
    assert exp.metrics == {}


def test_step_that_is_not_an_integer_raises(root):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(InvalidMetricError, match="pass an integer"):
        exp.log_metric("loss", 0.1, step=1.5)


def test_missing_exploration_raises_before_anything_is_written(root, trained):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(ArtifactError, match="does not exist"):
        exp.register(model=trained["model"], exploration="nope.ipynb")
    assert read_record(exp)["status"] == "running"
    assert sorted(p.name for p in exp.path.iterdir()) == ["experiment.json"]


def test_model_that_cannot_be_serialized_names_its_type(root):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(SerializationError, match="model of type _thread.lock"):
        exp.register(model=threading.Lock())
    assert read_record(exp)["status"] == "running"
    assert not list((root / "objects" / "tmp").iterdir())


def test_register_twice_raises_before_writing(root):
    exp = Experiment(experiment_name="x", root=root).register(results=0.5)
    before = (exp.path / "experiment.json").read_bytes()
    with pytest.raises(AlreadyRegisteredError, match="immutable"):
        exp.register(results=0.9)
    with pytest.raises(AlreadyRegisteredError):
        exp.log_metric("f1", 0.9)
    assert (exp.path / "experiment.json").read_bytes() == before


def test_new_set_and_set_together_raise(root):
    with pytest.raises(StateError, match="not both"):
        Experiment(experiment_name="x", new_set=True, set=1, root=root)


def test_exploration_that_is_a_folder_raises_before_anything_is_written(root, tmp_path):
    exp = Experiment(experiment_name="x", root=root)
    with pytest.raises(ArtifactError, match="not a regular file"):
        exp.register(exploration=tmp_path)
    assert read_record(exp)["status"] == "running"
