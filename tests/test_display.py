"""Objects render themselves in notebooks, with every user string escaped."""

from __future__ import annotations

import lineage
from lineage import Experiment

EVIL = "<script>alert('x')</script>"


def test_experiment_list_renders_a_table_with_params_and_metrics(root):
    exp = Experiment(experiment_name=EVIL, root=root)
    exp.hyperparameters = {"depth": 3, "note": EVIL}
    exp.log_metric("f1", 0.912345678)
    exp.register()
    page = lineage.search(root=root)._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "params.depth" in page and "metrics.f1" in page
    assert ">0.9123<" in page and 'title="0.912345678"' in page


def test_a_loaded_experiment_renders_itself(root):
    Experiment(experiment_name="one", root=root).register(results=0.5)
    assert "metrics.score" in lineage.load(root=root)._repr_html_()


def test_a_comparison_marks_the_best_and_escapes(root):
    for f1 in (0.5, 0.7):
        exp = Experiment(experiment_name=EVIL, root=root)
        exp.log_metric("f1", f1)
        exp.register()
    page = lineage.compare(1, only_diff=True, root=root)._repr_html_()
    assert "0.7 ★ (+0.2)" in page
    assert "<script>" not in page
