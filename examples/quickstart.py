# The README's quickstart, runnable as is: `python examples/quickstart.py`
# (writes ./.lineage in the working directory; eda.ipynb is created below if missing).
import json
from pathlib import Path

if not Path("eda.ipynb").exists():  # a tiny notebook to stand in for your exploration
    Path("eda.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# EDA"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }))

# Set up experiment metadata
from lineage import Experiment

exp = Experiment(
    new_set=True,
    experiment_name="Random Forest for Text Classification",
    experiment_description="Use Random Forest Algorithm for Financial Text Classification",
    model_version="0.0.1",
    data_version="0.0.1",
)

# Train your model as usual
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split

X, Y = make_classification(4000, 20, n_classes=2)
DEPTH = 100
clf = RandomForestClassifier(max_depth=DEPTH)
Xtrain, Xtest, Ytrain, Ytest = train_test_split(X, Y, test_size=0.33)
clf.fit(Xtrain, Ytrain)
Ypred = clf.predict(Xtest)
clf_report = classification_report(Ytest, Ypred)

# Register more lineage parameters
exp.hyperparameters = {"depth": DEPTH}
rln = exp.draft_release_note()
exp.register(model=clf, data=(X, Y), exploration="eda.ipynb", releasenotes=rln, results=clf_report)
