"""Provenance capture against real interpreters, real scripts and real git repositories."""

from __future__ import annotations

import getpass
import importlib.metadata
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from lineage import provenance
from lineage.provenance import GitCapture

SRC = str(Path(__file__).resolve().parents[1] / "src")

requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git config and any hook-time git variables out of every test."""
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


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on branch main with one commit of train.py."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('v1')\n")
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "first")
    return root


def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str = "exit 1") -> Path:
    """Make PATH hold only a `git` that logs each call to the returned file, then runs body."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    calls = tmp_path / "git-calls.log"
    script = bin_dir / "git"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{calls}'\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return calls


def run_python(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """Run a fresh interpreter with lineage importable; its stdout parsed as JSON."""
    full_env = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


PRINT_SCRIPT_INFO = (
    "import json\n"
    "from lineage import provenance\n"
    "info, source, warnings = provenance.script_info()\n"
    "print(json.dumps({'info': info, 'source': None if source is None else source.decode(),\n"
    "                  'warnings': warnings}, allow_nan=False))\n"
)


# -- static info and packages ---------------------------------------------------------------


def test_static_info_describes_this_interpreter_host_and_user() -> None:
    info = provenance.static_info()

    json.dumps(info, allow_nan=False)
    assert info["python"]["version"] == platform.python_version()
    assert info["python"]["implementation"] == sys.implementation.name
    assert info["python"]["executable"] == sys.executable
    assert info["platform"] == {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }
    assert info["host"] == platform.node()
    assert info["user"] == getpass.getuser()


def test_static_info_and_packages_are_computed_once_per_process() -> None:
    first_static, first_packages = provenance.static_info(), provenance.packages()

    start = time.perf_counter()
    again_static, again_packages = provenance.static_info(), provenance.packages()
    elapsed = time.perf_counter() - start

    assert again_static is first_static
    assert again_packages is first_packages
    assert elapsed < 0.01


def test_packages_report_the_installed_pytest_version() -> None:
    assert provenance.packages()["pytest"] == importlib.metadata.version("pytest")


def test_packages_agree_with_importlib_metadata_for_every_installed_distribution() -> None:
    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        expected.setdefault(provenance._normalise(dist.metadata["Name"]), dist.version)

    assert provenance.packages() == expected


def test_static_capture_is_fast_spawns_nothing_and_imports_no_slow_module(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import json, sys, time
        from lineage import provenance
        before = set(sys.modules)
        start = time.perf_counter()
        provenance.static_info()
        provenance.packages()
        elapsed = time.perf_counter() - start
        print(json.dumps({"elapsed": elapsed, "new": sorted(set(sys.modules) - before)}))
        """
    )
    out = run_python("-c", code, cwd=tmp_path)

    slow = {"platform", "socket", "getpass", "subprocess", "importlib.metadata", "email"}
    assert slow.isdisjoint(out["new"]), out["new"]
    assert out["elapsed"] < 0.1  # budget is a few ms; this only catches a pip-freeze regression


def test_scan_parses_metadata_folder_names_and_the_first_on_path_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "Foo_Bar-1.2.3.dist-info").mkdir(parents=True)
    (first / "Zope.Interface-6.0.dist-info").mkdir()
    (first / "legacy-name-0.9.dist-info").mkdir()
    (first / "oldegg-0.1-py3.11.egg-info").write_text("Metadata-Version: 1.0\n")
    (first / "devcheckout.egg-info").mkdir()
    (first / "devcheckout.egg-info" / "PKG-INFO").write_text("Name: devcheckout\nVersion: 2.0\n")
    (first / "notes.txt").write_text("not a distribution")
    (second / "foo_bar-9.9.dist-info").mkdir(parents=True)
    (second / "only_here-1.0.dist-info").mkdir()

    found = provenance._scan_distributions(
        [str(first), str(tmp_path / "missing"), str(second), str(first)]
    )

    assert found == {
        "foo-bar": "1.2.3",
        "zope-interface": "6.0",
        "legacy-name": "0.9",
        "oldegg": "0.1",
        "devcheckout": "2.0",
        "only-here": "1.0",
    }


# -- entry script ---------------------------------------------------------------------------


def test_script_run_with_python_reports_its_absolute_path_source_and_argv(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(PRINT_SCRIPT_INFO)

    out = run_python("train.py", "--epochs", "3", cwd=tmp_path)

    assert out["info"] == {
        "path": str(script.resolve()),
        "name": "train.py",
        "kind": "script",
        "argv": ["train.py", "--epochs", "3"],
    }
    assert out["source"] == PRINT_SCRIPT_INFO
    assert out["warnings"] == []


def test_python_dash_c_and_stdin_have_no_script(tmp_path: Path) -> None:
    assert run_python("-c", PRINT_SCRIPT_INFO, cwd=tmp_path) == {
        "info": None,
        "source": None,
        "warnings": [],
    }
    full_env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-"],
        input=PRINT_SCRIPT_INFO,
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == {"info": None, "source": None, "warnings": []}


def test_script_that_cannot_be_read_is_reported_with_a_warning(tmp_path: Path) -> None:
    script = tmp_path / "vanishing.py"
    script.write_text("import os\nos.unlink(__file__)\n" + PRINT_SCRIPT_INFO)

    out = run_python(str(script), cwd=tmp_path)

    assert out["info"]["path"] == str(script)
    assert out["source"] is None
    assert len(out["warnings"]) == 1 and "cannot read" in out["warnings"][0]


def test_script_over_the_size_limit_keeps_its_path_but_not_its_source(tmp_path: Path) -> None:
    script = tmp_path / "huge.py"
    script.write_text(
        "from lineage import provenance\nprovenance.MAX_SCRIPT_BYTES = 10\n" + PRINT_SCRIPT_INFO
    )

    out = run_python(str(script), cwd=tmp_path)

    assert out["info"]["name"] == "huge.py"
    assert out["source"] is None
    assert len(out["warnings"]) == 1 and "not kept" in out["warnings"][0]


# A Jupyter kernel as lineage sees it: ipykernel loaded, get_ipython in builtins, and a
# __main__ without __file__ (ipykernel replaces __main__ with the user namespace).
KERNEL = (
    "import builtins, sys, types\n"
    "sys.modules['ipykernel'] = types.ModuleType('ipykernel')\n"
    "builtins.get_ipython = lambda: None\n"
)


def test_kernel_reports_a_notebook_with_the_path_vs_code_announces(tmp_path: Path) -> None:
    code = KERNEL + "import __main__\n__main__.__vsc_ipynb_file__ = '/work/nb/explore.ipynb'\n"

    out = run_python("-c", code + PRINT_SCRIPT_INFO, cwd=tmp_path)

    assert out["info"]["kind"] == "notebook"
    assert out["info"]["path"] == "/work/nb/explore.ipynb"
    assert out["info"]["name"] == "explore.ipynb"
    assert out["source"] is None
    assert out["warnings"] == []


def test_kernel_resolves_a_relative_jupyter_session_name_against_cwd(tmp_path: Path) -> None:
    (tmp_path / "analysis.ipynb").write_text("{}")

    out = run_python(
        "-c", KERNEL + PRINT_SCRIPT_INFO, cwd=tmp_path, env={"JPY_SESSION_NAME": "analysis.ipynb"}
    )

    assert out["info"]["path"] == str((tmp_path / "analysis.ipynb").resolve())
    assert out["info"]["kind"] == "notebook"


def test_kernel_without_a_known_notebook_path_warns(tmp_path: Path) -> None:
    out = run_python("-c", KERNEL + PRINT_SCRIPT_INFO, cwd=tmp_path)

    assert out["info"]["kind"] == "notebook"
    assert out["info"]["path"] is None and out["info"]["name"] is None
    assert len(out["warnings"]) == 1 and "notebook" in out["warnings"][0]


def test_plain_python_child_of_a_notebook_is_not_a_notebook(tmp_path: Path) -> None:
    out = run_python(
        "-c", PRINT_SCRIPT_INFO, cwd=tmp_path, env={"JPY_SESSION_NAME": "/work/nb/parent.ipynb"}
    )

    assert out["info"] is None


# -- git ------------------------------------------------------------------------------------


@requires_git
def test_clean_repo_gives_commit_branch_and_root_from_a_subfolder(repo: Path) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)

    state, diff, warnings = GitCapture(sub).result(timeout=30)

    assert state == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "main",
        "dirty": False,
        "root": git(repo, "rev-parse", "--show-toplevel"),
        "remote": None,
    }
    assert diff is None
    assert warnings == []
    json.dumps(state, allow_nan=False)


@requires_git
def test_dirty_tree_gives_a_diff_that_applies_in_reverse(repo: Path) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    (repo / "untracked.txt").write_text("not part of the diff\n")

    state, diff, warnings = GitCapture(repo).result(timeout=30)

    assert state is not None and state["dirty"] is True
    assert diff is not None
    assert b"+print('v2')" in diff and b"-print('v1')" in diff
    assert b"untracked.txt" not in diff
    check = subprocess.run(["git", "apply", "--check", "-R"], cwd=repo, input=diff)
    assert check.returncode == 0
    assert warnings == []


@requires_git
def test_untracked_files_alone_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "scratch.txt").write_text("new\n")

    state, diff, _ = GitCapture(repo).result(timeout=30)

    assert state is not None and state["dirty"] is False
    assert diff is None


@requires_git
def test_detached_head_has_no_branch_and_a_warning_naming_the_commit(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    sha = git(repo, "rev-parse", "HEAD")

    state, _, warnings = GitCapture(repo).result(timeout=30)

    assert state is not None
    assert state["branch"] is None and state["commit"] == sha
    assert warnings == [f"git: detached HEAD at {sha}"]


@requires_git
def test_repo_without_commits_has_no_commit_and_a_warning(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")

    state, diff, warnings = GitCapture(tmp_path).result(timeout=30)

    assert state is not None and state["commit"] is None
    assert diff is None
    assert len(warnings) == 1 and "no commits" in warnings[0]


@requires_git
def test_worktree_with_a_dot_git_file_is_found(repo: Path, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))

    state, _, warnings = GitCapture(worktree).result(timeout=30)

    assert state is not None
    assert state["branch"] == "feature"
    assert state["root"] == str(worktree.resolve())
    assert warnings == []


@requires_git
def test_origin_remote_is_recorded_without_credentials(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://alice:s3cret@example.com/org/repo.git")

    state, _, warnings = GitCapture(repo).result(timeout=30)

    assert state is not None and state["remote"] == "https://example.com/org/repo.git"
    assert "s3cret" not in json.dumps(state) and "alice" not in json.dumps(state)
    assert warnings == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://alice:pw@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://user:p%40ss@host:8443/o/r", "https://host:8443/o/r"),
        ("ssh://git:pw@host/o/r.git", "ssh://host/o/r.git"),
        ("ssh://git@host/o/r.git", "ssh://git@host/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
    ],
)
def test_strip_credentials_removes_passwords_and_tokens_only(url: str, expected: str) -> None:
    assert provenance._strip_credentials(url) == expected


def test_outside_a_repo_git_is_none_and_git_is_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain" / "deeper"
    plain.mkdir(parents=True)
    calls = fake_git(tmp_path, monkeypatch)

    assert GitCapture(plain).result(timeout=5) == (None, None, [])
    assert not calls.exists()


def test_folder_named_dot_git_without_head_is_not_a_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    calls = fake_git(tmp_path, monkeypatch)

    assert GitCapture(tmp_path / "proj").result(timeout=5) == (None, None, [])
    assert not calls.exists()


@requires_git
def test_capture_git_off_skips_git_even_inside_a_repo(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAGE_CAPTURE_GIT", "0")
    calls = fake_git(tmp_path, monkeypatch)

    assert GitCapture(repo).result(timeout=5) == (None, None, [])
    assert not calls.exists()


@requires_git
def test_missing_git_executable_is_a_warning(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    state, diff, warnings = GitCapture(repo).result(timeout=5)

    assert (state, diff) == (None, None)
    assert len(warnings) == 1 and "not installed" in warnings[0]


@requires_git
def test_slow_git_times_out_without_blocking_the_caller(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    monkeypatch.setattr(provenance, "GIT_TIMEOUT", 0.5)
    calls = fake_git(tmp_path, monkeypatch, body=f"exec {sleep} 30")

    start = time.perf_counter()
    capture = GitCapture(repo)
    constructed = time.perf_counter() - start
    early = capture.result(timeout=0.05)
    final = capture.result(timeout=10)
    elapsed = time.perf_counter() - start

    assert constructed < 0.05
    assert early == (None, None, ["git: capture did not finish in 0.05 s"])
    assert final[:2] == (None, None)
    assert len(final[2]) == 1 and "timed out" in final[2][0]
    assert elapsed < 5  # the hung git was killed, not waited for
    assert calls.exists()


@requires_git
def test_diff_over_the_size_limit_is_dropped_with_a_warning(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provenance, "MAX_DIFF_BYTES", 16)
    (repo / "train.py").write_text("print('a much longer second version')\n")

    state, diff, warnings = GitCapture(repo).result(timeout=30)

    assert state is not None and state["dirty"] is True
    assert diff is None
    assert len(warnings) == 1 and "not kept" in warnings[0]


@requires_git
def test_capture_never_rewrites_the_index_of_the_users_repo(repo: Path) -> None:
    index = repo / ".git" / "index"
    before = index.read_bytes()
    later = time.time() + 5
    os.utime(repo / "train.py", (later, later))  # same content, stale stat: git would refresh

    state, _, _ = GitCapture(repo).result(timeout=30)

    assert state is not None and state["dirty"] is False
    assert index.read_bytes() == before
