"""lineage against MLflow on the same work, in one run, on the same machine (issue 6).

    python -m benchmarks.vs_mlflow [--quick] [--out DIR] [--only lineage] [--cases 1234567]

MLflow (pinned, with numpy and scikit-learn) lives in its own venv, ``benchmarks/.venv-mlflow``
by default, made on first use; its side runs there in worker processes. lineage's side runs
in the current interpreter's environment. See benchmarks/README.md for the cases.
"""
