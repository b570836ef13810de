"""gc() and du(): what is removed, what is kept and why, and the figures of what is used.

Real registries, real processes (one SIGKILLed while it runs), real kernel locks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lineage import Experiment, housekeeping, integrity, layout, objects
from lineage.errors import ValidationError
from lineage.registry import Registry

DAY = 86400.0


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_CAPTURE_GIT"] = "0"
    return env


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path in the registry with its size and inode (the index, a cache, left out)."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_ino)
            for p in sorted(root.rglob("*"))
            if not p.name.startswith(layout.INDEX)}


def stored(root: Path) -> set[str]:
    return {p.parent.name + p.name for p in layout.objects(root).glob("??/*")}


def referenced(root: Path) -> set[str]:
    found = set()
    for path in root.glob("experiment_set_*/experiment_*/experiment.json"):
        for e in json.loads(path.read_text())["artifacts"]:
            if e["role"] != "metrics":
                found.add(objects.split_ref(e["hash"])[1])
    return found


def age(path: Path, seconds: float) -> None:
    """Make a file or folder (and everything in it) look ``seconds`` old."""
    when = time.time() - seconds
    for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
        os.utime(p, (when, when), follow_symlinks=False)


@pytest.fixture
def two(root, trained):
    """Two registered experiments trained on the same data (stored once)."""
    for depth in (2, 4):
        exp = Experiment(experiment_name=f"forest {depth}", root=root)
        exp.hyperparameters = {"max_depth": depth}
        exp.register(model={"depth": depth}, data=(trained["X"], trained["y"]))
    return root


def test_parse_age():
    assert housekeeping.parse_age("7d") == 7 * DAY
    assert housekeeping.parse_age("12h") == 12 * 3600
    assert housekeeping.parse_age("30m") == 1800
    assert housekeeping.parse_age("1.5w") == 1.5 * 7 * DAY
    assert housekeeping.parse_age("0") == 0
    for bad in ("7", "seven days", "-1d", "7y", ""):
        with pytest.raises(ValidationError, match="7d, 12h"):
            housekeeping.parse_age(bad)


# -- objects ------------------------------------------------------------------------------------


def test_unreferenced_objects_go_referenced_ones_stay_and_a_dry_run_changes_nothing(two):
    reg = Registry.open(two)
    orphan, _ = objects.store_bytes(two, b"bytes nobody registered")
    before = snapshot(two)
    plan = housekeeping.gc(reg)  # dry run by default
    assert plan.dry_run and not plan.removed
    assert [i.path for i in plan.items] == [layout.object_path(two, orphan)]
    assert plan.size == len(b"bytes nobody registered")
    assert snapshot(two) == before

    done = housekeeping.gc(reg, dry_run=False)
    assert [i.path for i in done.removed] == [layout.object_path(two, orphan)]
    assert not done.errors
    assert stored(two) == referenced(two)  # every referenced object is still there
    assert integrity.verify(reg).ok
    assert not housekeeping.gc(reg).items  # nothing left to do


def test_an_experiment_deleted_by_hand_frees_its_objects_and_data_cache(two, trained):
    reg = Registry.open(two)
    before = stored(two)
    exp2 = layout.experiment_dir(layout.set_dir(two, 1), 2)
    shutil.rmtree(exp2)  # what a user may do: rm -rf an experiment
    plan = housekeeping.gc(reg)
    kinds = sorted(i.kind for i in plan.items)
    # experiment 2's model only: the data is shared with experiment 1
    assert kinds == ["object"]
    shutil.rmtree(layout.experiment_dir(layout.set_dir(two, 1), 1))
    plan = housekeeping.gc(reg, dry_run=False)
    assert {i.path.parent.name + i.path.name for i in plan.removed if i.kind == "object"} == before
    assert [i.kind for i in plan.removed].count("fingerprint") == 1
    assert stored(two) == set()
    # the same data registers again (serialized anew: its cached object is gone)
    Experiment(experiment_name="again", root=two).register(data=(trained["X"], trained["y"]))
    assert integrity.verify(reg).ok


def test_gc_drops_the_sketch_of_data_whose_object_it_removes(root, trained, monkeypatch):
    from lineage import registration

    monkeypatch.setattr(registration, "OVERLAP_BYTES", 1024)  # large data's path, small data
    kept = Experiment(experiment_name="kept", root=root).register(data=trained["X"])
    gone = Experiment(experiment_name="gone", root=root).register(data=trained["X"] + 1)
    sketches = root / "fingerprints" / "sketches"
    assert len(list(sketches.glob("*/*"))) == 2
    shutil.rmtree(gone.path)
    plan = housekeeping.gc(Registry.open(root), dry_run=False)
    dropped = [i for i in plan.removed if i.kind == "fingerprint"]
    assert sorted(i.path.parent.parent.name for i in dropped) == ["fingerprints", "sketches"]
    assert len(list(sketches.glob("*/*"))) == 1  # kept's, which still names a stored object
    again = Experiment(experiment_name="again", root=root).register(data=trained["X"].copy())
    data = [next(a for a in e.record["artifacts"] if a["role"] == "data") for e in (kept, again)]
    assert data[1]["reused"] is True and data[1]["hash"] == data[0]["hash"]


def test_a_corrupt_record_makes_gc_keep_every_object(two):
    reg = Registry.open(two)
    orphan, _ = objects.store_bytes(two, b"orphan")
    record = layout.experiment_json(layout.experiment_dir(layout.set_dir(two, 1), 2))
    record.write_text("{ not json")
    plan = housekeeping.gc(reg, dry_run=False)
    assert not plan.objects and not plan.removed
    assert layout.object_path(two, orphan).exists()
    assert any("cannot know which objects" in k and str(record) in k for k in plan.kept)


def test_objects_are_kept_while_an_experiment_runs(two):
    reg = Registry.open(two)
    orphan, _ = objects.store_bytes(two, b"orphan")
    running = Experiment(experiment_name="training", root=two)
    plan = housekeeping.gc(reg, dry_run=False)
    assert not plan.removed and layout.object_path(two, orphan).exists()
    address = f"{running.set_number}/{running.number}"
    assert any("running" in k and address in k for k in plan.kept)
    running.register()
    plan = housekeeping.gc(reg, dry_run=False)
    assert [i.path for i in plan.removed] == [layout.object_path(two, orphan)]


def test_execute_removes_only_what_the_shown_plan_listed(two):
    reg = Registry.open(two)
    first, _ = objects.store_bytes(two, b"first orphan")
    shown = housekeeping.gc(reg)
    second, _ = objects.store_bytes(two, b"orphaned while the user read the plan")
    done = housekeeping.execute(reg, shown)
    assert [i.path for i in done.removed] == [layout.object_path(two, first)]
    assert layout.object_path(two, second).exists()
    assert any("not in the plan" in k for k in done.kept)


# -- staging files -------------------------------------------------------------------------------


def test_staging_files_abandoned_go_locked_and_young_ones_stay(two):
    reg = Registry.open(two)
    writing = objects.StagedObject(two)  # holds its kernel lock, as a writer at work does
    writing.write(b"half of a large artifact")
    writing.flush()
    abandoned = layout.staging(two) / "obj-abandoned"
    abandoned.write_bytes(b"left by a process that died")
    young = layout.staging(two) / "obj-young"
    young.write_bytes(b"created a moment ago, not locked yet")
    for path in (writing.path, abandoned):
        age(path, 120)
    plan = housekeeping.gc(reg, dry_run=False)
    assert [i.path for i in plan.removed] == [abandoned]
    assert writing.path.exists() and young.exists()
    assert any("being written" in k for k in plan.kept)
    writing.discard()


def test_a_staging_file_of_a_killed_writer_is_collected(root):
    root.mkdir()
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from lineage import objects\n"
        "s = objects.StagedObject(Path(sys.argv[1]))\n"
        "s.write(b'x' * 1000); s.flush()\n"
        "print(s.path, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE,
                            text=True, env=child_env())
    staged = Path(proc.stdout.readline().strip())
    age(staged, 120)
    reg = Registry(root)
    reg.ensure()
    assert not housekeeping.gc(reg).staging  # alive: locked
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert [i.path for i in housekeeping.gc(reg, dry_run=False).removed] == [staged]


# -- crashed experiments ---------------------------------------------------------------------------

RUN_AND_HANG = r"""
import sys, time
from lineage import Experiment
exp = Experiment(experiment_name="doomed", root=sys.argv[1])
exp.hyperparameters = {"lr": 0.1}
for step in range(10):
    exp.log_metric("loss", 1.0 / (step + 1), step=step)
exp._flush()
print(exp.set_number, exp.number, flush=True)
time.sleep(120)
"""


def test_a_crashed_experiment_is_removed_only_past_the_age(two):
    import lineage

    proc = subprocess.Popen([sys.executable, "-c", RUN_AND_HANG, str(two)],
                            stdout=subprocess.PIPE, text=True, env=child_env())
    set_number, number = map(int, proc.stdout.readline().split())
    folder = layout.experiment_dir(layout.set_dir(two, set_number), number)
    reg = Registry.open(two)
    assert not housekeeping.gc(reg, older_than=0).experiments  # alive: running, never removed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert reg.effective_status(reg.read_record(set_number, number)) == "crashed"
    assert len(lineage.search(set_number, root=two)) == 3

    plan = housekeeping.gc(reg, dry_run=False)  # 7 days by default: it crashed just now
    assert not plan.removed and folder.is_dir()
    assert any(f"{set_number}/{number} crashed" in k for k in plan.kept)

    age(folder, 8 * DAY)
    plan = housekeeping.gc(reg)
    assert [(i.kind, i.address) for i in plan.items] == [("experiment", f"1/{number}")]
    assert "crashed" in plan.items[0].reason
    assert folder.is_dir()  # a dry run
    plan = housekeeping.gc(reg, dry_run=False)
    assert [i.path for i in plan.removed] == [folder] and not folder.exists()
    assert [e.number for e in lineage.search(set_number, root=two)] == [1, 2]  # index in sync
    assert integrity.verify(reg).ok


def test_a_folder_without_record_is_removed_past_the_age_with_read_only_files(two):
    reg = Registry.open(two)
    number, folder = reg.allocate_experiment(1)
    (folder / "model").mkdir()
    (folder / "model" / "model.joblib").write_bytes(b"half registered")
    os.chmod(folder / "model" / "model.joblib", 0o444)
    os.chmod(folder / "model", 0o555)  # even a read-only folder
    orphan, _ = objects.store_bytes(two, b"orphan")
    plan = housekeeping.gc(reg, older_than=0)
    assert not plan.items  # seconds old: may be a run starting up, so objects wait too
    assert any("no record yet" in k for k in plan.kept)
    age(folder, 3600)  # an hour without a record: abandoned, objects go, the folder waits
    plan = housekeeping.gc(reg)
    assert [i.kind for i in plan.items] == ["object"]
    assert any("has no experiment.json" in k for k in plan.kept)
    age(folder, 8 * DAY)
    plan = housekeeping.gc(reg, dry_run=False)
    assert [(i.address, i.reason.split(",")[0]) for i in plan.removed] == [
        (f"1/{number}", "no experiment.json"), (None, "referenced by no experiment's manifest")]
    assert not folder.exists() and not plan.errors


def test_older_than_must_not_be_negative(two):
    with pytest.raises(ValidationError):
        housekeeping.gc(Registry.open(two), older_than=-1)


# -- du --------------------------------------------------------------------------------------------


def test_du_counts_shared_data_once(two, trained):
    Experiment(experiment_name="other set", root=two, new_set=True).register(
        data=(trained["X"], trained["y"]))
    reg = Registry.open(two)
    usage = housekeeping.du(reg)
    data = [json.loads(p.read_text())["artifacts"]
            for p in sorted(two.glob("experiment_set_1/experiment_*/experiment.json"))]
    entries = [e for artifacts in data for e in artifacts]
    logical = sum(e["size"] for e in entries)
    unique = sum({e["hash"]: e["size"] for e in entries}.values())
    data_size = next(e["size"] for e in entries if e["role"] == "data")
    first = usage["sets"][0]
    assert (first["set"], first["experiments"], first["files"]) == (1, 2, len(entries))
    assert first["logical_bytes"] == logical and first["unique_bytes"] == unique
    assert first["unique_bytes"] < first["logical_bytes"]
    assert first["saved_bytes"] == logical - unique >= data_size
    total = usage["total"]
    # across sets the data is still stored once
    assert total["logical_bytes"] == logical + usage["sets"][1]["logical_bytes"]
    assert total["saved_bytes"] >= 2 * data_size
    assert total["object_bytes"] == total["unique_bytes"] - sum(
        e["size"] for e in entries if e["role"] == "metrics")
    assert total["unreferenced_bytes"] == 0
    assert 0 < total["disk_bytes"] < total["logical_bytes"] + 1024 * 1024
    assert usage["problems"] == []
    json.dumps(usage)


# -- lineage gc, lineage du -----------------------------------------------------------------------


def lineage(*args: str, root: Path, input: str | None = None):
    from click.testing import CliRunner

    from lineage.cli import cli

    return CliRunner().invoke(cli, [*args, "--root", str(root)], input=input,
                              env={"NO_COLOR": "1"}, catch_exceptions=False)


def test_cli_gc_shows_asks_and_removes(two):
    orphan, _ = objects.store_bytes(two, b"orphan")
    path = layout.object_path(two, orphan)
    shown = f"objects/{orphan[:2]}/{orphan[2:]}"

    result = lineage("gc", "--dry-run", root=two)
    assert result.exit_code == 0 and shown in result.output and "nothing removed" in result.output
    assert path.exists()

    result = lineage("gc", root=two, input="n\n")
    assert result.exit_code == 0 and "Remove these 1 item(s)" in result.output
    assert "Nothing removed." in result.output and path.exists()

    result = lineage("gc", root=two, input="y\n")
    assert result.exit_code == 0 and "Removed 1 item(s)" in result.output
    assert not path.exists()
    assert lineage("gc", root=two).output.strip() == "Nothing to remove."


def test_cli_gc_json_and_options(two):
    orphan, _ = objects.store_bytes(two, b"orphan")
    assert lineage("gc", "--json", root=two).exit_code == 2  # it cannot ask
    assert lineage("gc", "--older-than", "7", root=two).exit_code == 2  # no unit
    plan = json.loads(lineage("gc", "--dry-run", "--json", root=two).output)
    assert plan["dry_run"] is True and [i["kind"] for i in plan["items"]] == ["object"]
    done = json.loads(lineage("gc", "--yes", "--json", "--older-than", "1h", root=two).output)
    assert done["older_than"] == 3600 and len(done["removed"]) == 1
    assert not layout.object_path(two, orphan).exists()


def test_cli_du(two):
    result = lineage("du", root=two)
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split() == [
        "set", "name", "experiments", "files", "logical", "unique", "saved"]
    assert "registry on disk:" in result.output
    usage = json.loads(lineage("du", "--json", root=two).output)
    assert usage["sets"][0]["unique_bytes"] < usage["sets"][0]["logical_bytes"]


def test_public_functions_take_root(two):
    import lineage

    orphan, _ = objects.store_bytes(two, b"orphan")
    report = lineage.verify(root=two)
    assert report.ok and report.experiments == 2
    assert lineage.verify(1, 2, quick=True, root=two).scope == "experiment 1/2"
    plan = lineage.gc(root=two)
    assert plan.dry_run and [i.kind for i in plan.items] == ["object"]
    assert layout.object_path(two, orphan).exists()
    assert lineage.gc(older_than=0, dry_run=False, root=two).removed
    assert not layout.object_path(two, orphan).exists()
    assert lineage.du(root=two)["total"]["saved_bytes"] > 0
