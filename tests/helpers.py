"""Helpers shared by tests that run real child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lineage import layout, objects


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_CAPTURE_GIT"] = "0"
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def spawn(script: str, *args: object, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=child_env(),
        start_new_session=True,  # its own process group: finish() can kill its children too
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """Wait for a child and return its stdout; fail with its stderr when it did not exit 0."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # with any child still holding its pipes
        out, err = proc.communicate()
        pytest.fail(f"child {proc.pid} timed out:\n{err}")
    assert proc.returncode == 0, f"child {proc.pid} exited {proc.returncode}:\n{err}"
    return out


def verify_artifacts(exp_path: Path, record: dict) -> None:
    """Every artifact of the manifest exists with its recorded size and blake3 hash."""
    for entry in record["artifacts"]:
        file = layout.artifact(exp_path, entry["path"])
        assert file.is_file(), f"{file} is in the manifest of a registered record but missing"
        assert file.stat().st_size == entry["size"], f"{file} has another size than recorded"
        algorithm, digest = objects.split_ref(entry["hash"])
        assert algorithm == "blake3"
        assert objects.hash_file(file) == digest, f"{file} does not match its recorded hash"


def run_together(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Release children that each printed ``ready`` at once (a start barrier), and return
    their outputs; any child still alive on the way out is killed."""
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        assert all(p.poll() is None for p in procs)
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        return [finish(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
