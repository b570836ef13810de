"""Provenance capture against real interpreters and real scripts."""

from __future__ import annotations

import getpass
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lineage import provenance

SRC = str(Path(__file__).resolve().parents[1] / "src")

pytestmark = pytest.mark.usefixtures("isolated_git")


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
    again_static, again_packages = provenance.static_info(), provenance.packages()
    assert again_static is first_static
    assert again_packages is first_packages


def test_packages_report_the_installed_pytest_version() -> None:
    assert provenance.packages()["pytest"] == importlib.metadata.version("pytest")


def test_packages_agree_with_importlib_metadata_for_every_installed_distribution() -> None:
    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        expected.setdefault(provenance._normalise(dist.metadata["Name"]), dist.version)

    assert provenance.packages() == expected


def test_static_capture_spawns_nothing_and_imports_no_slow_module(tmp_path: Path) -> None:
    # No subprocess import means no `pip freeze`; its cost is benchmarks/core.py's to measure.
    code = textwrap.dedent(
        """
        import json, sys
        from lineage import provenance
        before = set(sys.modules)
        provenance.static_info()
        provenance.packages()
        print(json.dumps({"new": sorted(set(sys.modules) - before)}))
        """
    )
    out = run_python("-c", code, cwd=tmp_path)

    slow = {"platform", "socket", "getpass", "subprocess", "importlib.metadata", "email"}
    assert slow.isdisjoint(out["new"]), out["new"]


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
