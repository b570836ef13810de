"""The ``lineage`` command line, on small real registries written through the public API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from lineage import Experiment
from lineage import cli as cli_module
from lineage.cli import choose, cli, output

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_CAPTURE_GIT", "0")


def run(root: Path | None, *args: str, env: dict[str, str] | None = None) -> Result:
    """``lineage ARGS`` with LINEAGE_ROOT pointing at ``root``."""
    environment = {"LINEAGE_ROOT": str(root) if root else None, **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def cells(line: str) -> list[str]:
    """The cells of a plain table line (columns are separated by two spaces or more)."""
    return re.split(r"\s{2,}", line.strip())


def line_starting(output: str, prefix: str) -> str:
    found = [line for line in output.splitlines() if line.strip().startswith(prefix)]
    assert found, f"no line starting with {prefix!r} in:\n{output}"
    return found[0]


def make(root: Path, name: str, params: dict, metrics: dict, **kwargs) -> None:
    notes = kwargs.pop("notes", False)
    register = {k: kwargs.pop(k) for k in ("model", "data") if k in kwargs}
    exp = Experiment(experiment_name=name, root=root, **kwargs)
    exp.hyperparameters = params
    for key, value in metrics.items():
        if isinstance(value, list):
            for step, v in enumerate(value):
                exp.log_metric(key, v, step=step)
        else:
            exp.log_metric(key, value)
    exp.register(releasenotes=exp.draft_release_note() if notes else None, **register)


@pytest.fixture
def demo(root: Path, trained: dict) -> Path:
    """Set 1 "Random Forest": three forests (2 and 3 share a name); set 2 "A/B test": two."""
    make(root, "rf shallow", {"max_depth": 3, "n_estimators": 10},
         {"f1": 0.81, "loss": [0.9, 0.6, 0.4]}, set_name="Random Forest",
         model_version="0.1.0", model=trained["model"])
    make(root, "rf deep", {"max_depth": 12, "n_estimators": 10},
         {"f1": 0.912345678, "loss": 0.25}, model_version="0.2.0", notes=True)
    make(root, "rf deep", {"max_depth": 20, "n_estimators": 10},
         {"f1": 0.88, "loss": 0.20}, model_version="0.3.0")
    make(root, "variant A", {"lr": 0.1}, {"f1": 0.5}, new_set=True, set_name="A/B test")
    make(root, "variant B", {"lr": 0.01}, {"f1": 0.6}, set="A/B test")
    return root


# -- every command ----------------------------------------------------------------------------

def test_every_command_has_an_example_in_its_help():
    assert "Example" in run(None, "--help").output
    for name in cli.commands:
        result = run(None, name, "--help")
        assert result.exit_code == 0, name
        assert "Example" in result.output, name
        assert "--root" in result.output and "--json" in result.output, name


def test_every_command_is_documented_in_docs_cli_md():
    docs = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## `lineage (\w+)", docs, flags=re.MULTILINE))
    assert headings == set(cli.commands)
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 5 |"):
        assert code in docs


def test_python_dash_m_lineage_runs_the_command_line(demo: Path):
    out = subprocess.run(
        [sys.executable, "-m", "lineage", "ls", "--root", str(demo)],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    assert out.returncode == 0, out.stderr
    assert cells(line_starting(out.stdout, "1 "))[:3] == ["1", "Random Forest", "3"]


# -- ls ---------------------------------------------------------------------------------------

def test_ls_lists_sets_with_their_counts_and_last_activity(demo: Path):
    result = run(demo, "ls")
    assert result.exit_code == 0
    header = cells(result.output.splitlines()[0])
    assert header == ["#", "name", "experiments", "running", "crashed", "failed",
                      "last activity"]
    assert cells(line_starting(result.output, "1 "))[:6] == ["1", "Random Forest", "3", "0",
                                                            "0", "0"]
    assert cells(line_starting(result.output, "2 "))[:3] == ["2", "A/B test", "2"]


def test_ls_json_gives_set_objects_with_stats_and_csv_a_header(demo: Path):
    sets = json.loads(run(demo, "ls", "--json").output)
    assert [(s["number"], s["name"], s["experiments"]) for s in sets] == [
        (1, "Random Forest", 3), (2, "A/B test", 2)]
    assert {"id", "created", "running", "crashed", "failed", "last_activity"} <= set(sets[0])
    lines = run(demo, "ls", "--csv").output.splitlines()
    assert lines[0] == "number,name,experiments,running,crashed,failed,last_activity"
    assert lines[2].startswith("2,A/B test,2,0,0,0,")


def test_ls_set_shows_params_that_vary_and_every_metric(demo: Path):
    result = run(demo, "ls", "1")
    assert result.exit_code == 0
    header = cells(result.output.splitlines()[0])
    assert header == ["#", "name", "status", "model_version", "data_version", "created",
                      "params.max_depth", "metrics.f1", "metrics.loss"]
    row = cells(line_starting(result.output, "2 "))
    assert row[:4] == ["2", "rf deep", "registered", "0.2.0"]
    assert row[-3:] == ["12", "0.9123", "0.25"]  # floats to 4 significant figures
    everything = run(demo, "ls", "1", "--all").output.splitlines()[0]
    assert "params.n_estimators" in everything


def test_ls_set_json_is_experiment_records_and_csv_keeps_full_precision(demo: Path):
    records = json.loads(run(demo, "ls", "1", "--json").output)
    on_disk = json.loads((demo / "experiment_set_1" / "experiment_2" / "experiment.json")
                         .read_text())
    assert [r["number"] for r in records] == [1, 2, 3]
    assert set(records[1]) == set(on_disk)
    assert records[1]["metrics"] == on_disk["metrics"]
    rows = run(demo, "ls", "1", "--csv").output.splitlines()
    assert rows[0].split(",")[-3:] == ["params.max_depth", "metrics.f1", "metrics.loss"]
    assert rows[2].split(",")[-2] == "0.912345678"


def test_ls_sorts_filters_limits_and_picks_columns(demo: Path):
    result = run(demo, "ls", "1", "--sort-by", "-metrics.f1", "--where",
                 "params.max_depth > 3", "--limit", "1", "--columns", "number,name,metrics.*")
    lines = result.output.splitlines()
    assert cells(lines[0]) == ["#", "name", "metrics.f1", "metrics.loss"]
    assert len(lines) == 2 and cells(lines[1]) == ["2", "rf deep", "0.9123", "0.25"]


def test_ls_columns_name_keys_as_the_filter_language_writes_them(tmp_path: Path):
    root = tmp_path / ".lineage"
    make(root, "a", {"batch size": 32, "lr": 0.1}, {"f1": 0.5})
    make(root, "b", {"batch size": 64, "lr": 0.1}, {"f1": 0.7})
    default = run(root, "ls", "1").output.splitlines()
    assert "params.`batch size`" in cells(default[0])  # it varies; lr does not
    assert "params.lr" not in cells(default[0])
    picked = run(root, "ls", "1", "--columns", "name,params.`batch size`").output.splitlines()
    assert [cells(line) for line in picked] == [["name", "params.`batch size`"],
                                                ["a", "32"], ["b", "64"]]
    unquoted = run(root, "ls", "1", "--columns", "name,params.batch size").output.splitlines()
    assert unquoted == picked
    unknown = run(root, "ls", "1", "--columns", "name,nonsense")
    assert unknown.exit_code == 2 and "unknown column 'nonsense'" in unknown.output


def test_ls_with_a_filter_but_no_set_is_a_usage_error(demo: Path):
    result = run(demo, "ls", "--where", "metrics.f1 > 0")
    assert result.exit_code == 2 and "lineage search" in result.output


def test_ls_of_a_set_named_with_a_slash(demo: Path):
    result = run(demo, "ls", "A/B test")
    assert [cells(line)[1] for line in result.output.splitlines()[1:]] == ["variant A",
                                                                           "variant B"]


# -- addressing -----------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "number"), [
    ("1/2", 2), ("Random Forest/1", 1), ("1/latest", 3), ("latest/latest", 2),
    ("Random Forest/rf deep", 3),  # a name addresses the newest experiment of that name
    ("A/B test/2", 2), ("A/B test/variant A", 1), ("A/B test/latest", 2), ("A/B test", 2),
    ("1", 3),  # a set alone: its newest experiment
])
def test_show_addresses_by_number_name_latest_and_names_with_slashes(demo, address, number):
    record = json.loads(run(demo, "show", address, "--json").output)
    expected_set = 2 if address.startswith(("A/B", "latest")) else 1
    assert (record["set"]["number"], record["number"]) == (expected_set, number)


@pytest.mark.parametrize("address", ["9/1", "1/9", "Random Forest/nope", "nope", "A/B test/7"])
def test_unknown_set_or_experiment_exits_3_with_one_line(demo: Path, address: str):
    result = CliRunner().invoke(cli, ["show", address, "--root", str(demo)])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("Error: no ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_unknown_set_in_ls_lists_the_sets(demo: Path):
    result = run(demo, "ls", "Gradient Boosting")
    assert result.exit_code == 3
    assert "'Random Forest'" in result.stderr and "'A/B test'" in result.stderr


# -- show -----------------------------------------------------------------------------------

def test_show_prints_metadata_params_metrics_steps_provenance_and_artifacts(demo: Path):
    out = run(demo, "show", "1/1").output
    assert out.splitlines()[0].split() == ["1/1", "rf", "shallow", "registered"]
    assert cells(line_starting(out, "max_depth")) == ["max_depth", "3"]
    assert cells(line_starting(out, "f1")) == ["f1", "0.81"]
    steps = [cells(line) for line in out.splitlines() if "0–2" in line]
    assert steps == [["loss", "3", "0–2", "0.4", "0.4", "0.9"]]  # count, steps, last, min, max
    assert "python" in out and "script" in out
    model = cells(line_starting(out, "model/model.joblib"))
    assert model[1] == "model" and re.fullmatch(r"blake3:[0-9a-f]{12}", model[3])


def test_show_json_is_the_whole_experiment_json(demo: Path):
    path = demo / "experiment_set_1" / "experiment_1" / "experiment.json"
    assert json.loads(run(demo, "show", "1/1", "--json").output) == json.loads(path.read_text())


def test_show_says_what_failed(root: Path):
    with pytest.raises(ZeroDivisionError):
        with Experiment(experiment_name="broken", root=root):
            raise ZeroDivisionError("division by zero")
    result = run(root, "show", "1/1")
    assert result.output.splitlines()[0].split()[-1] == "failed"
    assert "ZeroDivisionError" in result.output


def test_a_run_whose_process_died_is_shown_as_crashed(root: Path, tmp_path: Path):
    script = tmp_path / "dies.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from lineage import Experiment
        exp = Experiment(experiment_name="dies", root={str(root)!r})
        os._exit(0)
    """))
    subprocess.run([sys.executable, str(script)], check=True)
    assert cells(line_starting(run(root, "ls", "1").output, "1 "))[2] == "crashed"
    assert json.loads(run(root, "ls", "--json").output)[0]["crashed"] == 1
    assert json.loads(run(root, "show", "1/1", "--json").output)["status"] == "crashed"


# -- compare --------------------------------------------------------------------------------

def test_compare_marks_the_best_metric_with_a_star_in_its_column(demo: Path):
    out = run(demo, "compare", "1").output
    assert cells(out.splitlines()[0]) == ["1/1", "1/2", "1/3"]
    f1 = cells(line_starting(out, "metrics.f1"))
    assert [i for i, cell in enumerate(f1) if "★" in cell] == [2]  # 1/2 has the highest f1
    assert f1[2].startswith("0.9123 (+0.102)")  # with its delta against the first
    loss = cells(line_starting(out, "metrics.loss"))
    assert [i for i, cell in enumerate(loss) if "★" in cell] == [3]  # lower loss is better


def test_compare_shows_only_differences_unless_all(demo: Path):
    out = run(demo, "compare", "1").output
    assert "params.max_depth" in out and "name" in out
    assert "params.n_estimators" not in out and "data_version" not in out
    everything = run(demo, "compare", "1", "--all").output
    assert cells(line_starting(everything, "params.n_estimators")) == [
        "params.n_estimators", "10", "10", "10"]


def test_compare_picks_experiments_baseline_and_sections(demo: Path):
    out = run(demo, "compare", "1", "1", "3", "--baseline", "3", "--sections", "metrics").output
    assert cells(out.splitlines()[0]) == ["1/1", "1/3 (baseline)"]
    assert cells(line_starting(out, "metrics.f1")) == ["metrics.f1", "0.81 (-0.07)", "0.88 ★"]
    assert "params." not in out


def test_compare_json_and_csv(demo: Path):
    data = json.loads(run(demo, "compare", "1", "--json").output)
    assert [e["number"] for e in data["experiments"]] == [1, 2, 3]
    f1 = next(r for r in data["rows"] if (r["section"], r["key"]) == ("metrics", "f1"))
    assert f1["best"] == 1 and f1["values"][1] == 0.912345678
    rows = run(demo, "compare", "1", "--csv").output.splitlines()
    assert rows[0] == "section,key,1/1,1/2,1/3"
    assert "metrics,f1,0.81,0.912345678,0.88" in rows


def test_compare_unknown_section_is_a_usage_error(demo: Path):
    assert run(demo, "compare", "1", "--sections", "nope").exit_code == 2


# -- best -----------------------------------------------------------------------------------

def test_best_prints_the_best_experiment_and_promotes_it(demo: Path):
    result = run(demo, "best", "1", "--metric", "f1", "--promote", "production")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split() == ["1/2", "rf", "deep", "f1", "=", "0.9123"]
    assert "production → 1/2" in result.stdout
    assert json.loads(run(demo, "alias", "--json").output)["production"]["number"] == 2


def test_best_guesses_lower_is_better_from_the_name_and_obeys_min_max(demo: Path):
    assert run(demo, "best", "1", "-m", "loss").stdout.startswith("1/3 ")
    assert run(demo, "best", "1", "-m", "loss", "--max").stdout.startswith("1/1 ")
    assert run(demo, "best", "1", "-m", "f1", "--min").stdout.startswith("1/1 ")
    record = json.loads(run(demo, "best", "1", "-m", "f1", "--where",
                            "params.max_depth >= 20", "--json").output)
    assert record["number"] == 3 and "provenance" in record


def test_best_of_an_unknown_metric_lists_the_metrics(demo: Path):
    result = run(demo, "best", "1", "-m", "auc")
    assert result.exit_code == 3 and "f1, loss" in result.stderr


# -- diff -----------------------------------------------------------------------------------

TRAIN = """
from lineage import Experiment
DEPTH = {depth}
exp = Experiment(experiment_name="script {depth}", root={root!r}, set_name="scripts")
exp.hyperparameters = {{"depth": DEPTH}}
exp.log_metric("f1", {f1})
exp.register()
"""


def test_diff_shows_params_metrics_packages_and_the_script_change(root: Path, tmp_path: Path):
    for depth, f1, version in [(3, 0.8, "1.0"), (5, 0.85, "2.0")]:
        script = tmp_path / f"train_{depth}.py"
        script.write_text(TRAIN.format(depth=depth, root=str(root), f1=f1))
        site = tmp_path / f"site_{depth}"
        (site / f"fakepkg-{version}.dist-info").mkdir(parents=True)
        env = {**os.environ, "PYTHONPATH": str(site)}
        subprocess.run([sys.executable, str(script)], check=True, env=env)
    result = run(root, "diff", "1/1", "1/2")
    assert result.exit_code == 0
    out = result.output
    assert cells(line_starting(out, "depth")) == ["depth", "3", "→", "5"]
    assert cells(line_starting(out, "f1")) == ["f1", "0.8", "→", "0.85", "+0.05"]
    assert cells(line_starting(out, "fakepkg")) == ["fakepkg", "1.0", "→", "2.0"]
    assert "--- 1/1/provenance/train_3.py" in out and "+++ 1/2/provenance/train_5.py" in out
    assert "\n-DEPTH = 3\n" in out and "\n+DEPTH = 5\n" in out
    data = json.loads(run(root, "diff", "1/1", "1/2", "--json").output)
    assert data["packages"] == [{"name": "fakepkg", "a": "1.0", "b": "2.0"}]
    assert data["params"] == [{"key": "depth", "a": 3, "b": 5}]
    assert data["metrics"][0]["key"] == "f1" and data["metrics"][0]["delta"] == pytest.approx(0.05)
    assert "+DEPTH = 5" in data["script"]


def test_diff_of_an_experiment_with_itself_says_nothing_changed(demo: Path):
    assert "no differences" in run(demo, "diff", "1/1", "Random Forest/1").output


# -- notes ----------------------------------------------------------------------------------

def test_notes_prints_the_markdown_raw_when_piped(demo: Path):
    out = run(demo, "notes", "1/2").output
    path = demo / "experiment_set_1" / "experiment_2" / "releasenotes" / "releasenotes.md"
    assert out == path.read_text(encoding="utf-8")
    assert json.loads(run(demo, "notes", "1/2", "--json").output)["release_notes"] == out


def test_notes_renders_markdown_on_a_terminal(demo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    out = run(demo, "notes", "1/2").output
    assert "rf deep" in out and "# rf deep" not in out  # the heading is rendered
    assert run(demo, "notes", "1/2", "--raw").output.startswith("# rf deep")


def test_notes_of_an_experiment_without_notes_exits_3(demo: Path):
    result = run(demo, "notes", "1/1")
    assert result.exit_code == 3 and "no release notes" in result.stderr


# -- alias ----------------------------------------------------------------------------------

def test_alias_sets_lists_shows_history_and_removes(demo: Path):
    assert run(demo, "alias").exit_code == 0
    assert run(demo, "alias", "1/2", "production").output.startswith("production → 1/2")
    moved = run(demo, "alias", "1/3", "production").output
    assert moved.startswith("production → 1/3") and "(was 1/2)" in moved
    listing = run(demo, "alias").output
    assert cells(line_starting(listing, "production"))[:3] == ["production", "1/3", "rf deep"]
    assert json.loads(run(demo, "show", "@production", "--json").output)["number"] == 3
    history = run(demo, "alias", "--history", "production").output.splitlines()
    assert [cells(line)[2:4] for line in history[1:]] == [["1/2", "-"], ["1/3", "1/2"]]
    assert run(demo, "alias", "--remove", "production").exit_code == 0
    assert json.loads(run(demo, "alias", "--json").output) == {}
    assert "(removed)" in run(demo, "alias", "--history").output
    gone = run(demo, "alias", "--remove", "production")
    assert gone.exit_code == 3 and gone.stderr.startswith("Error: no experiment holds")


def test_alias_of_an_unregistered_name_is_refused(demo: Path):
    result = run(demo, "alias", "1/2", "not an alias!")
    assert result.exit_code == 1 and result.stderr.startswith("Error: alias")


# -- tag ------------------------------------------------------------------------------------

def test_tag_adds_and_removes_tags_without_touching_experiment_json(demo: Path):
    path = demo / "experiment_set_1" / "experiment_2" / "experiment.json"
    before = path.read_bytes()
    result = run(demo, "tag", "1/2", "team=nlp", "epochs=30", "reviewed=true", "ratio=0.5",
                 "labels=[1,2]", "note=not json")
    assert result.exit_code == 0
    tags = json.loads(run(demo, "show", "1/2", "--json").output)["tags"]
    assert tags == {"team": "nlp", "epochs": 30, "reviewed": True, "ratio": 0.5,
                    "labels": [1, 2], "note": "not json"}
    run(demo, "tag", "1/2", "team=", "note=null")
    assert set(json.loads(run(demo, "show", "1/2", "--json").output)["tags"]) == {
        "epochs", "reviewed", "ratio", "labels"}
    assert path.read_bytes() == before
    assert json.loads(run(demo, "search", "--where", "tags.epochs = 30", "--json").output)[0][
        "number"] == 2


def test_tag_without_an_equals_sign_is_a_usage_error(demo: Path):
    assert run(demo, "tag", "1/2", "team").exit_code == 2


# -- reindex and search ---------------------------------------------------------------------

def test_reindex_rebuilds_a_deleted_index(demo: Path):
    (demo / "index.sqlite").unlink()
    result = run(demo, "reindex")
    assert result.exit_code == 0
    assert result.output.startswith("indexed 5 experiments of 2 sets in ")
    assert (demo / "index.sqlite").exists()
    assert json.loads(run(demo, "reindex", "--json").output)["experiments"] == 5
    assert len(json.loads(run(demo, "search", "--json").output)) == 5


def test_search_across_sets_adds_a_set_column(demo: Path):
    result = run(demo, "search", "--where", "metrics.f1 >= 0.6", "--order-by", "metrics.f1")
    lines = result.output.splitlines()
    assert cells(lines[0])[:3] == ["set", "#", "name"]
    assert [cells(line)[:3] for line in lines[1:]] == [
        ["2", "2", "variant B"], ["1", "1", "rf shallow"], ["1", "3", "rf deep"],
        ["1", "2", "rf deep"]]


def test_search_with_a_bad_filter_exits_4_and_shows_where(demo: Path):
    result = run(demo, "search", "1", "--where", "metrics.f1 >")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == (
        "Error: expected a value after '>' at position 12:\n"
        "  metrics.f1 >\n"
        "              ^\n"
    )


def test_search_with_nothing_matching_prints_no_rows(demo: Path):
    result = run(demo, "search", "--where", "metrics.f1 > 2")
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(run(demo, "search", "--where", "metrics.f1 > 2", "--json").output) == []


# -- problems -------------------------------------------------------------------------------

def test_a_corrupt_record_is_warned_of_and_the_others_still_listed(demo: Path):
    (demo / "experiment_set_1" / "experiment_2" / "experiment.json").write_text("{not json")
    (demo / "index.sqlite").unlink()
    result = run(demo, "ls", "1")
    assert result.exit_code == 0
    assert result.stderr.startswith("Warning: skipped ") and "experiment_2" in result.stderr
    assert [cells(line)[0] for line in result.stdout.splitlines()[1:]] == ["1", "3"]
    compared = run(demo, "compare", "1")
    assert compared.exit_code == 0 and "Warning: skipped" in compared.stderr
    shown = run(demo, "show", "1/2")
    assert shown.exit_code == 5 and shown.stderr.startswith("Error: ")


def test_no_registry_exits_5(tmp_path: Path):
    for args in (["ls"], ["ls", "1"], ["show", "1/1"], ["reindex"]):
        result = run(tmp_path / "nowhere", *args)
        assert result.exit_code == 5
        assert result.stderr.startswith("Error: no lineage registry at ")


def test_a_registry_of_another_format_exits_5(demo: Path):
    (demo / "lineage.json").write_text('{"format": 99}')
    result = run(demo, "ls")
    assert result.exit_code == 5 and "format 99" in result.stderr


def test_root_option_and_environment_variable_both_find_the_registry(demo: Path):
    by_option = CliRunner().invoke(cli, ["ls", "--json", "--root", str(demo.parent)])
    assert len(json.loads(by_option.output)) == 2
    assert len(json.loads(run(demo, "ls", "--json").output)) == 2


# -- output details -------------------------------------------------------------------------

def test_tables_are_drawn_with_rich_on_a_terminal(demo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")
    out = run(demo, "compare", "1").output
    assert "─" in out  # rich's rule under the header
    assert "★" in line_starting(out, "metrics.f1")


def test_json_never_holds_nan_and_tag_values_parse_as_json():
    assert json.loads(output.dumps({"x": float("nan"), "y": [float("inf")]})) == {
        "x": None, "y": [None]}
    assert [choose.tag_value(v) for v in ("3", "x", '"3"', "NaN", "1e999", "")] == [
        3, "x", "3", "NaN", "1e999", None]


def test_the_version_option(demo: Path):
    import lineage

    assert lineage.__version__ in run(demo, "--version").output


def test_json_and_csv_together_is_a_usage_error(demo: Path):
    assert run(demo, "ls", "1", "--json", "--csv").exit_code == 2


def test_exit_codes_follow_the_error_classes():
    from lineage import errors

    assert cli_module.exit_code(errors.SetNotFoundError("x")) == 3
    assert cli_module.exit_code(errors.AliasNotFoundError("x")) == 3
    assert cli_module.exit_code(errors.QueryError("x")) == 4
    assert cli_module.exit_code(errors.CorruptRecordError("p", "x")) == 5
    assert cli_module.exit_code(errors.FormatVersionError("x")) == 5
    assert cli_module.exit_code(errors.IntegrityError("x")) == 1
    assert cli_module.exit_code(errors.ValidationError("x")) == 1
    assert isinstance(cli, click.Group)


def test_trace_lists_experiments_on_the_same_data_and_versions(root):
    import numpy as np

    from lineage import Experiment

    for model, version, data in [("0.1", "d1", np.zeros(4)), ("0.2", "d1", np.zeros(4)),
                                 ("0.3", "d2", np.ones(4))]:
        Experiment(experiment_name=f"m{model}", model_version=model, data_version=version,
                   root=root).register(data=data)
    result = run(root, "trace", "1/2")
    assert result.exit_code == 0, result.stderr
    assert "1/1" in result.stdout and "m0.1" in result.stdout and "1/3" not in result.stdout.split(
        "Model versions")[0]
    assert "0.1 (1/1), 0.2 (1/2)" in result.stdout
    data = json.loads(run(root, "trace", "1/3", "--json").stdout)
    assert [r["number"] for r in data["same_data"]] == [3]


def test_the_cli_knows_the_comparison_sections_without_importing_them():
    from lineage.cli import choose
    from lineage.comparison import SECTIONS

    assert choose._SECTIONS == SECTIONS  # a copy, so `--help` needs no comparison import
