"""register(): what it writes, what it never writes, and what a SIGKILL at any point leaves.

Real processes, real files, real kills: the storage is never mocked. The invariant under test
(docs/design.md, 2): an experiment is registered only when its experiment.json says so and
lists every artifact with its hash and size, and a process killed at any point leaves nothing
that looks registered but is not.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lineage
from helpers import finish, run_together, spawn, verify_artifacts
from lineage import Experiment, layout, objects
from lineage.errors import (
    AlreadyRegisteredError,
    ArtifactError,
    CorruptRecordError,
    SerializationError,
)
from lineage.registry import Registry

# -- helpers ----------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, Any]:
    """Every file and folder of the registry: its kind, and a file's size, inode and hash."""
    found: dict[str, Any] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            found[rel] = "dir"
        else:
            st = p.stat()
            found[rel] = (st.st_size, st.st_ino, st.st_mtime_ns, objects.hash_file(p))
    return found


def staged_files(root: Path) -> list[Path]:
    staging = layout.staging(root)
    return sorted(staging.iterdir()) if staging.is_dir() else []


def stored_objects(root: Path) -> list[Path]:
    return sorted(p for p in layout.objects(root).glob("??/*") if p.is_file())


def without_dirs(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without folders: staging creates objects/tmp/, which holds nothing after."""
    return {k: v for k, v in snap.items() if v != "dir"}


class LockHolder:
    """A model that cannot be serialized: it holds a lock, which pickle refuses."""

    def __init__(self) -> None:
        self.coef_ = [0.5, 1.5]
        self.lock = threading.Lock()


# -- SIGKILL at random points -----------------------------------------------------------------

# One process imports numpy and scikit-learn once, then forks a child per run: each child is a
# complete Python process of its own (its own pid, files, locks and lineage threads) that
# trains and registers a real RandomForest, and that the test kills with SIGKILL. Forking
# saves the second of imports each fresh interpreter would cost, so many more kills fit.
# Children stay unreaped (zombies) until the test says so: a pid the test signals can never
# have been reused by another process.
ZYGOTE = r"""
import json, os, signal, sys, time, traceback
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import classification_report
from lineage import Experiment

root, notebook = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = rng.normal(size=(40_000, 8))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
RandomForestClassifier(n_estimators=2, max_depth=2).fit(X[:200], y[:200])  # lazy imports
classification_report(y[:50], y[:50])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # children sigwait for "go"


def say(**event):
    os.write(1, (json.dumps(event) + "\n").encode())


def child(seed):
    exp = Experiment(experiment_name=f"killed-{seed}", root=root)
    exp.hyperparameters = {"n_estimators": 10, "max_depth": 4, "random_state": seed}
    for step in range(50):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    say(ev="ready", seed=seed, pid=os.getpid(), set=exp.set_number, number=exp.number)
    if signal.sigtimedwait({signal.SIGUSR1}, 60) is None:
        os._exit(3)
    woke = time.monotonic()
    clf = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=seed)
    clf.fit(X[:3000], y[:3000])
    report = classification_report(y[3000:6000], clf.predict(X[3000:6000]))
    say(ev="registering", seed=seed, woke=woke, at=time.monotonic())
    exp.register(model=clf, data=(X, y), exploration=notebook, results=report)
    say(ev="registered", seed=seed, at=time.monotonic())
    signal.sigtimedwait({signal.SIGUSR1}, 60)  # the script goes on after register()
    os._exit(4)


say(ev="zygote-ready")
while True:
    line = sys.stdin.readline()
    if not line:
        break
    cmd, arg = line.split()
    if cmd == "fork":
        pid = os.fork()
        if pid == 0:
            try:
                child(int(arg))
            except BaseException:
                say(ev="error", seed=int(arg), traceback=traceback.format_exc())
            os._exit(1)
    elif cmd == "reap":
        _, status = os.waitpid(int(arg), 0)
        say(ev="reaped", pid=int(arg), status=status)
"""


class Zygote:
    """The forking process, and the events (one JSON line each) it and its children print."""

    def __init__(self, root: Path, notebook: Path, cwd: Path) -> None:
        self.proc = spawn(ZYGOTE, root, notebook, cwd=cwd)
        self.events: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self.unreaped: set[int] = set()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.events.append(json.loads(line))
                self.changed.notify_all()
        with self.changed:
            self.events.append({"ev": "eof"})
            self.changed.notify_all()

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                    if event["ev"] in ("error", "eof"):
                        stderr = self.proc.stderr.read() if event["ev"] == "eof" else ""
                        pytest.fail(f"{event.get('traceback', '')}{stderr}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail("timed out waiting for the forking process")
                self.changed.wait(left)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def of(self, seed: int) -> dict[str, dict]:
        with self.changed:
            return {e["ev"]: e for e in self.events if e.get("seed") == seed}

    def run(self, seed: int, delay: float | None) -> tuple[dict, float, dict[str, dict]]:
        """Fork a child, let it train and register, SIGKILL it ``delay`` seconds after "go"
        (or once it registered, for None), reap it; its ready event, go time, events."""
        self.send(f"fork {seed}")
        ready = self.wait(lambda e: e.get("seed") == seed and e["ev"] == "ready")
        pid = ready["pid"]
        self.unreaped.add(pid)
        go = time.monotonic()
        os.kill(pid, signal.SIGUSR1)
        if delay is None:
            self.wait(lambda e: e.get("seed") == seed and e["ev"] == "registered")
        else:
            time.sleep(max(0.0, go + delay - time.monotonic()))
        os.kill(pid, signal.SIGKILL)
        self.send(f"reap {pid}")
        reaped = self.wait(lambda e: e["ev"] == "reaped" and e["pid"] == pid)
        self.unreaped.discard(pid)
        status = reaped["status"]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, self.of(seed)
        return ready, go, self.of(seed)

    def close(self) -> None:
        for pid in self.unreaped:  # never reaped, so still ours
            os.kill(pid, signal.SIGKILL)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=30)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


REGISTERED_ROLES = {"model", "data", "exploration", "results", "results-json", "metrics"}


def check_registry_after_kill(reg: Registry, ready: dict) -> str:
    """The registry reads; the killed run is registered and complete, or running and crashed."""
    problems: list[CorruptRecordError] = []
    for s in reg.set_numbers():
        list(reg.iter_records(s, problems))
    assert problems == [], problems
    record = reg.read_record(ready["set"], ready["number"])
    if record["status"] == "registered":
        assert {a["role"] for a in record["artifacts"]} == REGISTERED_ROLES
        verify_artifacts(reg.experiment_path(ready["set"], ready["number"]), record)
    else:
        assert record["status"] == "running", record["status"]
        assert record["artifacts"] == []
        assert reg.effective_status(record) == "crashed"
    return str(record["status"])


KILLS = 60


def test_sigkill_at_any_point_of_register_never_leaves_a_false_registered(root, tmp_path, notebook):
    started = time.monotonic()
    zygote = Zygote(root, notebook, tmp_path)
    phases: Counter[str] = Counter()
    evidence: Counter[str] = Counter()
    try:
        zygote.wait(lambda e: e["ev"] == "zygote-ready")
        # Calibrate: when register() starts and ends after "go", on this machine now.
        starts, ends = [], []
        for seed in (1000, 1001):
            ready, go, events = zygote.run(seed, None)
            starts.append(events["registering"]["at"] - go)
            ends.append(events["registered"]["at"] - go)
            assert check_registry_after_kill(Registry.open(root), ready) == "registered"
        span = 1.5 * max(ends)
        begin, end = min(starts), max(ends)
        # Half the kills spread evenly over [0, span], half over register() itself (so its
        # short commit phase is hit too); stratified, then shuffled.
        rng = random.Random()
        half = KILLS // 2
        delays = [span * (i + rng.random()) / half for i in range(half)] + [
            begin + (end - begin) * (i + rng.random()) / (KILLS - half) for i in range(KILLS - half)
        ]
        rng.shuffle(delays)

        reg = Registry.open(root)
        for seed, delay in enumerate(delays):
            staged_before = set(staged_files(root))
            ready, go, events = zygote.run(seed, delay)
            if "registered" in events:
                phase = "after register"
            elif "registering" in events:
                phase = "mid-register"
            else:
                phase = "before register"
            phases[phase] += 1
            status = check_registry_after_kill(reg, ready)
            if phase == "before register":
                assert status == "running"
            elif phase == "after register":
                assert status == "registered"
            else:
                exp_path = reg.experiment_path(ready["set"], ready["number"])
                linked = [
                    p
                    for p in exp_path.rglob("*")
                    if p.is_file()
                    and p.name != "experiment.json"
                    and layout.METRICS not in p.as_posix()
                ]
                if status == "registered":
                    evidence["committed before the kill"] += 1
                elif linked:
                    evidence["killed while linking artifacts"] += 1
                elif set(staged_files(root)) - staged_before:
                    evidence["killed while staging"] += 1
                else:
                    evidence["killed before writing anything"] += 1
    finally:
        zygote.close()

    # Once every process is dead: no record is left "running" without being crashed, every
    # registered record is complete, and every published object holds the bytes of its name.
    reg = Registry.open(root)
    problems: list[CorruptRecordError] = []
    records = [r for s in reg.set_numbers() for r in reg.iter_records(s, problems)]
    assert problems == []
    assert len(records) == KILLS + 2
    for record in records:
        path = reg.experiment_path(record["set"]["number"], record["number"])
        if record["status"] == "registered":
            verify_artifacts(path, record)
        else:
            assert reg.effective_status(record) == "crashed"
    for obj in stored_objects(root):
        assert objects.hash_file(obj) == obj.parent.name + obj.name, f"{obj} is not whole"

    registered = sum(r["status"] == "registered" for r in records)
    print(
        f"\n{KILLS} kills in {time.monotonic() - started:.1f} s over {span * 1000:.0f} ms after"
        f" 'go': {dict(phases)}; mid-register: {dict(evidence)}; "
        f"{registered} registered (2 calibration runs included); "
        f"{len(staged_files(root))} staging files left in objects/tmp by killed runs"
    )
    assert phases["before register"] >= 1
    assert phases["mid-register"] >= 1
    assert phases["after register"] >= 1


# -- what register() refuses, and what it then leaves --------------------------------------


def test_register_twice_raises_and_changes_nothing_on_disk(root, trained, notebook):
    exp = Experiment(experiment_name="once", root=root)
    exp.register(
        model=trained["model"],
        data=(trained["X"], trained["y"]),
        exploration=notebook,
        results=trained["report"],
    )
    record_file = exp.path / "experiment.json"
    before_bytes = record_file.read_bytes()
    before = snapshot(root)
    with pytest.raises(AlreadyRegisteredError, match="already registered"):
        exp.register(model=trained["model"], results={"score": 0.1})
    with pytest.raises(AlreadyRegisteredError):
        exp.register()
    with pytest.raises(AlreadyRegisteredError):
        exp.hyperparameters = {"max_depth": 3}
    assert record_file.read_bytes() == before_bytes
    assert snapshot(root) == before  # same bytes, same inodes, same mtimes: nothing rewritten
    assert json.loads(before_bytes)["status"] == "registered"


GOOD = ("model", "data", "exploration", "results")


def _register_kwargs(trained: dict, notebook: Path) -> dict[str, Any]:
    return {
        "model": trained["model"],
        "data": (trained["X"], trained["y"]),
        "exploration": notebook,
        "results": trained["report"],
    }


def _assert_nothing_written(root: Path, exp: Experiment, before: dict[str, Any]) -> None:
    assert without_dirs(snapshot(root)) == without_dirs(before)
    record = json.loads((exp.path / "experiment.json").read_text())
    assert record["status"] == "running" and record["artifacts"] == []
    assert sorted(p.name for p in exp.path.iterdir()) == ["experiment.json"]
    assert staged_files(root) == []
    assert stored_objects(root) == []


@pytest.mark.parametrize("bad", ["model", "data", "results", "artifact"])
def test_an_object_that_cannot_be_serialized_raises_naming_its_type_and_writes_nothing(
    root, trained, notebook, bad
):
    exp = Experiment(experiment_name="unpicklable", root=root)
    exp.hyperparameters = {"max_depth": 4}
    assert exp.metrics == {}  # flushes the running record now, not during the test
    kwargs = _register_kwargs(trained, notebook)
    if bad == "artifact":  # the last to be staged: everything else is staged, then dropped
        kwargs["artifacts"] = {"scaler.pkl": LockHolder()}
    else:
        kwargs[bad] = LockHolder()
    before = snapshot(root)

    with pytest.raises(SerializationError) as info:
        exp.register(**kwargs)
    assert "LockHolder" in str(info.value)
    _assert_nothing_written(root, exp, before)
    assert exp.status == "running"


@pytest.mark.parametrize("missing", ["exploration", "artifact", "releasenotes"])
def test_a_missing_path_raises_artifact_error_before_anything_is_written(
    root, trained, notebook, missing
):
    exp = Experiment(experiment_name="missing-file", root=root)
    kwargs = _register_kwargs(trained, notebook)
    if missing == "exploration":
        kwargs["exploration"] = "notebooks/gone.ipynb"
    elif missing == "artifact":
        kwargs["artifacts"] = {"vocab.txt": Path("gone-vocab.txt")}
    else:
        kwargs["releasenotes"] = Path("gone-notes.md")
    before = snapshot(root)

    with pytest.raises(ArtifactError, match="does not exist") as info:
        exp.register(**kwargs)
    assert "gone" in str(info.value)
    _assert_nothing_written(root, exp, before)


def test_a_failed_register_can_be_retried_and_keeps_nothing_of_the_failed_call(
    root, trained, notebook
):
    exp = Experiment(experiment_name="retry", root=root)
    with pytest.raises(SerializationError):
        exp.register(model=trained["model"], data=LockHolder(), exploration=notebook)
    exp.register(model=trained["model"], results={"accuracy": 0.9})
    record = json.loads((exp.path / "experiment.json").read_text())
    assert record["status"] == "registered"
    roles = {a["role"] for a in record["artifacts"]} - {"script"}  # pytest's, run in-process
    assert roles == {"model", "results", "results-json"}
    assert record["data"] is None, "the data of the failed call leaked into the record"
    verify_artifacts(exp.path, record)
    assert staged_files(root) == []


def test_a_failure_while_linking_leaves_nothing_staged_and_nothing_registered(
    root, trained, notebook
):
    exp = Experiment(experiment_name="blocked", root=root)
    (exp.path / "model").write_text("a file where the model folder should go\n")
    with pytest.raises(OSError):
        exp.register(**_register_kwargs(trained, notebook))
    record = json.loads((exp.path / "experiment.json").read_text())
    assert record["status"] == "running" and record["artifacts"] == []
    assert staged_files(root) == [], "staged blobs of a failed commit were left behind"
    # Once the obstacle is gone, the same experiment registers completely.
    (exp.path / "model").unlink()
    exp.register(**_register_kwargs(trained, notebook))
    record = json.loads((exp.path / "experiment.json").read_text())
    assert record["status"] == "registered"
    verify_artifacts(exp.path, record)
    assert staged_files(root) == []


# -- content-addressed storage ----------------------------------------------------------------


def test_the_same_bytes_in_two_experiments_are_stored_once_as_read_only_hard_links(
    root, trained, notebook
):
    exps = [Experiment(experiment_name=f"twin-{i}", root=root) for i in range(2)]
    for exp in exps:
        exp.register(**_register_kwargs(trained, notebook))
    records = [json.loads((e.path / "experiment.json").read_text()) for e in exps]
    entries = [{a["role"]: a for a in r["artifacts"]} for r in records]
    assert set(entries[0]) == set(entries[1]) >= {*GOOD, "results-json"}

    for role in entries[0]:
        assert entries[0][role]["hash"] == entries[1][role]["hash"], role
        digest = objects.split_ref(entries[0][role]["hash"])[1]
        stored = layout.object_path(root, digest)
        files = [layout.artifact(e.path, entries[i][role]["path"]) for i, e in enumerate(exps)]
        inodes = {stored.stat().st_ino} | {f.stat().st_ino for f in files}
        assert len(inodes) == 1, f"{role} is not one file linked twice"
        assert stored.stat().st_nlink >= 3
        for f in (stored, *files):
            assert f.stat().st_mode & 0o777 == 0o444, f"{f} is writable"
        assert objects.hash_file(stored) == digest
    assert len(stored_objects(root)) == len(entries[0])  # each stored once
    assert staged_files(root) == []


STORE = r"""
import json, sys
from pathlib import Path
from lineage import objects

root, count = Path(sys.argv[1]), int(sys.argv[2])
payloads = [bytes([i % 251]) * (i * 2_000 + 1) + b"%d" % i for i in range(count)]
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps([list(objects.store_bytes(root, p)) for p in payloads]), flush=True)
"""


def test_processes_storing_the_same_objects_at_once_all_succeed_with_one_copy(root, tmp_path):
    root.mkdir()
    count = 200
    procs = [spawn(STORE, root, count, cwd=tmp_path) for _ in range(6)]
    results = [json.loads(out) for out in run_together(procs)]

    assert all(r == results[0] for r in results)
    digests = [d for d, _ in results[0]]
    assert len(set(digests)) == count
    stored = stored_objects(root)
    assert sorted(p.parent.name + p.name for p in stored) == sorted(digests)
    payloads = [bytes([i % 251]) * (i * 2_000 + 1) + b"%d" % i for i in range(count)]
    for (digest, size), payload in zip(results[0], payloads, strict=True):
        path = layout.object_path(root, digest)
        assert size == len(payload) and path.read_bytes() == payload
        assert path.stat().st_mode & 0o777 == 0o444
    assert staged_files(root) == []


REGISTER_NEW_DATA = r"""
import json, sys
import numpy as np
from lineage import Experiment, registration

registration.OVERLAP_BYTES = 1024  # the path of large new data: fingerprint while storing
data = np.random.default_rng(7).random(1_000_000)
exp = Experiment(experiment_name=sys.argv[2], root=sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
exp.register(data=data)
entry = next(a for a in exp.record["artifacts"] if a["role"] == "data")
print(json.dumps([entry["hash"], exp.record["data"]["fingerprint"]]), flush=True)
"""


def test_processes_registering_the_same_new_data_at_once_store_it_once(root, tmp_path):
    procs = [spawn(REGISTER_NEW_DATA, root, f"worker {i}", cwd=tmp_path) for i in range(4)]
    results = [json.loads(out) for out in run_together(procs)]
    assert all(r == results[0] for r in results)
    digest = objects.split_ref(results[0][0])[1]
    data_objects = [p for p in stored_objects(root) if p.stat().st_size > 8_000_000]
    assert [p.parent.name + p.name for p in data_objects] == [digest]
    assert lineage.verify(root=root).ok and staged_files(root) == []


FORKED_REGISTRATIONS = """
import multiprocessing, sys
import numpy as np
from lineage import Experiment

def child(i):
    data = np.random.default_rng(i).random(1_000_000)  # 8 MB: hashed on the worker threads
    Experiment(experiment_name=f"child {i}", root=".lineage").register(data=data)
    return i

if __name__ == "__main__":
    parent = np.random.default_rng(99).random(1_000_000)
    Experiment(experiment_name="parent", root=".lineage").register(data=parent)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(pool.map(child, range(2)))
"""


def test_processes_forked_after_a_registration_can_register_too(tmp_path):
    """The parent's hashing threads are not copied by fork(); children must not wait on them."""
    script = tmp_path / "forked.py"
    script.write_text(FORKED_REGISTRATIONS)
    out = finish(spawn(f"exec(open({str(script)!r}).read())", cwd=tmp_path), timeout=60)
    assert out.strip() == "[0, 1]"
    report = lineage.verify(root=tmp_path / ".lineage")
    assert report.ok and report.experiments == 3


FORKED_EXIT = """
import json, os, sys
from lineage import Experiment

exp = Experiment(experiment_name="parent", root=".lineage")
exp.log_metric("loss", 0.5)
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a child's normal exit runs atexit: the parent's experiment is not its own
os.waitpid(pid, 0)
print(json.loads((exp.path / "experiment.json").read_text())["status"])  # as others see it
exp.register()
print(exp.status)
"""


def test_a_forked_child_exiting_leaves_the_parents_experiment_running(tmp_path):
    out = finish(spawn(FORKED_EXIT, cwd=tmp_path))
    assert out.split() == ["running", "registered"]
