"""verify(): every way the files on disk can stop matching the records, found and named.

Registries are built through the public API and damaged the way a person (or a full disk)
would damage them: chmod then edit, truncate, delete by hand, drop files in, link out.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lineage import Experiment, integrity, layout, objects
from lineage.errors import ExperimentNotFoundError, IntegrityError, LineageError, StorageError
from lineage.registry import Registry

# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def registered(root, trained, notebook):
    """One fully registered experiment (model, data, notebook, results, notes, metrics)."""
    exp = Experiment(experiment_name="forest", root=root, data_version="1")
    exp.hyperparameters = {"max_depth": 4}
    for step in range(5):
        exp.log_metric("loss", 1 / (step + 1), step=step)
    exp.register(model=trained["model"], data=(trained["X"], trained["y"]),
                 exploration=notebook, releasenotes=exp.draft_release_note(),
                 results=trained["report"])
    return root


def exp_dir(root: Path, set_number: int = 1, number: int = 1) -> Path:
    return layout.experiment_dir(layout.set_dir(root, set_number), number)


def record(root: Path, set_number: int = 1, number: int = 1) -> dict:
    return json.loads(layout.experiment_json(exp_dir(root, set_number, number)).read_text())


def entry(root: Path, role: str) -> dict:
    return next(e for e in record(root)["artifacts"] if e["role"] == role)


def check(root: Path, *scope, quick: bool = False) -> integrity.Report:
    return integrity.verify(Registry.open(root), *scope, quick=quick)


def kinds(report: integrity.Report) -> list[tuple[str, str]]:
    """(kind, path relative to the registry) of every problem, sorted."""
    return sorted((p.kind, p.path.relative_to(report.root).as_posix()) for p in report)


def as_user_would(path: Path) -> None:
    """Artifacts are read-only: a user who means to edit one makes it writable first."""
    os.chmod(path, 0o644)


DATA = "experiment_set_1/experiment_1/data/data.joblib"
MODEL = "experiment_set_1/experiment_1/model/model.joblib"


def object_rel(e: dict) -> str:
    hexdigest = objects.split_ref(e["hash"])[1]
    return f"objects/{hexdigest[:2]}/{hexdigest[2:]}"


# -- a healthy registry --------------------------------------------------------------------------


def test_a_fresh_registry_verifies_clean_in_both_modes(registered):
    full = check(registered)
    assert full.ok, full.problems
    assert full.experiments == 1 and full.files == len(record(registered)["artifacts"])
    # every artifact is a hard link to its object: each inode is read once
    sizes = {(e["hash"], e["size"]) for e in record(registered)["artifacts"]}
    assert full.hashed_bytes == sum(size for _, size in sizes)
    assert full.summary().startswith("OK")
    quick = check(registered, quick=True)
    assert quick.ok and quick.hashed_bytes == 0
    full.raise_for_problems()  # nothing to raise


def test_running_and_failed_experiments_are_not_problems(registered):
    running = Experiment(experiment_name="still running", root=registered)
    running.log_metric("loss", 0.5, step=0)
    running._flush()
    with pytest.raises(ZeroDivisionError), Experiment(experiment_name="fails", root=registered):
        1 / 0  # noqa: B018
    report = check(registered)
    assert report.ok, report.problems
    assert report.experiments == 3
    running.register()


def test_progress_reports_bytes_up_to_the_total(registered):
    calls: list[tuple[int, int]] = []
    report = integrity.verify(Registry.open(registered), progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, report.hashed_bytes)
    assert calls[-1] == (report.hashed_bytes, report.hashed_bytes)
    done = [d for d, _ in calls]
    assert done == sorted(done)


def test_scope_by_number_name_and_latest(registered):
    Experiment(experiment_name="second", root=registered).register(model={"a": 1})
    assert check(registered, 1).experiments == 2
    assert check(registered, "forest").experiments == 2  # the set is named after experiment 1
    one = check(registered, 1, "latest")
    assert one.experiments == 1 and one.scope == "experiment 1/2"
    assert check(registered, 1, "forest").scope == "experiment 1/1"
    with pytest.raises(ExperimentNotFoundError):
        check(registered, 1, 9)


# -- damaged artifacts ---------------------------------------------------------------------------


def test_a_truncated_artifact_is_found_in_both_modes(registered):
    data = registered / DATA
    size = data.stat().st_size
    as_user_would(data)
    with open(data, "r+b") as f:
        f.truncate(size // 2)
    for quick in (False, True):
        report = check(registered, quick=quick)
        assert ("truncated", DATA) in kinds(report)
        problem = next(p for p in report if p.kind == "truncated")
        assert problem.expected == size and problem.actual == size // 2
        assert DATA in problem.message and f"{size:,}" in problem.message
        # the object is the same inode: it is truncated too, and every experiment sharing it
        assert ("object-changed", object_rel(entry(registered, "data"))) in kinds(report)
        assert not report.ok


def test_an_edited_artifact_same_size_is_found_by_its_hash_not_by_quick(registered):
    model = registered / MODEL
    size = model.stat().st_size
    as_user_would(model)
    with open(model, "r+b") as f:
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert model.stat().st_size == size
    report = check(registered)
    e = entry(registered, "model")
    assert kinds(report) == [("changed", MODEL), ("object-changed", object_rel(e))]
    changed = next(p for p in report if p.kind == "changed")
    assert changed.expected == e["hash"]
    assert changed.actual == objects.hash_ref(objects.hash_file(model))
    assert e["hash"] in changed.message and changed.actual in changed.message
    assert check(registered, quick=True).ok  # presence and sizes only: same size passes


def test_an_artifact_replaced_by_a_new_file_leaves_the_object_intact(registered):
    model = registered / MODEL
    data = bytearray(model.read_bytes())
    data[0] ^= 0xFF
    model.unlink()
    model.write_bytes(bytes(data))  # an editor that writes a new file and renames it
    assert kinds(check(registered)) == [("changed", MODEL)]


def test_a_deleted_artifact_is_missing(registered):
    (registered / MODEL).unlink()
    report = check(registered, quick=True)
    assert kinds(report) == [("missing", MODEL)]
    assert entry(registered, "model")["hash"] in report.problems[0].message


def test_a_hand_edited_manifest_hash_is_caught(registered):
    path = layout.experiment_json(exp_dir(registered))
    rec = json.loads(path.read_text())
    e = next(x for x in rec["artifacts"] if x["role"] == "model")
    forged = objects.hash_ref(objects.hash_bytes(b"not the model"))
    e["hash"] = forged
    path.write_text(json.dumps(rec))
    report = check(registered)
    found = kinds(report)
    assert ("changed", MODEL) in found  # the file does not have the forged hash
    assert ("object-missing", object_rel(e)) in found  # and no object has it
    assert len(found) == 2
    # a hash that is not even a hash is a corrupt record, reported by path
    e["hash"] = "md5:1234"
    path.write_text(json.dumps(rec))
    report = check(registered)
    assert ("corrupt-record", "experiment_set_1/experiment_1/experiment.json") in kinds(report)
    assert "md5:1234" in " ".join(p.message for p in report)


def test_a_manifest_path_leading_out_of_the_experiment_is_never_followed(registered, tmp_path):
    path = layout.experiment_json(exp_dir(registered))
    rec = json.loads(path.read_text())
    rec["artifacts"][0]["path"] = "../../../../outside.txt"
    path.write_text(json.dumps(rec))
    report = check(registered)
    assert [p.kind for p in report if p.kind == "corrupt-record"] == ["corrupt-record"]
    assert "not a plain relative path" in report.problems[0].message


def test_a_corrupt_experiment_json_is_reported_by_path(registered):
    path = layout.experiment_json(exp_dir(registered))
    path.write_text('{"format": 1, "status": "regis')
    report = check(registered)
    assert ("corrupt-record", "experiment_set_1/experiment_1/experiment.json") in kinds(report)
    assert "not valid JSON" in report.problems[0].message
    assert check(registered, 1, 1).problems[0].kind == "corrupt-record"  # scoped: by number


def test_an_object_deleted_by_hand_is_reported(registered):
    e = entry(registered, "data")
    obj = registered / object_rel(e)
    obj.unlink()
    for scope in [(), (1,), (1, 1)]:
        report = check(registered, *scope, quick=True)
        assert kinds(report) == [("object-missing", object_rel(e))], scope
        assert e["hash"] in report.problems[0].message
        assert "data/data.joblib" in report.problems[0].message


def test_an_object_that_does_not_hash_to_its_name_is_reported(registered):
    name = objects.hash_bytes(b"what the name promises")
    stray = layout.object_path(registered, name)
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"something else entirely")
    report = check(registered)
    assert kinds(report) == [("object-changed", f"objects/{name[:2]}/{name[2:]}")]
    assert check(registered, quick=True).ok
    # a name that is not a hash at all is not lineage's
    (layout.objects(registered) / "ab").mkdir(exist_ok=True)
    (layout.objects(registered) / "ab" / "notes.txt").write_text("hi")
    assert ("unlisted", "objects/ab/notes.txt") in kinds(check(registered, quick=True))


def test_an_unlisted_file_is_reported(registered):
    (exp_dir(registered) / "model" / "model-v2.joblib").write_bytes(b"dropped in by hand")
    (exp_dir(registered) / "notes.md").write_text("notes are allowed")
    report = check(registered, quick=True)
    assert kinds(report) == [("unlisted", "experiment_set_1/experiment_1/model/model-v2.joblib")]


def test_symlinks_are_reported_and_never_followed(registered, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the registry")
    exp = exp_dir(registered)
    (exp / "data" / "leak").symlink_to(outside)
    (registered / "experiment_set_1" / "shortcut").symlink_to(exp)
    report = check(registered)
    assert kinds(report) == [
        ("symlink", "experiment_set_1/experiment_1/data/leak"),
        ("symlink", "experiment_set_1/shortcut"),
    ]
    leak = next(p for p in report if p.path.name == "leak")
    assert "OUTSIDE the registry" in leak.message and str(outside) in leak.message
    shortcut = next(p for p in report if p.path.name == "shortcut")
    assert "inside the registry" in shortcut.message


def test_a_listed_artifact_replaced_by_a_symlink_is_reported_once(registered, tmp_path):
    model = registered / MODEL
    copy = tmp_path / "model.joblib"
    copy.write_bytes(model.read_bytes())  # the very same bytes: still not acceptable
    model.unlink()
    model.symlink_to(copy)
    assert kinds(check(registered)) == [("symlink", MODEL)]


VERIFY_IN_CHILD = r"""
import sys
from lineage import integrity
from lineage.registry import Registry
report = integrity.verify(Registry.open(sys.argv[1]))
print("\n".join(f"{p.kind} {p.path.name}" for p in report))
"""


def test_fifos_are_reported_without_being_opened(registered):
    exp = exp_dir(registered)
    os.mkfifo(exp / "results" / "pipe")  # unlisted
    model = registered / MODEL
    model.unlink()
    os.mkfifo(model)  # a listed artifact that became a FIFO: opening it would block forever
    os.mkfifo(layout.objects(registered) / "fifo")
    done = subprocess.run([sys.executable, "-c", VERIFY_IN_CHILD, str(registered)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert sorted(done.stdout.split("\n")[:-1]) == [
        "special fifo", "special model.joblib", "special pipe"]


def test_a_socket_is_a_special_file(registered):
    import socket

    path = exp_dir(registered) / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        os.chdir(path.parent)  # socket paths are short: bind by name
        s.bind(path.name)
        report = check(registered, quick=True)
    assert kinds(report) == [("special", "experiment_set_1/experiment_1/s.sock")]
    assert "socket" in report.problems[0].message


def test_a_folder_where_a_file_belongs(registered):
    model = registered / MODEL
    model.unlink()
    model.mkdir()
    assert ("not-a-file", MODEL) in kinds(check(registered))


def test_raise_for_problems_lists_them(registered):
    (registered / MODEL).unlink()
    report = check(registered)
    with pytest.raises(IntegrityError, match="model.joblib: missing"):
        report.raise_for_problems()
    as_dict = report.to_dict()
    assert as_dict["ok"] is False and as_dict["problems"][0]["kind"] == "missing"
    json.dumps(as_dict)


# -- a real full disk ----------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(where: Path, monkeypatch: pytest.MonkeyPatch, size: str = "2m"):
    """A 2 MB tmpfs at ``where``; without permission to mount, writes past 2 MB fail instead."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    if not mounted:
        limit = 2 * 1024 * 1024
        written = {"n": 0}
        original = objects.StagedObject.write

        def write(self, data):
            written["n"] += memoryview(data).nbytes
            if written["n"] > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(self, data)

        monkeypatch.setattr(objects.StagedObject, "write", write)
    try:
        yield mounted
    finally:
        if mounted:
            from lineage import experiment

            for path, reg in list(experiment._registries.items()):
                if str(path).startswith(str(where)):
                    reg.index.close()
                    del experiment._registries[path]
            if subprocess.run(["umount", str(where)], capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(where)], check=True)


def _chain(exc: BaseException | None) -> list[BaseException]:
    found = []
    while exc is not None:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


@pytest.mark.parametrize("what", ["array", "file"])
def test_a_full_disk_leaves_nothing_half_written(tmp_path, monkeypatch, what):
    import numpy as np

    big = np.random.default_rng(0).random(512 * 1024)  # 4 MB: twice the disk
    source = tmp_path / "big.bin"
    source.write_bytes(big.tobytes())
    with small_disk(tmp_path / "small", monkeypatch):
        root = tmp_path / "small" / ".lineage"
        Experiment(experiment_name="fits", root=root).register(model={"small": 1})
        with pytest.raises((LineageError, OSError)) as caught, \
                Experiment(experiment_name="too big", root=root) as exp:
            if what == "array":
                exp.register(data=big)
            else:
                exp.register(artifacts={"big": source})
        chain = _chain(caught.value)
        assert any(getattr(e, "errno", None) == errno.ENOSPC for e in chain), chain
        assert "No space left on device" in str(caught.value)
        assert isinstance(caught.value, StorageError)  # not "cannot be serialized"
        reg = Registry.open(root)
        assert reg.read_record(1, 2)["status"] == "failed"
        assert reg.read_record(1, 2)["artifacts"] == []
        assert list(layout.staging(root).iterdir()) == []  # no leftover staging file
        sizes = [p.stat().st_size for p in layout.objects(root).glob("??/*")]
        assert all(s < 1024 * 1024 for s in sizes)  # nothing of the big artifact was published
        report = integrity.verify(reg)  # every object hashes to its name, nothing half there
        assert report.ok, report.problems
        assert report.objects == len(sizes)
        # the space is back: the same registry takes a smaller artifact afterwards
        Experiment(experiment_name="after", root=root).register(data=big[:1000])
        assert integrity.verify(reg).ok


# -- lineage verify -------------------------------------------------------------------------------


def lineage(*args: str, root: Path, input: str | None = None):
    from click.testing import CliRunner

    from lineage.cli import cli

    return CliRunner().invoke(cli, [*args, "--root", str(root)], input=input,
                              env={"NO_COLOR": "1"}, catch_exceptions=False)


def test_cli_verify_exits_0_with_one_ok_line(registered):
    result = lineage("verify", root=registered)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("OK: registry of ")
    assert lineage("verify", "1", "--quick", root=registered).exit_code == 0
    assert "experiment 1/1" in lineage("verify", "forest/latest", root=registered).output


def test_cli_verify_exits_1_with_a_table_of_problems(registered):
    (registered / MODEL).unlink()
    (exp_dir(registered) / "stray.txt").write_text("x")
    result = lineage("verify", root=registered)
    assert result.exit_code == 1
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:-1]}
    assert set(rows) == {"missing", "unlisted"}
    assert "experiment_set_1/experiment_1/model/model.joblib" in rows["missing"]
    assert result.output.strip().splitlines()[-1].startswith("2 problems: ")
    data = json.loads(lineage("verify", "1/1", "--json", root=registered).output)
    assert data["ok"] is False and {p["kind"] for p in data["problems"]} == {
        "missing", "unlisted"}
    assert lineage("verify", "1/1", "--json", root=registered).exit_code == 1


def test_cli_verify_quick_misses_a_same_size_edit_but_not_a_truncation(registered):
    data = registered / DATA
    as_user_would(data)
    with open(data, "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 8 if f.read(8) != b"\0" * 8 else b"\1" * 8)
    assert lineage("verify", "--quick", root=registered).exit_code == 0
    assert lineage("verify", root=registered).exit_code == 1
    with open(data, "r+b") as f:
        f.truncate(100)
    result = lineage("verify", "--quick", root=registered)
    assert result.exit_code == 1 and "truncated" in result.output


def test_cli_verify_of_a_missing_scope_is_not_found(registered):
    result = lineage("verify", "1/7", root=registered)
    assert result.exit_code == 3


def test_cli_verify_draws_its_progress_bar_on_a_terminal(registered):
    """stderr on a pseudo-terminal, the threshold at 0: the rich bar runs, stdout stays data."""
    import pty

    leader, follower = pty.openpty()
    try:
        env = {**os.environ, "LINEAGE_PROGRESS_BYTES": "0", "NO_COLOR": "1"}
        done = subprocess.run([sys.executable, "-m", "lineage", "verify", "--root",
                               str(registered)], stdout=subprocess.PIPE, stderr=follower,
                              env=env, timeout=60, text=True)
        os.set_blocking(leader, False)
        drawn = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(leader, 65536):
                drawn += chunk
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 0
    assert done.stdout.startswith("OK: ")
    assert b"verifying" in drawn
