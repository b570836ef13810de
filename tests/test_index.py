"""index.sqlite: a cache that answers queries, keeps up by itself, and can always be rebuilt."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import lineage
from lineage import Experiment
from lineage.errors import LineageWarning
from lineage.registry import Registry


def make(root, n, set_name="grid", **tags):
    for i in range(n):
        exp = Experiment(experiment_name=f"run {i}", root=root, set_name=set_name)
        exp.hyperparameters = {"max_depth": i, "kernel": "rbf" if i % 2 else "linear"}
        exp.log_metric("f1", i / 10)
        exp.tags.update(tags)
        exp.register()


def addresses(found) -> list[str]:
    return [e.address for e in found]


def test_deleting_the_index_loses_nothing(root):
    make(root, 5)
    before = addresses(lineage.search(where="metrics.f1 >= 0.2", order_by="-metrics.f1", root=root))
    for suffix in ("", "-wal", "-shm"):
        (root / f"index.sqlite{suffix}").unlink(missing_ok=True)
    after = addresses(lineage.search(where="metrics.f1 >= 0.2", order_by="-metrics.f1", root=root))
    assert before == after == ["1/5", "1/4", "1/3"]


def test_experiments_written_by_another_process_are_found(root):
    make(root, 2)
    assert len(lineage.search(root=root)) == 2  # the index now exists and is in sync
    script = textwrap.dedent(f"""
        from lineage import Experiment
        for i in range(3):
            Experiment(experiment_name="elsewhere", root={str(root)!r}).register(results=0.5)
    """)
    subprocess.run([sys.executable, "-c", script], check=True,
                   env={**os.environ, "LINEAGE_CAPTURE_GIT": "0"})
    assert len(lineage.search(where="name = 'elsewhere'", root=root)) == 3


def test_records_copied_in_by_hand_are_found(root):
    """A set folder that changed since the index saw it is rescanned."""
    make(root, 3)
    lineage.search(root=root)
    registry = Registry.open(root)
    folder = registry.experiment_path(1, 4)
    folder.mkdir()
    record = {**registry.read_record(1, 3), "number": 4, "id": "copied", "name": "copied in"}
    (folder / "experiment.json").write_text(json.dumps(record))
    assert "1/4" in addresses(lineage.search(root=root))


def test_a_running_experiment_is_listed_then_updated_when_it_registers(root):
    make(root, 1)
    exp = Experiment(experiment_name="live", root=root)
    found = lineage.search(where="name = 'live'", root=root)
    assert [e.status for e in found] == ["running"]
    exp.log_metric("f1", 0.99)
    exp.register()
    found = lineage.search(where="name = 'live'", root=root)
    assert [(e.status, e.metrics["f1"]) for e in found] == [("registered", 0.99)]


def test_a_corrupt_index_file_is_rebuilt_with_a_warning(root):
    make(root, 3)
    lineage.search(root=root)
    for suffix in ("-wal", "-shm"):
        (root / f"index.sqlite{suffix}").unlink(missing_ok=True)
    (root / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.warns(LineageWarning, match="rebuilding it"):
        found = lineage.search(root=root)
    assert len(found) == 3


def test_an_index_of_another_format_is_rebuilt_with_a_warning(root):
    make(root, 2)
    lineage.search(root=root)
    conn = sqlite3.connect(root / "index.sqlite")
    conn.execute("UPDATE meta SET value = 99 WHERE key = 'format'")
    conn.commit()
    conn.close()
    with pytest.warns(LineageWarning, match="index format 99"):
        assert len(lineage.search(root=root)) == 2


def test_a_corrupt_record_is_reported_by_path_and_the_rest_still_listed(root):
    make(root, 3)
    bad = root / "experiment_set_1" / "experiment_2" / "experiment.json"
    os.chmod(bad, 0o644)
    bad.write_text("{ not json")
    (root / "index.sqlite").unlink()
    with pytest.warns(LineageWarning, match="experiment_2/experiment.json"):
        found = lineage.search(root=root)
    assert addresses(found) == ["1/1", "1/3"]


def test_reindex_rebuilds_from_the_json_files(root):
    make(root, 4)
    registry = Registry.open(root)
    seen = []
    problems = registry.index.rebuild(registry, progress=seen.append)
    assert problems == [] and sum(seen) == 4
    assert registry.index.count() == 4


def test_tags_added_later_are_searchable_and_leave_the_record_untouched(root):
    make(root, 3)
    record_file = root / "experiment_set_1" / "experiment_2" / "experiment.json"
    before = record_file.read_bytes()
    lineage.load(1, 2, root=root).tag(team="nlp", reviewed=True)
    assert addresses(lineage.search(where="tags.team = 'nlp'", root=root)) == ["1/2"]
    assert record_file.read_bytes() == before
    lineage.load(1, 2, root=root).tag(team=None)
    assert lineage.search(where="tags.team exists", root=root) == []
    assert lineage.load(1, 2, root=root).tags == {"reviewed": True}


def test_concurrent_writers_and_readers_never_see_a_locked_database(root, tmp_path):
    make(root, 1)
    writer = textwrap.dedent(f"""
        from lineage import Experiment
        for i in range(20):
            e = Experiment(experiment_name="w", root={str(root)!r})
            e.log_metric("f1", i / 20)
            e.register()
    """)
    reader = textwrap.dedent(f"""
        import lineage
        for _ in range(40):
            lineage.search(1, "metrics.f1 >= 0", "-metrics.f1", 10, root={str(root)!r})
    """)
    env = {**os.environ, "LINEAGE_CAPTURE_GIT": "0"}
    procs = [subprocess.Popen([sys.executable, "-W", "error", "-c", code], env=env,
                              stderr=subprocess.PIPE)
             for code in [writer] * 6 + [reader] * 3]
    errors = [p.communicate(timeout=240)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), errors
    assert Registry.open(root).synced_index().count(1) == 121
