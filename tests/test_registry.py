"""The registry's invariants (docs/design.md), proved with real processes and real files.

Nothing of the storage is mocked: concurrent writers are separate Python processes started
with ``subprocess.Popen``, crashes are real ``SIGKILL``s, and every check reads the folder.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from pathlib import Path

import pytest

from helpers import finish, run_together, spawn, verify_artifacts
from lineage import Experiment, _fs, layout
from lineage.errors import (
    CorruptRecordError,
    ExperimentNotFoundError,
    FormatVersionError,
    NotFoundError,
    RegistryError,
    SetNotFoundError,
)
from lineage.registry import Registry, find_root

# -- helpers ----------------------------------------------------------------------------------


def temp_leftovers(root: Path) -> list[Path]:
    """Temporary files of atomic writes and object staging that were left behind."""
    found = [p for p in root.rglob("*.tmp") if p.is_file()]
    staging = layout.staging(root)
    if staging.is_dir():
        found += [p for p in staging.iterdir()]
    return found


def records_of(reg: Registry) -> tuple[list[dict], list[CorruptRecordError]]:
    problems: list[CorruptRecordError] = []
    records = [r for s in reg.set_numbers() for r in reg.iter_records(s, problems)]
    return records, problems


# -- concurrent writers -----------------------------------------------------------------------

REGISTER_MANY = r"""
import json, sys, time
from lineage import Experiment

root, proc, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit(2)
print(json.dumps({"began": time.monotonic()}), flush=True)
for i in range(count):
    exp = Experiment(experiment_name=f"p{proc}-e{i}", root=root)
    exp.hyperparameters = {"proc": proc, "i": i, "learning_rate": 0.01 * (i + 1)}
    exp.register(results={"score": i})
    print(json.dumps({"set": exp.set_number, "number": exp.number, "id": exp.id,
                      "name": exp.name}), flush=True)
print(json.dumps({"ended": time.monotonic()}), flush=True)
"""

PROCESSES, PER_PROCESS = 16, 25


def test_sixteen_processes_registering_at_once_get_distinct_numbers_in_one_set(root, tmp_path):
    started = time.monotonic()
    procs = [spawn(REGISTER_MANY, root, k, PER_PROCESS, cwd=tmp_path) for k in range(PROCESSES)]
    outputs = run_together(procs)  # a start barrier: all import before any registers
    elapsed = time.monotonic() - started

    lines = [[json.loads(line) for line in out.splitlines() if line] for out in outputs]
    # They really wrote at the same time: the last to begin began before the first ended.
    assert max(ls[0]["began"] for ls in lines) < min(ls[-1]["ended"] for ls in lines)
    reported = [r for ls in lines for r in ls if "number" in r]
    total = PROCESSES * PER_PROCESS
    assert len(reported) == total
    pairs = {(r["set"], r["number"]) for r in reported}
    assert len(pairs) == total, "two processes were given the same (set, number)"

    # Only one set: none of them asked for a new one, so the race on "first set" made one.
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(layout.SET_PREFIX)) == [
        "experiment_set_1"
    ]
    reg = Registry.open(root)
    assert reg.set_numbers() == [1]
    set_record = reg.read_set(1)
    assert set_record["number"] == 1 and uuid.UUID(set_record["id"])

    problems: list[CorruptRecordError] = []
    records = list(reg.iter_records(1, problems))
    assert problems == []
    # Numbers are claimed by mkdir, smallest free first: 1..400, no gap, nothing lost.
    assert [r["number"] for r in records] == list(range(1, total + 1))
    assert {(r["set"]["number"], r["number"]) for r in records} == pairs
    by_number = {r["number"]: r for r in records}
    for rep in reported:
        record = by_number[rep["number"]]
        assert (record["id"], record["name"]) == (rep["id"], rep["name"])
    assert len({r["id"] for r in records}) == total

    for record in records:
        assert record["status"] == "registered"
        assert record["set"]["id"] == set_record["id"]
        proc, i = (int(x[1:]) for x in record["name"].split("-"))
        assert record["hyperparameters"] == {"proc": proc, "i": i, "learning_rate": 0.01 * (i + 1)}
        assert record["metrics"]["score"] == i
        assert {a["role"] for a in record["artifacts"]} >= {"results", "results-json"}
        verify_artifacts(reg.experiment_path(1, record["number"]), record)

    # Equal results were stored once: one object per distinct hash, nothing half-written.
    hashes = {a["hash"] for r in records for a in r["artifacts"]}
    stored = [p for p in layout.objects(root).glob("??/*") if p.parent.name != layout.STAGING]
    assert len(stored) == len(hashes)
    assert temp_leftovers(root) == []
    print(f"\n{total} experiments from {PROCESSES} processes registered in {elapsed:.1f} s")


NEW_SET = r"""
import json, sys
from lineage import Experiment

root, proc, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
for j in range(count):
    exp = Experiment(new_set=True, experiment_name=f"p{proc}-s{j}", root=root)
    exp.register(results={"score": j})
    print(json.dumps({"set": exp.set_number, "number": exp.number, "name": exp.name}), flush=True)
"""


def test_concurrent_new_set_processes_get_distinct_valid_sets(root, tmp_path):
    procs = [spawn(NEW_SET, root, k, 4, cwd=tmp_path) for k in range(8)]
    outputs = run_together(procs)  # a start barrier: all import before any registers

    reported = [json.loads(line) for out in outputs for line in out.splitlines() if line]
    assert len(reported) == 32
    assert len({r["set"] for r in reported}) == 32, "two processes got the same set number"
    assert all(r["number"] == 1 for r in reported)

    reg = Registry.open(root)
    assert reg.set_numbers() == list(range(1, 33))
    ids = set()
    for rep in reported:
        record = reg.read_set(rep["set"])
        assert record.keys() >= {"format", "id", "number", "name", "description", "created"}
        assert record["format"] == 1 and record["number"] == rep["set"]
        assert record["name"] == rep["name"]
        ids.add(str(uuid.UUID(record["id"])))
        (only,) = reg.iter_records(rep["set"])
        assert only["set"]["id"] == record["id"] and only["status"] == "registered"
    assert len(ids) == 32
    assert temp_leftovers(root) == []


# -- finding the registry ---------------------------------------------------------------------


def test_find_root_takes_an_explicit_root_as_the_lineage_folder_or_its_parent(
    tmp_path, monkeypatch
):
    project = tmp_path / "project"
    assert find_root(project / ".lineage") == project / ".lineage"
    assert find_root(project) == project / ".lineage"
    assert find_root(str(project)) == project / ".lineage"
    assert find_root("project") == project / ".lineage"  # relative to the cwd, made absolute
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_root("~/project") == project / ".lineage"
    # A registry under another name is recognised by its lineage.json.
    shared = tmp_path / "team-registry"
    Registry.open(shared / ".lineage", create=True)
    os.rename(shared / ".lineage", tmp_path / "renamed")
    assert find_root(tmp_path / "renamed") == tmp_path / "renamed"
    # An explicit root wins over LINEAGE_ROOT and over a .lineage found by walking up.
    (tmp_path / ".lineage").mkdir()
    monkeypatch.setenv("LINEAGE_ROOT", str(tmp_path / "elsewhere"))
    assert find_root(project) == project / ".lineage"


def test_find_root_uses_lineage_root_before_walking_up(tmp_path, monkeypatch):
    (tmp_path / ".lineage").mkdir()
    target = tmp_path / "runs"
    monkeypatch.setenv("LINEAGE_ROOT", str(target))
    assert find_root() == target / ".lineage"
    monkeypatch.setenv("LINEAGE_ROOT", str(target / ".lineage"))
    assert find_root() == target / ".lineage"
    exp = Experiment(experiment_name="env-root").register(results=0.5)
    assert exp.path.is_relative_to(target / ".lineage")
    monkeypatch.setenv("LINEAGE_ROOT", "")  # empty means unset
    assert find_root() == tmp_path / ".lineage"


def test_find_root_walks_up_from_a_subfolder_to_the_nearest_lineage(tmp_path, monkeypatch):
    Registry.open(tmp_path / ".lineage", create=True)
    deep = tmp_path / "src" / "models" / "forest"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_root() == tmp_path / ".lineage"
    exp = Experiment(experiment_name="from-a-subfolder").register(results=0.5)
    assert exp.path == tmp_path / ".lineage" / "experiment_set_1" / "experiment_1"
    assert not (deep / ".lineage").exists()
    # The nearest one wins, as git finds the nearest .git.
    (tmp_path / "src" / ".lineage").mkdir()
    assert find_root() == tmp_path / "src" / ".lineage"


def test_find_root_without_any_registry_creates_one_in_the_cwd(tmp_path):
    above = [p / ".lineage" for p in tmp_path.parents if (p / ".lineage").exists()]
    assert not above, f"a stray registry above the test folder changes the answer: {above}"
    assert find_root() == tmp_path / ".lineage"
    assert not (tmp_path / ".lineage").exists(), "finding the root must not create it"
    with pytest.raises(RegistryError, match="no lineage registry"):
        Registry.open()
    Experiment(experiment_name="first").register(results=0.5)
    assert json.loads((tmp_path / ".lineage" / "lineage.json").read_text())["format"] == 1


# -- format and corrupt records ---------------------------------------------------------------


def test_a_new_registry_says_format_1(root):
    Experiment(experiment_name="x", root=root).register(results=0.5)
    marker = json.loads((root / "lineage.json").read_text())
    assert marker["format"] == 1
    Registry.open(root).check_format()  # reads back without complaint


def test_a_format_2_registry_is_refused_and_left_untouched(root):
    root.mkdir()
    (root / "lineage.json").write_text('{"format": 2}\n')
    with pytest.raises(FormatVersionError, match="format 2"):
        Registry.open(root)
    with pytest.raises(FormatVersionError):
        Registry.open(root, create=True)
    with pytest.raises(FormatVersionError):
        Experiment(experiment_name="x", root=root)
    assert sorted(p.name for p in root.iterdir()) == ["lineage.json"]
    assert (root / "lineage.json").read_text() == '{"format": 2}\n'


def test_a_lineage_json_that_is_not_json_is_a_corrupt_record(root):
    root.mkdir()
    (root / "lineage.json").write_text('{"format": ')
    with pytest.raises(CorruptRecordError) as info:
        Registry.open(root)
    assert info.value.path == root / "lineage.json"


def _three_registered(root: Path) -> Registry:
    for name in ("a", "b", "c"):
        Experiment(experiment_name=name, root=root).register(results={"score": 0.5})
    return Registry.open(root)


CORRUPTIONS = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "not-utf8": lambda good: b"\xff\xfe\x00{" + good,
    "a-list": lambda good: b"[1, 2, 3]",
    "missing-keys": lambda good: json.dumps({"format": 1, "number": 2}).encode(),
    "wrong-number": lambda good: good.replace(b'"number": 2', b'"number": 5'),
    "set-not-an-object": lambda good: json.dumps({**json.loads(good), "set": 1}).encode(),
    "artifacts-not-a-list": lambda good: json.dumps(
        {**json.loads(good), "artifacts": "model.joblib"}
    ).encode(),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_a_corrupt_experiment_json_names_its_path_and_is_skipped_by_iter_records(root, kind):
    reg = _three_registered(root)
    path = reg.experiment_path(1, 2) / "experiment.json"
    corrupt = CORRUPTIONS[kind](path.read_bytes())
    assert corrupt != path.read_bytes()
    path.write_bytes(corrupt)

    with pytest.raises(CorruptRecordError) as info:
        reg.read_record(1, 2)
    assert info.value.path == path
    assert str(path) in str(info.value)

    problems: list[CorruptRecordError] = []
    assert [r["name"] for r in reg.iter_records(1, problems)] == ["a", "c"]
    assert [p.path for p in problems] == [path]
    assert [r["name"] for r in reg.iter_records(1)] == ["a", "c"]  # without a problems list
    assert reg.find_experiment(1, "latest")["name"] == "c"


# -- finding sets and experiments -------------------------------------------------------------


def test_find_set_by_number_name_and_latest(registry):
    for name in ("alpha", "beta", "alpha"):
        registry.create_set(name)
    assert registry.find_set(2)["name"] == "beta"
    assert registry.find_set("2")["name"] == "beta"
    assert registry.find_set("beta")["number"] == 2
    assert registry.find_set("alpha")["number"] == 3  # the newest of that name
    assert registry.find_set("latest")["number"] == 3
    for missing in (7, "7", "gamma"):
        with pytest.raises(SetNotFoundError) as info:
            registry.find_set(missing)
        message = str(info.value)
        assert "1 ('alpha')" in message and "2 ('beta')" in message and "3 ('alpha')" in message
        assert isinstance(info.value, (NotFoundError, LookupError))


def test_find_set_in_an_empty_registry_says_there_are_none(registry):
    with pytest.raises(SetNotFoundError, match="none yet"):
        registry.find_set("latest")


def test_find_experiment_by_number_name_and_latest(root):
    for name in ("forest", "svm", "forest"):
        Experiment(experiment_name=name, root=root).register(results=0.5)
    reg = Registry.open(root)
    assert reg.find_experiment(1, 2)["name"] == "svm"
    assert reg.find_experiment(1, "2")["name"] == "svm"
    assert reg.find_experiment(1, "svm")["number"] == 2
    assert reg.find_experiment(1, "forest")["number"] == 3  # the newest of that name
    assert reg.find_experiment(1, "latest")["number"] == 3
    for missing in (9, "9", "knn"):
        with pytest.raises(ExperimentNotFoundError) as info:
            reg.find_experiment(1, missing)
        message = str(info.value)
        for listed in ("1 ('forest')", "2 ('svm')", "3 ('forest')"):
            assert listed in message, f"{listed} missing from: {message}"
        assert isinstance(info.value, LookupError)


def test_find_experiment_in_an_empty_set_says_there_are_none(registry):
    registry.create_set("empty")
    with pytest.raises(ExperimentNotFoundError, match="none yet"):
        registry.find_experiment(1, "latest")


def test_find_experiment_in_a_missing_set_is_a_set_error(registry):
    registry.create_set("only")
    with pytest.raises(SetNotFoundError, match="1 \\('only'\\)"):
        registry.find_experiment(4, "latest")


# -- running, crashed -------------------------------------------------------------------------

SLEEPER = r"""
import json, sys, time
from lineage import Experiment

exp = Experiment(experiment_name="sleeper", root=sys.argv[1])
exp.hyperparameters = {"epochs": 100}
print(json.dumps({"set": exp.set_number, "number": exp.number, "path": str(exp.path)}), flush=True)
time.sleep(120)
"""


def test_a_sigkilled_experiment_is_crashed_and_a_live_one_is_running(root, tmp_path):
    proc = spawn(SLEEPER, root, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        info = json.loads(line)
        reg = Registry.open(root)
        record = reg.read_record(info["set"], info["number"])
        assert record["status"] == "running"
        assert record["process"]["pid"] == proc.pid
        assert reg.effective_status(record) == "running"

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    record = reg.read_record(info["set"], info["number"])
    assert record["status"] == "running"  # nothing could write after SIGKILL ...
    assert reg.effective_status(record) == "crashed"  # ... and the reader tells
    assert not any(r["status"] == "registered" for r in reg.iter_records(info["set"]))

    # A record from another host has no lock to ask: its heartbeat's age decides.
    elsewhere = {**record, "process": {**record["process"], "host": "another-host"}}
    lock = Path(info["path"])  # the folder is the lock; its mtime the heartbeat
    os.utime(lock)
    assert reg.effective_status(elsewhere) == "running"
    old = time.time() - 3600
    os.utime(lock, (old, old))
    assert reg.effective_status(elsewhere) == "crashed"


def test_an_experiment_running_in_this_process_is_running_then_registered(root):
    exp = Experiment(experiment_name="live", root=root)
    reg = Registry.open(root)
    assert reg.effective_status(reg.read_record(1, exp.number)) == "running"
    exp.register(results=0.5)
    assert reg.effective_status(reg.read_record(1, exp.number)) == "registered"


def test_a_record_read_as_running_just_before_it_registered_is_not_called_crashed(root):
    # A reader's copy of the record can be out of date by the time it asks; the process
    # registered meanwhile and released its lock: that is not a crash.
    exp = Experiment(experiment_name="race", root=root)
    reg = Registry.open(root)
    stale = reg.read_record(1, exp.number)
    exp.register(results=0.5)
    assert reg.effective_status(stale) == "registered"


# -- atomic writes ----------------------------------------------------------------------------


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    target = folder / "experiment.json"
    rng = random.Random(1)
    for n in range(200):
        data = _fs.dumps({"n": n, "payload": "x" * rng.randrange(0, 5000)})
        _fs.atomic_write(target, data, durable=n % 2 == 0)
        assert target.read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == ["experiment.json"]
    assert target.stat().st_mode & 0o777 == 0o644
    _fs.atomic_write(target, b"{}", mode=0o444)
    assert target.stat().st_mode & 0o777 == 0o444

    # A write that fails half way leaves the old file and no temporary one.
    _fs.atomic_write(target, b'{"old": true}')
    with pytest.raises(TypeError):
        _fs.atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b'{"old": true}'
    assert sorted(p.name for p in folder.iterdir()) == ["experiment.json"]


READER = r"""
import json, os, sys
path, stop = sys.argv[1], sys.argv[2]
reads, bad, last, backwards, example = 0, 0, -1, 0, None
print("ready", flush=True)
while True:
    stopping = os.path.exists(stop)
    with open(path, "rb") as f:
        data = f.read()
    reads += 1
    try:
        obj = json.loads(data)
        assert len(obj["payload"]) == obj["size"] and obj["end"] is True
        if obj["n"] < last:
            backwards += 1
        last = obj["n"]
    except Exception as exc:
        bad += 1
        example = example or f"{type(exc).__name__}: {data[:60]!r}...({len(data)} bytes)"
    if stopping:
        break
print(json.dumps({"reads": reads, "bad": bad, "last": last, "backwards": backwards,
                  "example": example}))
"""


def test_a_reader_never_sees_a_partial_file_while_a_writer_rewrites_it(tmp_path):
    target = tmp_path / "experiment.json"
    stop = tmp_path / "stop"
    rng = random.Random(7)

    def write(n: int) -> None:
        size = rng.choice([0, 10, 1000, 100_000, 400_000])  # grows and shrinks
        _fs.atomic_write_json(target, {"n": n, "size": size, "payload": "x" * size, "end": True})

    write(0)
    reader = spawn(READER, target, stop, cwd=tmp_path)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        for n in range(1, 501):
            write(n)
        stop.touch()
        result = json.loads(finish(reader, timeout=60))
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert result["bad"] == 0, f"the reader saw a partial file: {result['example']}"
    assert result["backwards"] == 0
    assert result["last"] == 500
    assert result["reads"] >= 100, f"the reader barely ran alongside the writer: {result}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment.json", "stop"]


def test_ids_are_random_version_4_uuids():
    from lineage.registry import new_id

    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
