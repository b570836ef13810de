"""Exploration captured from a running Jupyter notebook: a real kernel, started with
jupyter_client, runs the cells a user would; register() is called without ``exploration``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import ipykernel  # noqa: F401 - the kernel the tests start
import pytest

import lineage
from lineage import Experiment


def run_cells(cells: list[str], cwd: Path, **env: str) -> None:
    """Execute ``cells`` one after the other in a fresh kernel; fail on any error."""
    from jupyter_client import KernelManager

    kernel_env = {k: v for k, v in os.environ.items()
                  if not k.startswith(("LINEAGE_", "JPY_"))}
    kernel_env.update({"LINEAGE_CAPTURE_GIT": "0", **env})
    manager = KernelManager(kernel_name="python3", transport="ipc")
    manager.start_kernel(cwd=str(cwd), env=kernel_env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        for code in cells:
            msg_id = client.execute(code)
            errors = []
            while True:  # until the kernel is idle again after this cell
                msg = client.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "error":
                    errors.append("\n".join(msg["content"]["traceback"]))
                state = msg["content"].get("execution_state")
                if msg["msg_type"] == "status" and state == "idle":
                    break
            assert not errors, errors
            reply = client.get_shell_msg(timeout=120)
            assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def cells_for(root: Path) -> list[str]:
    return [
        "import numpy as np\nX = np.arange(10.0)",
        "%time y = X * 2",  # a magic: kept as typed, not as IPython's translation
        "",
        "from lineage import Experiment\n"
        f"exp = Experiment(experiment_name='from a notebook', root={str(root)!r})\n"
        "exp.register(data=(X, y))",
    ]


def exploration_entry(record: dict) -> dict:
    return next(a for a in record["artifacts"] if a["role"] == "exploration")


@pytest.mark.parametrize("announced", [None, "gone.ipynb"], ids=["unannounced", "missing"])
def test_a_kernel_without_a_notebook_file_stores_its_executed_cells(tmp_path, announced):
    root = tmp_path / ".lineage"
    cells = cells_for(root)
    env = {"JPY_SESSION_NAME": str(tmp_path / announced)} if announced else {}
    run_cells(cells, tmp_path, **env)

    exp = lineage.load(root=root)
    stored = exp.path / "exploration" / "notebook.ipynb"
    notebook = json.loads(stored.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    import nbformat

    nbformat.validate(nbformat.reads(stored.read_text(encoding="utf-8"), as_version=4))
    sources = ["".join(c["source"]) for c in notebook["cells"]]
    assert sources == [c for c in cells if c]  # every executed cell, in order; never run again
    assert all(c["cell_type"] == "code" and c["outputs"] == [] for c in notebook["cells"])

    record = exp.record
    assert exploration_entry(record)["captured"] == "executed cells"
    notes = [w for w in record["warnings"] if w.startswith("exploration:")]
    assert len(notes) == 1
    assert "could not be found" in notes[0] and "executed cell(s) were stored" in notes[0]
    if announced:
        assert f"{tmp_path / announced} does not exist" in notes[0]
    assert not any("path unknown" in w for w in record["warnings"])
    assert record["provenance"]["script"]["kind"] == "notebook"


def test_a_kernel_that_announces_its_notebook_file_stores_that_file(tmp_path, notebook):
    root = tmp_path / ".lineage"
    run_cells(cells_for(root), tmp_path, JPY_SESSION_NAME=str(notebook))

    exp = lineage.load(root=root)
    stored = exp.path / "exploration" / "notebook.ipynb"
    assert stored.read_bytes() == notebook.read_bytes()
    entry = exploration_entry(exp.record)
    assert entry["captured"] == "notebook file" and entry["source"] == str(notebook)
    assert not [w for w in exp.record["warnings"] if w.startswith("exploration:")]


def test_an_explicit_exploration_wins_over_the_running_notebook(tmp_path, notebook):
    root = tmp_path / ".lineage"
    script = tmp_path / "eda.py"
    script.write_text("print('eda')\n")
    run_cells(
        ["from lineage import Experiment\n"
         f"Experiment(experiment_name='x', root={str(root)!r}).register("
         f"exploration={str(script)!r})"],
        tmp_path, JPY_SESSION_NAME=str(notebook),
    )
    exp = lineage.load(root=root)
    assert [a["path"] for a in exp.artifacts if a["role"] == "exploration"] == [
        "exploration/eda.py"]


def test_outside_a_kernel_no_exploration_is_captured(root, monkeypatch, notebook):
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # inherited from a parent notebook
    exp = Experiment(experiment_name="script", root=root).register()
    assert not (exp.path / "exploration").exists()
