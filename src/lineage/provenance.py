"""Where an experiment came from: interpreter, platform, packages and entry script.

Capture must cost next to nothing and must never stop training, so nothing here raises: each
problem becomes a human-readable warning string returned beside the result. What cannot change
within a process (interpreter, platform, installed packages, entry script) is captured once and
cached. The experiment's git state, captured per experiment, lives in :mod:`lineage.gitstate`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

#: An entry script larger than this is not copied; a warning says so.
MAX_SCRIPT_BYTES = 16 * 1024 * 1024

ScriptResult = tuple[dict[str, Any] | None, bytes | None, list[str]]

#: The warning of a kernel whose notebook file is not announced.
NOTEBOOK_PATH_UNKNOWN = "notebook: path unknown; register it as `exploration` to keep it"

_lock = threading.Lock()
_static: dict[str, Any] | None = None
_packages: dict[str, str] | None = None
_script: ScriptResult | None = None


# -- what cannot change within a process ----------------------------------------------------


def static_info() -> dict[str, Any]:
    """Interpreter, platform, host and user; computed once per process, then the same dict.

    Reads ``os.uname``, ``sys`` and the environment instead of importing ``platform``,
    ``socket`` or ``getpass``, whose imports alone cost more than this whole capture.
    Callers must treat the dict as read-only: it is shared.
    """
    global _static
    if _static is None:
        info = _capture_static()
        with _lock:
            if _static is None:
                _static = info
    return _static


def packages() -> dict[str, str]:
    """Installed distributions as ``{normalised name: version}``, sorted; cached per process.

    Found by listing ``*.dist-info`` / ``*.egg-info`` names on ``sys.path`` (about a
    millisecond) rather than ``pip freeze`` (a subprocess) or ``importlib.metadata`` (a slow
    import plus a read of every METADATA file). Where a name is installed twice the first on
    ``sys.path`` wins, as for imports. Packages installed after the first call are not seen.
    Callers must treat the dict as read-only: it is shared.
    """
    global _packages
    if _packages is None:
        found = dict(sorted(_scan_distributions(sys.path).items()))
        with _lock:
            if _packages is None:
                _packages = found
    return _packages


def script_info() -> ScriptResult:
    """The entry script (or notebook) of this process, its source bytes, and warnings.

    ``({"path", "name", "kind": "script"|"notebook", "argv"}, source, warnings)``. Under
    ``python -c`` and interactive interpreters (plain or terminal IPython) there is no script:
    ``(None, None, [])``. A notebook's source is None: the file on disk need not be what ran.
    Captured on the first call, the closest this module gets to the code that actually started.
    """
    global _script
    if _script is None:
        try:
            captured = _capture_script()
        except Exception as e:  # never let provenance stop training
            captured = (None, None, [f"script: could not be captured: {type(e).__name__}: {e}"])
        with _lock:
            if _script is None:
                _script = captured
    info, source, warnings = _script
    if info is not None:
        info = {**info, "argv": list(info["argv"])}
    return info, source, list(warnings)


def _capture_static() -> dict[str, Any]:
    v = sys.version_info
    version = f"{v.major}.{v.minor}.{v.micro}"
    if v.releaselevel != "final":
        tags = {"alpha": "a", "beta": "b", "candidate": "rc"}
        version += f"{tags.get(v.releaselevel, v.releaselevel)}{v.serial}"
    if hasattr(os, "uname"):
        u = os.uname()
        system, release, machine, host = u.sysname, u.release, u.machine, u.nodename
    else:  # Windows: platform is slow to import, but it is the only portable source there
        import platform

        system, release, machine = platform.system(), platform.release(), platform.machine()
        host = platform.node()
    return {
        "python": {
            "version": version,
            "implementation": sys.implementation.name,
            "executable": _text(sys.executable) or None,
            "prefix": _text(sys.prefix),
        },
        "platform": {"system": _text(system), "release": _text(release), "machine": _text(machine)},
        "host": _text(host),
        "user": _user(),
    }


def _user() -> str | None:
    """The login name the way ``getpass.getuser`` finds it, without importing ``getpass``."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if value := os.environ.get(name):
            return _text(value)
    try:
        import pwd

        return _text(pwd.getpwuid(os.getuid()).pw_name)
    except (ImportError, KeyError, OSError, AttributeError):  # e.g. a container's unnamed uid
        return None


def _scan_distributions(entries: Iterable[Any]) -> dict[str, str]:
    """``{normalised name: version}`` from the metadata folder names in ``entries``."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for entry in entries:
        try:
            folder = os.fspath(entry) or "."
        except TypeError:
            continue
        if not isinstance(folder, str) or folder in seen:
            continue
        seen.add(folder)
        if folder.endswith(".egg"):  # an egg on sys.path is itself one distribution
            name, version = _split_name(os.path.basename(folder)[:-4])
            if name and version:
                found.setdefault(_normalise(name), version)
            continue
        try:
            with os.scandir(folder) as it:
                names = [e.name for e in it]
        except OSError:  # missing folder, zip file, no permission
            continue
        for entry_name in names:
            if entry_name.endswith(".dist-info"):
                stem, meta = entry_name[: -len(".dist-info")], "METADATA"
            elif entry_name.endswith(".egg-info"):
                stem, meta = entry_name[: -len(".egg-info")], "PKG-INFO"
            else:
                continue
            name, version = _split_name(stem)
            if not name:
                continue
            if version is None:  # e.g. a `setup.py develop` checkout: only the file knows
                path = os.path.join(folder, entry_name)
                if os.path.isdir(path):
                    path = os.path.join(path, meta)
                version = _metadata_version(path)
                if version is None:
                    continue
            found.setdefault(_normalise(name), version)
    return found


def _split_name(stem: str) -> tuple[str, str | None]:
    """Name and version from ``name-version`` or ``name-version-pyX.Y[-platform]``."""
    import re

    m = re.fullmatch(r"(.+?)-([^-]+?)(?:-py\d[^-]*(?:-.+)?)?", stem)
    if m is None:
        return stem, None
    return m.group(1), m.group(2)


def _normalise(name: str) -> str:
    """PEP 503 name: lowercase, runs of ``-``, ``_`` and ``.`` become one ``-``."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata_version(path: str) -> str | None:
    """The ``Version:`` header of a METADATA / PKG-INFO file, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
    except OSError:
        return None
    for line in head.decode("utf-8", "replace").splitlines():
        if not line:
            break  # end of the headers
        if line.lower().startswith("version:"):
            return line.split(":", 1)[1].strip() or None
    return None


def _capture_script() -> ScriptResult:
    import builtins

    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if not isinstance(file, str) or (file.startswith("<") and file.endswith(">")):
        file = None  # "<stdin>" (python -), or no file at all
    argv = [_text(str(a)) for a in getattr(sys, "argv", [])]
    in_kernel = "ipykernel" in sys.modules
    if file and not (in_kernel and "ipykernel" in file):
        path = os.path.abspath(file)
        name = os.path.basename(path)
        info: dict[str, Any] = {
            "path": _text(path),
            "name": _text(name),
            "kind": "script",
            "argv": argv,
        }
        try:
            with open(path, "rb") as f:
                source = f.read(MAX_SCRIPT_BYTES + 1)
        except OSError as e:
            return info, None, [_text(f"script: cannot read {path}: {e.strerror or e}")]
        if len(source) > MAX_SCRIPT_BYTES:
            limit = MAX_SCRIPT_BYTES // (1024 * 1024)
            warning = f"script: {path} is over {limit} MB; its source was not kept"
            return info, None, [_text(warning)]
        return info, source, []
    in_ipython = in_kernel or hasattr(builtins, "get_ipython") or "IPython" in sys.modules
    if not in_ipython:
        return None, None, []  # python -c, the interactive interpreter, an embedding program
    notebook = _notebook_path(main)
    if notebook is None and not in_kernel:
        return None, None, []  # terminal IPython: typed code, like the plain interpreter
    info = {
        "path": notebook,
        "name": os.path.basename(notebook) if notebook else None,
        "kind": "notebook",
        "argv": argv,
    }
    if notebook is None:
        return info, None, [NOTEBOOK_PATH_UNKNOWN]
    return info, None, []


def _notebook_path(main: Any) -> str | None:
    """The notebook file as VS Code or Jupyter Server announce it, or None."""
    namespace = getattr(main, "__dict__", {})
    candidates = (
        namespace.get("__vsc_ipynb_file__"),
        namespace.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    )
    for value in candidates:
        if isinstance(value, str) and value.lower().endswith(".ipynb"):
            if not os.path.isabs(value) and os.path.isfile(value):
                value = os.path.abspath(value)
            return _text(value)
    return None


class RunningNotebook(NamedTuple):
    """The notebook running this Jupyter kernel: its file, or its executed cells as one."""

    path: str | None  # the notebook file, when announced and found on disk
    cells: bytes | None  # else an nbformat 4 notebook of the executed cells (UTF-8 JSON)
    warning: str | None  # why the cells were stored instead of the file


def running_notebook() -> RunningNotebook | None:
    """Inside a Jupyter kernel, the notebook to keep as ``exploration``; None elsewhere.

    The notebook file when the kernel announces it (VS Code, Jupyter Server's
    ``JPY_SESSION_NAME``) and it exists; otherwise a notebook rebuilt from the cells the
    kernel executed so far (IPython's input history, in order; nothing is executed). Never
    raises: provenance must not stop a run.
    """
    shell = _kernel_shell()
    if shell is None:
        return None
    try:
        info, _, _ = script_info()
        path = (info or {}).get("path")
        if path and os.path.isfile(path):
            return RunningNotebook(path, None, None)
        cells = _executed_cells(shell)
        why = f"{path} does not exist" if path else "the kernel did not announce its path"
        warning = (
            f"exploration: the notebook file could not be found ({why}); the {len(cells)} "
            "executed cell(s) were stored instead as exploration/notebook.ipynb (code only, "
            "no outputs)"
        )
        return RunningNotebook(None, _notebook_json(cells), _text(warning))
    except Exception:  # an unusual shell: keep nothing rather than fail the run
        return None


def _kernel_shell() -> Any:
    """The IPython shell of a Jupyter kernel (not terminal IPython), or None."""
    if "ipykernel" not in sys.modules:
        return None
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    try:
        shell = get_ipython() if callable(get_ipython) else None
    except Exception:
        return None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def _executed_cells(shell: Any) -> list[tuple[int, str]]:
    """(execution count, source) of every non-empty cell the kernel ran, in order."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not history:
        history = shell.user_ns.get("In") or []
    return [
        (count, source)
        for count, source in enumerate(history)
        if count > 0 and isinstance(source, str) and source.strip()
    ]


def _notebook_json(cells: list[tuple[int, str]]) -> bytes:
    """A valid nbformat 4.5 notebook of code cells, without outputs."""
    import json

    v = sys.version_info
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": count,
                "id": f"cell-{count}",
                "metadata": {},
                "outputs": [],
                "source": _text(source).splitlines(keepends=True),
            }
            for count, source in cells
        ],
        "metadata": {
            "language_info": {"name": "python", "version": f"{v.major}.{v.minor}.{v.micro}"},
            "lineage": {"captured": "executed cells"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _text(s: str) -> str:
    """``s`` as text UTF-8 JSON can hold: undecodable bytes (surrogates) become U+FFFD."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        try:
            return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return s.encode("utf-8", "replace").decode("utf-8")
