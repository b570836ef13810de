"""The package as a whole: its public names, its import cost, its examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lineage

REPO = Path(__file__).resolve().parents[1]
HEAVY = ["numpy", "pandas", "joblib", "sklearn", "torch", "blake3", "sqlite3", "rich", "click",
         "starlette", "jinja2", "uvicorn", "subprocess", "platform", "socket"]


def test_all_is_sorted_and_lists_exactly_the_public_names():
    public = {n for n in vars(lineage) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(lineage, n)).__name__ == "module"}
    assert lineage.__all__ == sorted(lineage.__all__)
    assert set(lineage.__all__) == public - modules


def test_import_lineage_loads_nothing_heavy():
    code = f"import sys, lineage; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_quickstart_example_runs_as_is_and_makes_the_seed_tree(tmp_path):
    env = {**os.environ, "LINEAGE_CAPTURE_GIT": "0"}
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py")],
        cwd=tmp_path, env=env, check=True, capture_output=True,
    )
    exp = tmp_path / ".lineage" / "experiment_set_1" / "experiment_1"
    for name in ["data/data.joblib", "exploration/notebook.ipynb", "model/model.joblib",
                 "releasenotes/releasenotes.md", "results/results.pickle"]:
        assert (exp / name).is_file(), name
    record = json.loads((exp / "experiment.json").read_text())
    assert record["status"] == "registered"
    assert record["provenance"]["script"]["name"] == "quickstart.py"
    assert (exp / "provenance" / "quickstart.py").read_bytes() == (
        REPO / "examples" / "quickstart.py"
    ).read_bytes()


def test_demo_tracks_two_sets_and_prints_the_best(tmp_path):
    env = {**os.environ, "LINEAGE_CAPTURE_GIT": "0", "COLUMNS": "120"}
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py"), "--root", str(tmp_path / "d")],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    assert "Best of set 1 by f1" in out and "Best of set 2 by rmse" in out
    assert "$ lineage compare 1" in out and "★" in out
    sets = sorted(p.name for p in (tmp_path / "d" / ".lineage").glob("experiment_set_*"))
    assert sets == ["experiment_set_1", "experiment_set_2"]


def test_public_functions_are_not_shadowed_by_submodules():
    import lineage.comparison  # noqa: F401 - importing submodules must not replace names

    for name in lineage.__all__:
        assert type(getattr(lineage, name)).__name__ != "module", name
