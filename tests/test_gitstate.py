"""Git state capture against real git repositories (and a fake or missing ``git``)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from lineage import gitstate
from lineage.gitstate import GitCapture

pytestmark = pytest.mark.usefixtures("isolated_git")

requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


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
    assert gitstate._strip_credentials(url) == expected


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
    monkeypatch.setattr(gitstate, "GIT_TIMEOUT", 0.5)
    calls = fake_git(tmp_path, monkeypatch, body=f"exec {sleep} 30")

    start = time.perf_counter()
    capture = GitCapture(repo)
    constructed = time.perf_counter() - start
    early = capture.result(timeout=0.05)
    final = capture.result(timeout=10)
    elapsed = time.perf_counter() - start

    assert constructed < 5  # far below the 30 s the hung git would take: nothing waited for it
    assert early == (None, None, ["git: capture did not finish in 0.05 s"])
    assert final[:2] == (None, None)
    assert len(final[2]) == 1 and "timed out" in final[2][0]
    assert elapsed < 5  # the hung git was killed, not waited for
    assert calls.exists()


@requires_git
def test_diff_over_the_size_limit_is_dropped_with_a_warning(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitstate, "MAX_DIFF_BYTES", 16)
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
