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


def lineage_cli(*args: str) -> None:
    """Run a `lineage` command as a user would type it, and show it."""
    import subprocess
    import sys

    print(f"\n$ lineage {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "lineage", *args], check=True)


def report(root: Path) -> None:
    """What comes next: list, compare, choose, release, and load the released model back."""
    where = ("--root", str(root))
    lineage_cli("ls", *where)
    lineage_cli("ls", "1", *where)
    lineage_cli("compare", "1", *where)
    lineage_cli("best", "1", "--metric", "f1", "--promote", "production", *where)
    lineage_cli("best", "2", "--metric", "rmse", "--min", *where)

    best = lineage.best(1, "f1", root=root)
    released = lineage.load(alias="production", root=root)
    print(
        f"\nBest of set 1 by f1: experiment {best.address} {best.name!r} "
        f"(f1 {best.metrics['f1']:.4g}), released as 'production'; it loads back as "
        f"{type(released.model).__name__}."
    )
    best_rmse = lineage.best(2, "rmse", mode="min", root=root)
    print(
        f"Best of set 2 by rmse (lower is better): experiment {best_rmse.address} "
        f"{best_rmse.name!r} (rmse {best_rmse.metrics['rmse']:.4g})."
    )
    print(f"\nLook at them in a browser: lineage ui --root {root.parent}")


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
