"""A measuring process: reads one JSON command a line, answers one JSON line.

    python -m benchmarks.vs_mlflow.worker lineage|mlflow

The harness keeps one worker per tool (and MLflow backend) alive, so in-process figures are
taken in a warm interpreter and the tools take turns (A B A B). The protocol runs on a copy
of the original stdout; ``sys.stdout`` goes to stderr, so whatever a tool prints cannot
corrupt it. This module imports neither tool: the MLflow worker runs in MLflow's own venv,
where lineage is not installed, and the lineage worker never sees MLflow.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback


def main() -> None:
    side = importlib.import_module(f"benchmarks.vs_mlflow.{sys.argv[1]}_side")
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            result = getattr(side, command["fn"])(**command.get("args", {}))
            answer = {"ok": True, "result": result}
        except Exception as exc:  # reported to the harness, which raises it there
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
