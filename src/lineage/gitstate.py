"""The experiment's git state: commit, branch, origin remote and the uncommitted diff.

Captured per experiment in a background thread, so creating an experiment never waits for
``git``; outside a repository (or with ``LINEAGE_CAPTURE_GIT=0``) no process or thread is
started at all. Inside one, ``git`` runs with ``GIT_OPTIONAL_LOCKS=0`` (never takes
``index.lock`` away from the user's own git) and a timeout per command, and the remote's URL is
kept without credentials. As in :mod:`lineage.provenance`, nothing here raises: each problem
becomes a warning string returned beside the result.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from lineage import env
from lineage.provenance import _text

#: Seconds one ``git`` command may run before it is killed (and a warning says so).
GIT_TIMEOUT = 10.0
#: An uncommitted diff larger than this is not kept; a warning says so.
MAX_DIFF_BYTES = 32 * 1024 * 1024

GitResult = tuple[dict[str, Any] | None, bytes | None, list[str]]


class GitCapture:
    """Started at construction in a daemon thread: git state of the repo around ``cwd``.

    The repository is found by walking up the folders for ``.git`` as git does, so outside a
    repository (or with ``LINEAGE_CAPTURE_GIT=0``) nothing is spawned and :meth:`result` is
    ready at once. Inside one, ``git`` runs with ``GIT_OPTIONAL_LOCKS=0`` (never takes
    ``index.lock`` away from the user's own git) and a timeout per command.
    """

    def __init__(self, cwd: str | os.PathLike[str] | None = None) -> None:
        self._result: GitResult = (None, None, [])
        self._thread: threading.Thread | None = None
        if not env.capture_git():
            return
        try:
            start = os.path.realpath(os.fspath(cwd) if cwd is not None else os.getcwd())
            found = bool(os.environ.get("GIT_DIR")) or _find_repo(start) is not None
        except (OSError, TypeError, ValueError) as e:
            self._result = (None, None, [_text(f"git: cannot resolve the working folder: {e}")])
            return
        if not found:
            return
        self._thread = threading.Thread(
            target=self._run, args=(start,), name="lineage-git-capture", daemon=True
        )
        try:
            self._thread.start()
        except RuntimeError as e:  # the process is out of threads
            self._thread = None
            self._result = (None, None, [_text(f"git: cannot start the capture thread: {e}")])

    def result(self, timeout: float | None = None) -> GitResult:
        """``(state, uncommitted diff, warnings)``, waiting up to ``timeout`` seconds for it.

        ``state`` is ``{"commit", "branch", "dirty", "root", "remote"}``, or None outside a
        repository or when git could not tell (a warning says why). ``diff`` is None when the
        working tree matches HEAD. On timeout the capture goes on and a later call can succeed.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return None, None, [f"git: capture did not finish in {timeout:g} s"]
        state, diff, warnings = self._result
        return (dict(state) if state is not None else None), diff, list(warnings)

    def _run(self, start: str) -> None:
        warnings: list[str] = []
        try:
            state, diff = _capture_git(start, warnings)
        except _GitFailed as e:
            state, diff = None, None
            warnings.append(str(e))
        except Exception as e:  # a bug here must not surface in the user's training
            state, diff = None, None
            warnings.append(f"git: capture failed: {type(e).__name__}: {e}")
        self._result = (state, diff, [_text(w) for w in warnings])


class _GitFailed(Exception):
    """A git command that could not run, timed out or failed; the message is the warning."""


def _find_repo(start: str) -> str | None:
    """The nearest folder at or above ``start`` that holds a repository's ``.git``.

    Follows git's own discovery closely enough to skip it: a ``.git`` folder counts only with a
    ``HEAD`` inside, a ``.git`` file (worktree, submodule) always, and the walk stops below any
    folder in ``GIT_CEILING_DIRECTORIES``.
    """
    ceilings = {
        os.path.normpath(p)
        for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep)
        if os.path.isabs(p)
    }
    folder = start
    while True:
        dot_git = os.path.join(folder, ".git")
        if os.path.isfile(dot_git) or os.path.isfile(os.path.join(dot_git, "HEAD")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder or parent in ceilings:
            return None
        folder = parent


def _capture_git(start: str, warnings: list[str]) -> tuple[dict[str, Any] | None, bytes | None]:
    code, out, err = _git(["rev-parse", "--show-toplevel"], start)
    if code != 0:
        raise _GitFailed(f"git: `git rev-parse` failed in {start}: {err or f'exit code {code}'}")
    root = out.decode("utf-8", "surrogateescape").strip()

    code, out, err = _git(["status", "--porcelain=v2", "--branch", "--untracked-files=no"], root)
    if code != 0:
        raise _GitFailed(f"git: `git status` failed in {root}: {err or f'exit code {code}'}")
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :]
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :]
            branch = None if head == "(detached)" else _text(head)
        elif line and not line.startswith("#"):
            dirty = True
    if commit is None:
        warnings.append(f"git: the repository at {root} has no commits yet; no commit recorded")
    elif branch is None:
        warnings.append(f"git: detached HEAD at {commit}")

    remote: str | None = None
    code, out, err = _git(["config", "--get", "remote.origin.url"], root)
    if code == 0:
        remote = _text(_strip_credentials(out.decode("utf-8", "surrogateescape").strip()))
    elif code != 1:  # 1 is "no such key": the repository has no origin
        warnings.append(f"git: cannot read the origin remote: {err or f'exit code {code}'}")

    diff: bytes | None = None
    if dirty and commit is not None:
        args = [
            "diff",
            "HEAD",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--src-prefix=a/",
            "--dst-prefix=b/",
        ]
        code, out, err = _git(args, root, limit=MAX_DIFF_BYTES)
        if code == -1:
            limit = MAX_DIFF_BYTES // (1024 * 1024)
            warnings.append(
                f"git: the uncommitted diff is over {limit} MB and was not kept; "
                "commit or stash the changes to record them"
            )
        elif code != 0:
            warnings.append(f"git: `git diff` failed: {err or f'exit code {code}'}")
        elif out:
            diff = out
    state = {
        "commit": commit,
        "branch": branch,
        "dirty": dirty,
        "root": _text(root),
        "remote": remote,
    }
    return state, diff


def _git(args: list[str], cwd: str, *, limit: int | None = None) -> tuple[int, bytes, str]:
    """Run one git command: ``(exit code, stdout, first line of stderr)``.

    The exit code is -1 when stdout grew past ``limit`` (the command is then killed). Raises
    :class:`_GitFailed` when git is missing or the command outlives :data:`GIT_TIMEOUT`.
    """
    import subprocess
    import tempfile

    cmd = ["git", "-c", "core.quotepath=off", *args]
    git_env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    timeout = GIT_TIMEOUT
    # stderr goes to a file: a pipe nobody reads while stdout streams could fill and hang git
    with tempfile.TemporaryFile() as errfile:
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=git_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errfile,
            )
        except FileNotFoundError:
            raise _GitFailed(
                "git: not installed (no `git` on PATH); commit and changes not recorded"
            ) from None
        except OSError as e:
            raise _GitFailed(f"git: cannot run git: {e}") from None
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        out = bytearray()
        too_big = False
        try:
            assert proc.stdout is not None
            with proc.stdout:
                while chunk := proc.stdout.read(1 << 16):
                    out += chunk
                    if limit is not None and len(out) > limit:
                        too_big = True
                        proc.kill()
                        break
            code = proc.wait()
        finally:
            timer.cancel()
        if expired.is_set():
            raise _GitFailed(f"git: command timed out after {timeout:g} s (git {args[0]})")
        errfile.seek(0)
        lines = errfile.read(4096).decode("utf-8", "replace").strip().splitlines()
    return (-1 if too_big else code), bytes(out), (lines[0] if lines else "")


def _strip_credentials(url: str) -> str:
    """``url`` without a password or token: ``https://user:pw@host/x`` -> ``https://host/x``.

    Only the user of an ``ssh://`` URL (``ssh://git@host/x``) is kept; scp-like addresses
    (``git@host:x``) and local paths cannot hold a password and are returned unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    if ":" not in userinfo and scheme.lower() in ("ssh", "git+ssh", "ssh+git"):
        return url
    return f"{scheme}://{host}{slash}{path}"
