"""Shared fixtures: every test gets its own registry under tmp_path and a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lineage.registry import Registry


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LINEAGE_* variable leaks in, git capture stays quick, and the cwd is private."""
    for name in list(os.environ):
        if name.startswith("LINEAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git config, hook-time git variables and a notebook session out of a test.

    Not autouse: the provenance and git state tests opt in with ``pytestmark``.
    """
    for name in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_CEILING_DIRECTORIES",
        "LINEAGE_CAPTURE_GIT",
        "JPY_SESSION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A registry folder (not yet created) for the test to use."""
    return tmp_path / ".lineage"


@pytest.fixture
def registry(root: Path) -> Registry:
    reg = Registry(root)
    reg.ensure()
    return reg


@pytest.fixture(scope="session")
def trained() -> dict:
    """A real fitted RandomForest with its data and classification report, made once."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import classification_report
    from sklearn.model_selection import train_test_split

    X, y = make_classification(400, 8, n_classes=2, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(Xtr, ytr)
    report = classification_report(yte, clf.predict(Xte))
    return {"X": X, "y": y, "model": clf, "report": report, "Xte": Xte}


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "eda.ipynb"
    path.write_text(
        '{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# EDA"]}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    return path
