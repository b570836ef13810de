"""lineage demo: track real scikit-learn experiments in two sets, then pick the best.

    python examples/demo.py [--root lineage-demo]

Writes a registry to ./lineage-demo/.lineage (deleted and recreated on each run) and prints
what it recorded and which experiment of each set is best.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import classification_report, mean_absolute_error, mean_squared_error
from sklearn.model_selection import train_test_split

import lineage
from lineage import Experiment

CLASSIFIERS = [
    ("Random Forest, shallow", RandomForestClassifier, {"max_depth": 3, "n_estimators": 100}),
    ("Random Forest, deep", RandomForestClassifier, {"max_depth": 20, "n_estimators": 100}),
    ("Logistic Regression", LogisticRegression, {"C": 1.0, "max_iter": 500}),
    ("Gradient Boosting", GradientBoostingClassifier, {"n_estimators": 100, "max_depth": 3}),
]
REGRESSORS = [
    ("Ridge, alpha 1", Ridge, {"alpha": 1.0}),
    ("Ridge, alpha 100", Ridge, {"alpha": 100.0}),
    ("Random Forest regressor", RandomForestRegressor, {"n_estimators": 100, "max_depth": 10}),
]


def classification_set(root: Path) -> None:
    X, y = make_classification(4000, 20, n_informative=8, n_classes=2, random_state=7)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.33, random_state=7)
    for i, (name, cls, params) in enumerate(CLASSIFIERS):
        exp = Experiment(
            new_set=(i == 0),
            set_name="Financial text classification",
            experiment_name=name,
            experiment_description=f"{cls.__name__} on 4,000 synthetic documents",
            model_version=f"0.{i + 1}.0",
            data_version="1.0.0",
            root=root,
        )
        exp.seed(7)
        exp.hyperparameters = params
        started = time.perf_counter()
        model = cls(**params, random_state=7).fit(Xtr, ytr)
        exp.log_metric("fit_seconds", time.perf_counter() - started)
        report = classification_report(yte, model.predict(Xte))
        exp.register(
            model=model, data=(X, y), releasenotes=exp.draft_release_note(), results=report
        )
        print(f"  set {exp.set_number} / experiment {exp.number}: {name}")


def regression_set(root: Path) -> None:
    X, y = make_regression(3000, 15, noise=20.0, random_state=3)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=3)
    for i, (name, cls, params) in enumerate(REGRESSORS):
        with Experiment(
            new_set=(i == 0),
            set_name="House price regression",
            experiment_name=name,
            model_version=f"1.{i}.0",
            data_version="2026-11",
            root=root,
        ) as exp:
            exp.hyperparameters = params
            model = cls(**params).fit(Xtr, ytr)
            pred = model.predict(Xte)
            if hasattr(model, "estimators_"):  # a learning curve: error as trees are added
                for step in range(1, len(model.estimators_) + 1, 5):
                    partial = sum(t.predict(Xte) for t in model.estimators_[:step]) / step
                    exp.log_metric("rmse", mean_squared_error(yte, partial) ** 0.5, step=step)
            results = {
                "rmse": mean_squared_error(yte, pred) ** 0.5,
                "mae": mean_absolute_error(yte, pred),
            }
            exp.register(model=model, data=(X, y), results=results)
        print(f"  set {exp.set_number} / experiment {exp.number}: {name}")


def report(root: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    registry = lineage.load(root=root).registry
    for set_record, metric, higher in ((1, "f1", True), (2, "rmse", False)):
        table = Table(title=f"Set {set_record}: {registry.read_set(set_record)['name']}")
        for column in ("#", "experiment", "model", metric, "status"):
            table.add_column(column)
        numbers = registry.experiment_numbers(set_record)
        rows = [lineage.load(set_record, n, root=root) for n in numbers]
        best = (max if higher else min)(rows, key=lambda e: e.metrics[metric])
        for e in rows:
            mark = " ★" if e is best else ""
            table.add_row(
                str(e.number), e.name, e.record["model_version"],
                f"{e.metrics[metric]:.4g}{mark}", e.status,
            )
        console.print(table)
        console.print(
            f"Best by {metric} ({'higher' if higher else 'lower'} is better): "
            f"experiment {best.number}, {best.name!r}; model reloads as "
            f"{type(best.model).__name__}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="lineage-demo", help="folder to hold .lineage")
    args = parser.parse_args()
    root = Path(args.root) / ".lineage"
    shutil.rmtree(root, ignore_errors=True)
    print(f"Tracking experiments into {root}/")
    classification_set(root)
    regression_set(root)
    print()
    report(root)


if __name__ == "__main__":
    main()
