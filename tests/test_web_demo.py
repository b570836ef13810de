"""The registry the web UI tests look at, made through the public API (``build``).

Set 1 "Random Forest <b>" (a name with markup, to prove it is escaped) holds four registered
experiments with params, metrics, loss curves, release notes, a notebook and a config file,
one failed and one crashed experiment; set 2 a second experiment on the same data.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
    b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82").decode()
XSS = '<script>alert("xss")</script>'

NOTES = f"""# Release 1.{{n}}

A **deeper** forest. {XSS}

| metric | value |
|---|---|
| f1 | {{f1}} |

```python
print("hello")
```
"""


def notebook(path: Path) -> Path:
    cells = [
        {"cell_type": "markdown", "metadata": {},
         "source": ["# Exploring the data\n", "Some *text*."]},
        {"cell_type": "code", "execution_count": 1, "metadata": {},
         "source": ["import numpy as np\n", "np.arange(3)"],
         "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                      "data": {"text/plain": ["array([0, 1, 2])"]}}]},
        {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": "print('hi')",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]},
        {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": "display(html)",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"text/html": [f"<b>bold</b>{XSS}"]}}]},
        {"cell_type": "code", "execution_count": 4, "metadata": {}, "source": "plot()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"image/png": PNG, "text/plain": ["<Figure>"]}},
                     {"output_type": "display_data", "metadata": {},
                      "data": {"image/png": "bm90IGEgcG5n", "text/plain": ["<bad>"]}},
                     {"output_type": "display_data", "metadata": {},
                      "data": {"image/svg+xml": ["<svg onload='alert(1)'></svg>"]}}]},
        {"cell_type": "code", "execution_count": 5, "metadata": {}, "source": "1/0",
         "outputs": [{"output_type": "error", "ename": "ZeroDivisionError",
                      "evalue": "division by zero",
                      "traceback": ["\x1b[31mZeroDivisionError\x1b[0m: division by zero"]}]},
    ]
    doc = {"cells": cells, "metadata": {"language_info": {"name": "python"}},
           "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(doc))
    return path


def build(root: Path, work: Path) -> dict[str, Any]:
    """Make the demo registry at ``root`` (files it needs are written under ``work``)."""
    saved = os.environ.get("LINEAGE_CAPTURE_GIT")
    os.environ["LINEAGE_CAPTURE_GIT"] = "0"
    try:
        return _build(root, work)
    finally:
        if saved is None:
            os.environ.pop("LINEAGE_CAPTURE_GIT", None)
        else:
            os.environ["LINEAGE_CAPTURE_GIT"] = saved


def _build(root: Path, work: Path) -> dict[str, Any]:
    import numpy as np

    from lineage import Experiment

    work.mkdir(parents=True, exist_ok=True)
    nb = notebook(work / "eda.ipynb")
    X = np.arange(40, dtype=float).reshape(10, 4)
    y = np.arange(10) % 2
    configs = []
    for depth, f1 in ((4, 0.81), (8, 0.87), (16, 0.91), (32, 0.89)):
        new = depth == 4
        exp = Experiment(new_set=new, set_name="Random Forest <b>" if new else None,
                         experiment_name=f"rf depth {depth}",
                         experiment_description="trees <i>deep</i>",
                         model_version=f"1.{depth}", data_version="2026-11", root=root)
        exp.hyperparameters = {"max_depth": depth, "n_estimators": 100, "criterion": "gini",
                               "note": XSS}
        for step in range(30):
            exp.log_metric("loss", 1.0 / (1 + step * depth / 8), step=step)
        exp.log_metric("f1", f1)
        exp.log_metric("rmse", 1 - f1)
        config = work / f"config{depth}.yaml"
        config.write_text(f"max_depth: {depth}\nn_estimators: 100\ncriterion: gini\n")
        configs.append(config)
        exp.register(model={"depth": depth}, data=(X, y), exploration=nb,
                     releasenotes=NOTES.format(n=depth, f1=f1),
                     artifacts={"config.yaml": config})
    try:
        with Experiment(set=1, experiment_name="broken run", root=root) as exp:
            exp.hyperparameters = {"max_depth": 64}
            raise RuntimeError("out of memory <boom>")
    except RuntimeError:
        pass
    code = ("import os; from lineage import Experiment; "
            f"e = Experiment(set=1, experiment_name='killed run', root={str(root)!r}); "
            "e.log_metric('loss', 0.5, step=0); e._flush(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "LINEAGE_CAPTURE_GIT": "0"})
    other = Experiment(new_set=True, set_name="Second set", experiment_name="same data",
                       model_version="2.0", data_version="v-other", root=root)
    other.log_metric("accuracy", 0.7)
    with warnings.catch_warnings():  # "this data was registered as data_version '2026-11'"
        warnings.simplefilter("ignore")
        other.register(data=(X, y))
    return {"root": root, "notebook": nb}


def test_the_demo_registry_has_what_the_ui_tests_look_at(tmp_path: Path) -> None:
    import lineage

    build(tmp_path / "reg", tmp_path / "work")
    found = lineage.search(1, root=tmp_path / "reg")
    assert [e.status for e in found] == ["registered"] * 4 + ["failed", "crashed"]
    assert lineage.load(1, 3, root=tmp_path / "reg").steps["loss"][0] == (0, 1.0)
