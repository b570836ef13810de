"""The web UI in process (starlette's TestClient): every view, its JSON twin, every safety
rule. A real server and a real browser are in test_web_server.py and test_web_browser.py."""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from lineage.web import create_app
from test_web_demo import XSS, build

with warnings.catch_warnings():  # newer starlette asks for httpx2 and warns about httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ESCAPED = "&lt;script&gt;"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo registry, made once for the read-only tests of this module."""
    base = tmp_path_factory.mktemp("web")
    build(base / ".lineage", base / "work")
    return base / ".lineage"


@pytest.fixture
def client(demo: Path) -> TestClient:
    return TestClient(create_app(demo), base_url="http://localhost")


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A demo registry of this test's own, for tests that change or tamper with it."""
    build(tmp_path / "own" / ".lineage", tmp_path / "own" / "work")
    return tmp_path / "own" / ".lineage"


def html(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    return response.text


def twin(client: TestClient, path: str) -> Any:
    base, _, query = path.partition("?")
    response = client.get(f"{base}.json" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def experiment_json(root: Path, s: int, e: int) -> Path:
    return root / f"experiment_set_{s}" / f"experiment_{e}" / "experiment.json"


# -- views -------------------------------------------------------------------------------------

def test_home_redirects_to_the_newest_sets_table(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/sets/2"


def test_sets_page_lists_each_set_with_size_best_main_metric_and_activity(client) -> None:
    data = twin(client, "/sets")
    first = next(s for s in data["sets"] if s["number"] == 1)
    assert first["experiments"] == 6 and first["failed"] == 1 and first["crashed"] == 1
    assert first["main_metric"]["metric"] == "f1" and first["main_metric"]["value"] == 0.91
    assert first["main_metric"]["experiment"]["number"] == 3
    assert first["last_activity"]
    page = html(client, "/sets")
    assert "Random Forest &lt;b&gt;" in page and "0.91" in page and "1 crashed" in page


def test_every_page_has_a_json_twin_built_from_the_same_dict(client) -> None:
    for path in ("/sets", "/sets/1", "/sets/1/compare?e=1&e=2", "/sets/1/3",
                 "/sets/1/3/notebook", "/lineage"):
        data = twin(client, path)
        page = html(client, path)
        title = data["title"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f"<title>{title} · lineage</title>" in page, path


def test_table_shows_every_metric_and_the_params_that_vary_by_default(client) -> None:
    data = twin(client, "/sets/1")
    keys = [c["key"] for c in data["columns"]]
    assert {"metrics.f1", "metrics.loss", "metrics.rmse", "params.max_depth"} <= set(keys)
    everywhere = twin(client, "/sets/1?where=status+%3D+%27registered%27")
    shown = [c["key"] for c in everywhere["columns"]]
    assert "params.max_depth" in shown and "params.criterion" not in shown  # the same in all
    assert "params.criterion" in everywhere["available"]


def test_table_lists_the_newest_experiments_first_unless_sorted(client) -> None:
    numbers = [row["number"] for row in twin(client, "/sets/1")["rows"]]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) > 2
    header = twin(client, "/sets/1")["columns"][0]
    assert header["key"] == "number" and header["sorted"] == "desc"
    oldest = [row["number"] for row in twin(client, "/sets/1?sort=number")["rows"]]
    assert oldest == sorted(numbers)


def test_compare_shows_experiments_oldest_first_in_any_order_asked(client) -> None:
    data = twin(client, "/sets/1/compare?e=4&e=1&e=2")
    assert [e["number"] for e in data["experiments"]] == [1, 2, 4]


def test_table_aligns_numbers_right_and_text_left(client) -> None:
    page = html(client, "/sets/1?cols=name,params.criterion,params.max_depth")
    headers = dict((key, cls.split()) for cls, key in re.findall(
        r'<th class="([^"]*)" scope="col">\s*<a class="sort"[^>]*data-key="([^"]+)"', page))
    assert "r" in headers["params.max_depth"] and "r" not in headers["params.criterion"]
    assert '<td><span title="gini">gini</span></td>' in page
    assert '<td class="r"><span class="num" title="16">16</span></td>' in page


def test_table_marks_the_best_value_lower_is_better_by_name_and_overridable(client) -> None:
    data = twin(client, "/sets/1")
    assert data["best"]["f1"] == {"value": 0.91, "direction": "max", "guessed": True}
    assert data["best"]["rmse"]["direction"] == "min"
    assert data["best"]["rmse"]["value"] == pytest.approx(0.09)
    flipped = twin(client, "/sets/1?dir=rmse:max")
    assert flipped["best"]["rmse"]["direction"] == "max"
    assert flipped["best"]["rmse"]["value"] == pytest.approx(0.19)
    page = html(client, "/sets/1")
    best = re.findall(r'<td class="r metric best">(.*?)</td>', page, re.S)
    assert len(best) == 3 and all("★" in cell for cell in best)


def test_numbers_show_four_significant_figures_with_the_full_value_on_hover(client) -> None:
    page = html(client, "/sets/1/1")
    assert '<span class="num" title="0.06451612903225806">0.06452</span>' in page


def test_table_sorts_by_two_keys_and_keeps_every_choice_in_the_url(client) -> None:
    data = twin(client, "/sets/1?sort=-params.n_estimators,-metrics.f1&size=2")
    assert [r["number"] for r in data["rows"]] == [3, 4]
    assert data["pages"] == 3
    page = html(client, "/sets/1?sort=-params.n_estimators,-metrics.f1&size=2&where=number+%3C+9")
    nxt = re.search(r'href="(\?[^"]*)" rel="next"', page).group(1)
    assert "sort=-params.n_estimators%2C-metrics.f1" in nxt and "size=2" in nxt
    assert "where=number+%3C+9" in nxt and "page=2" in nxt
    assert [r["number"] for r in twin(client, "/sets/1" + nxt.replace("&amp;", "&"))["rows"]] \
        == [2, 1]


def test_table_filters_with_the_query_language(client) -> None:
    data = twin(client, "/sets/1?where=metrics.f1+%3E%3D+0.89+or+name+~+%27killed%27")
    assert sorted(r["number"] for r in data["rows"]) == [3, 4, 6]
    assert data["matched"] == 3 and data["total"] == 6


def test_a_bad_filter_is_shown_inline_with_a_caret_under_the_position(client) -> None:
    data = twin(client, "/sets/1?where=metrics.f1+%3E")
    assert data["errors"]["where"]["position"] == 12 and data["rows"] == []
    page = html(client, "/sets/1?where=metrics.f1+%3E")
    assert 'role="alert"' in page
    assert "<pre>metrics.f1 &gt;\n" + " " * 12 + "^</pre>" in page


def test_page_size_and_query_length_are_capped(client) -> None:
    assert twin(client, "/sets/1?size=100000")["size"] == 500
    data = twin(client, "/sets/1?where=" + "a" * 5000)
    assert "at most 2,000 characters" in data["errors"]["where"]["message"]


def test_running_failed_and_crashed_experiments_are_marked(client) -> None:
    page = html(client, "/sets/1")
    assert '<tr class="row-failed">' in page and '<tr class="row-crashed">' in page
    assert 'status status-crashed">crashed<' in page
    statuses = {r["number"]: r["status"] for r in twin(client, "/sets/1")["rows"]}
    assert statuses[5] == "failed" and statuses[6] == "crashed"


def test_step_metrics_are_drawn_as_sparklines_in_their_cells(client) -> None:
    data = twin(client, "/sets/1")
    loss = [c["key"] for c in data["columns"]].index("metrics.loss")
    cell = next(row for row in data["rows"] if row["number"] == 1)["cells"][loss]
    assert len(cell["spark"]) > 10 and cell["spark"][0] == [0, 1.0]
    assert html(client, "/sets/1").count('<svg class="spark"') == 4


def test_columns_can_be_picked_hidden_and_globbed(client) -> None:
    picked = twin(client, "/sets/1?pick=1&col=name&col=metrics.f1")
    assert [c["key"] for c in picked["columns"]] == ["name", "metrics.f1"]
    globbed = twin(client, "/sets/1?cols=name,metrics.*")
    assert [c["key"] for c in globbed["columns"]] == ["name", "metrics.f1", "metrics.loss",
                                                      "metrics.rmse"]
    hidden = twin(client, "/sets/1?hide=metrics.loss,created")
    assert "metrics.loss" not in [c["key"] for c in hidden["columns"]]


def test_compare_shows_only_differences_with_deltas_coloured_by_direction(client) -> None:
    data = twin(client, "/sets/1/compare?e=1&e=3")
    rows = {(r["section"], r["key"]): r for r in data["rows"]}
    assert ("params", "criterion") not in rows and ("params", "max_depth") in rows
    f1, rmse = rows[("metrics", "f1")], rows[("metrics", "rmse")]
    assert f1["best"] == 1 and f1["deltas"][1]["tone"] == "better"
    assert rmse["best"] == 1 and rmse["deltas"][1]["tone"] == "better"
    assert rmse["deltas"][1]["value"] == pytest.approx(-0.1)
    against_3 = twin(client, "/sets/1/compare?e=1&e=3&baseline=3")
    assert {r["key"]: r for r in against_3["rows"]}["f1"]["deltas"][0]["tone"] == "worse"
    page = html(client, "/sets/1/compare?e=1&e=3")
    assert '<span class="delta better"' in page


def test_compare_includes_environment_and_data_fingerprints_with_all_rows(client) -> None:
    data = twin(client, "/sets/1/compare?e=1&e=2&all=1")
    sections = {r["section"] for r in data["rows"]}
    assert {"experiment", "params", "metrics", "data", "environment", "packages"} <= sections
    fingerprint = next(r for r in data["rows"] if r["key"] == "fingerprint")
    assert fingerprint["values"][0].startswith("blake3:") and not fingerprint["changed"]


def test_compare_overlays_step_curves_and_plots_a_param_against_a_metric(client) -> None:
    data = twin(client, "/sets/1/compare?e=1&e=2&e=4")
    loss = next(c for c in data["charts"] if c["metric"] == "loss")
    assert [s["colour"] for s in loss["series"]] == [0, 1, 2]
    assert data["scatter"]["x"] == "max_depth" and data["scatter"]["y"] == "f1"
    assert [p["x"] for p in data["scatter"]["points"]] == [4, 8, 32]
    assert any(b[0] == 16 for b in data["scatter"]["background"])
    page = html(client, "/sets/1/compare?e=1&e=2&e=4&x=n_estimators&y=rmse")
    assert '<svg class="chart scatter"' in page and "rmse against n_estimators" in page
    assert page.count('<g class="series c') == 3


def test_compare_shows_text_artifacts_of_the_same_name_as_a_line_diff(client) -> None:
    data = twin(client, "/sets/1/compare?e=1&e=2")
    config = next(t for t in data["texts"] if t["path"] == "artifacts/config.yaml")
    lines = config["diffs"][0]["lines"]
    assert {"kind": "del", "text": "-max_depth: 4"} in lines
    assert {"kind": "add", "text": "+max_depth: 8"} in lines
    page = html(client, "/sets/1/compare?e=1&e=2")
    assert '<span class="dl add">+max_depth: 8</span>' in page


def test_compare_needs_two_to_ten_experiments(client) -> None:
    assert client.get("/sets/1/compare?e=1").status_code == 400
    assert client.get("/sets/1/compare?" + "&".join(f"e={i}" for i in range(1, 12))
                      ).status_code == 400
    assert client.get("/sets/1/compare?e=1&e=99").status_code == 404


def test_experiment_page_shows_everything_it_recorded(client) -> None:
    page = html(client, "/sets/1/3")
    for text in ("rf depth 16", "max_depth", "f1", "Release 1.16", "Provenance",
                 "artifacts/config.yaml", "blake3:", "download", "view notebook",
                 "30 steps", 'class="chart"'):
        assert text in page, text
    data = twin(client, "/sets/1/3")
    assert data["status"] == "registered" and data["curves"]["loss"][0] == [0, 1.0]
    assert {a["role"] for a in data["artifacts"]} >= {"model", "data", "exploration",
                                                     "releasenotes", "artifact"}
    failed = html(client, "/sets/1/5")
    assert "out of memory &lt;boom&gt;" in failed and "Traceback" in failed


def test_release_notes_are_rendered_from_markdown_with_raw_html_escaped(client) -> None:
    page = html(client, "/sets/1/3")
    notes = page.split('id="release-notes"')[1].split("</section>")[0]
    assert "<h1>Release 1.16</h1>" in notes and "<strong>deeper</strong>" in notes
    assert "<table>" in notes and XSS not in notes and ESCAPED in notes
    assert '<pre class="hl"><code>' in notes


def test_notebook_is_rendered_readably_and_never_trusted(client) -> None:
    page = html(client, "/sets/1/3/notebook")
    assert "<h1>Exploring the data</h1>" in page and "array([0, 1, 2])" in page
    assert '<pre class="out stream">hi\n</pre>' in page
    assert "shown as source (never rendered)" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert XSS not in page and "<b>bold</b>" not in page
    assert re.search(r'<img src="data:image/png;base64,iVBORw0KGgo[^"]*" alt="&lt;Figure&gt;">',
                     page)
    assert page.count("<img ") == 2  # the favicon in the header and the one valid PNG
    assert "not valid base64 of a image/png file" in page
    assert "image/svg+xml" in page and "onload" not in page
    assert "ZeroDivisionError: division by zero" in page and "\x1b[" not in page
    cells = twin(client, "/sets/1/3/notebook")["notebook"]["cells"]
    assert [c["type"] for c in cells] == ["markdown"] + ["code"] * 5


def test_lineage_view_finds_experiments_by_fingerprint_version_and_experiment(client) -> None:
    home = twin(client, "/lineage")
    assert home["fingerprints"][0]["experiments"] == 5
    fingerprint = home["fingerprints"][0]["fingerprint"]
    by_print = twin(client, f"/lineage?fingerprint={fingerprint}")
    assert len(by_print["rows"]) == 5
    versions = {v["data_version"]: v for v in by_print["versions"]}
    assert set(versions) == {"2026-11", "v-other"}
    by_version = twin(client, "/lineage?data_version=2026-11")
    assert [r["address"] for r in by_version["rows"]] == ["1/1", "1/2", "1/3", "1/4"]
    traced = twin(client, "/lineage?experiment=1/2")
    assert traced["data"]["fingerprint"] == fingerprint and len(traced["rows"]) == 5
    assert client.get("/lineage?fingerprint=blake3:'or'1").status_code == 400
    assert client.get("/lineage?experiment=../1").status_code == 400


def test_a_running_experiments_live_json_follows_its_step_metrics(tmp_path: Path) -> None:
    from lineage import Experiment

    root = tmp_path / ".lineage"
    exp = Experiment(experiment_name="training", root=root)
    try:
        client = TestClient(create_app(root), base_url="http://localhost")
        exp.log_metric("loss", 1.0, step=0)
        exp._flush()
        first = client.get("/sets/1/1/live.json").json()
        assert first["status"] == "running" and first["steps"]["loss"]["count"] == 1
        assert 'data-live="/sets/1/1/live.json"' in client.get("/sets/1/1").text
        for step in range(1, 5):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
        exp._flush()
        second = client.get("/sets/1/1/live.json").json()
        assert second["steps"]["loss"]["count"] == 5
        assert second["charts"]["loss"].startswith('<svg class="chart"')
        assert twin(client, "/sets/1")["rows"][0]["status"] == "running"
    finally:
        exp.register()
    assert client.get("/sets/1/1/live.json").json()["status"] == "registered"


def test_the_app_can_be_mounted_in_another_asgi_app(demo: Path) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/tracker", app=create_app(demo))])
    client = TestClient(outer, base_url="http://localhost")
    page = client.get("/tracker/sets/1")
    assert page.status_code == 200
    assert 'href="/tracker/sets/1/3"' in page.text and "/tracker/static/style.css?v=" in page.text
    assert client.get("/tracker/", follow_redirects=False).headers["location"] == \
        "/tracker/sets/2"


def test_a_folder_without_a_registry_shows_an_empty_page(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path / "nothing"), base_url="http://localhost")
    assert "no lineage registry" in client.get("/sets").text
    assert not (tmp_path / "nothing").exists()


def test_unknown_pages_and_experiments_are_404_pages_and_json(client) -> None:
    assert client.get("/nope").status_code == 404
    missing = client.get("/sets/1/99.json")
    assert missing.status_code == 404 and "no experiment" in missing.json()["error"]
    assert client.get("/sets/9").status_code == 404


# -- safety: hosts and headers -----------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "localhost.evil.example",
                                  "", "[::2]", "attacker:8765"])
def test_requests_for_another_host_are_refused_against_dns_rebinding(demo, host) -> None:
    client = TestClient(create_app(demo), base_url="http://localhost")
    response = client.get("/sets", headers={"host": host})
    assert response.status_code == 400 and "DNS rebinding" in response.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "localhost:8765",
                                  "127.0.0.1:8765"])
def test_loopback_hosts_are_answered(demo, host) -> None:
    client = TestClient(create_app(demo, port=8765), base_url="http://localhost")
    assert client.get("/sets", headers={"host": host}).status_code == 200


def test_the_bound_port_must_match_when_known(demo) -> None:
    client = TestClient(create_app(demo, port=8765), base_url="http://localhost")
    assert client.get("/sets", headers={"host": "127.0.0.1:9999"}).status_code == 400


def test_pages_carry_a_content_security_policy_and_refuse_framing(client) -> None:
    response = client.get("/sets/1/3")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in response.text.replace('<script src=', '')  # no inline script


def test_pages_load_nothing_from_anywhere_but_the_server(client) -> None:
    for path in ("/sets", "/sets/1", "/sets/1/compare?e=1&e=2", "/sets/1/3",
                 "/sets/1/3/notebook", "/lineage"):
        page = html(client, path)
        for url in re.findall(r'(?:src|href|action)="([^"]*)"', page):
            assert not re.match(r"(https?:)?//", url), (path, url)


def test_every_user_string_is_escaped(client) -> None:
    for path in ("/sets", "/sets/1?cols=*", "/sets/1/compare?e=1&e=2&all=1", "/sets/1/3",
                 "/sets/1/3/notebook", "/lineage?data_version=2026-11", "/sets/1/5"):
        page = html(client, path)
        assert XSS not in page and "<b>bold" not in page and "<i>deep" not in page, path
    assert ESCAPED in html(client, "/sets/1?cols=*") and "&lt;i&gt;deep" in html(client,
                                                                                 "/sets/1/3")


# -- safety: files --------------------------------------------------------------------------------

def test_a_download_is_an_attachment_with_the_recorded_bytes(client, demo) -> None:
    from blake3 import blake3

    record = json.loads(experiment_json(demo, 1, 3).read_text())
    index = next(i for i, a in enumerate(record["artifacts"]) if a["role"] == "model")
    response = client.get(f"/sets/1/3/artifacts/{index}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith('attachment; filename="model.joblib"')
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "blake3:" + blake3(response.content).hexdigest() == record["artifacts"][index]["hash"]
    assert client.get("/sets/1/3/artifacts/releasenotes").content.startswith(b"# Release 1.16")


def test_html_and_svg_artifacts_are_never_rendered_in_the_uis_origin(tmp_path: Path) -> None:
    from lineage import Experiment

    page = tmp_path / "report.html"
    page.write_text(f"<html><body>{XSS}</body></html>")
    image = tmp_path / "plot.svg"
    image.write_text("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>")
    exp = Experiment(experiment_name="reports", root=tmp_path / ".lineage")
    exp.register(artifacts={"report.html": page, "plot.svg": image})
    client = TestClient(create_app(tmp_path / ".lineage"), base_url="http://localhost")
    for i in range(len(exp.record["artifacts"])):
        response = client.get(f"/sets/1/1/artifacts/{i}")
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["x-content-type-options"] == "nosniff"


TRAVERSALS = [
    "/sets/1/3/artifacts/../../../../etc/passwd",
    "/sets/1/3/artifacts/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/sets/1/3/artifacts/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/sets/1/3/artifacts/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/sets/1/3/artifacts/..\\..\\..\\etc\\passwd",
    "/sets/1/3/artifacts/%5c..%5c..%5cetc%5cpasswd",
    "/sets/1/3/artifacts//etc/passwd",
    "/sets/1/3/artifacts/%2fetc%2fpasswd",
    "/sets/1/3/artifacts/0/../../../../../etc/passwd",
    "/sets/1/3/artifacts/-1",
    "/sets/1/3/artifacts/999",
    "/sets/1/3/artifacts/model%00",
    "/static/..%2f..%2fapp.py",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/../views/table.py",
    "/static/..%5capp.py",
    "//etc/passwd",
    "/sets/1/../../../../etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_paths_are_404(client, path) -> None:
    response = client.get(path)
    assert response.status_code in (404, 405) and response.status_code != 200
    assert "root:" not in response.text and "import" not in response.text


def _tamper(root: Path, s: int, e: int, **changes: Any) -> None:
    path = experiment_json(root, s, e)
    record = json.loads(path.read_text())
    for i, entry in changes.items():
        record["artifacts"][int(i[1:])].update(entry)
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("bad", ["../../../../../../etc/passwd", "/etc/passwd",
                                 "artifacts/../../../experiment_2/experiment.json",
                                 "artifacts\\..\\..\\x", "C:/x", "./model/model.joblib",
                                 "model//model.joblib", ""])
def test_manifest_paths_that_leave_the_experiment_folder_are_refused(fresh, bad) -> None:
    _tamper(fresh, 1, 1, a0={"path": bad, "size": None})
    client = TestClient(create_app(fresh), base_url="http://localhost")
    response = client.get("/sets/1/1/artifacts/0")
    assert response.status_code == 404 and "root:" not in response.text


def test_a_symlink_planted_in_the_registry_is_refused(fresh, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    folder = experiment_json(fresh, 1, 1).parent
    record = json.loads(experiment_json(fresh, 1, 1).read_text())
    i = next(i for i, a in enumerate(record["artifacts"]) if a["path"] == "artifacts/config.yaml")
    target = folder / "artifacts" / "config.yaml"
    target.unlink()
    target.symlink_to(secret)
    client = TestClient(create_app(fresh), base_url="http://localhost")
    assert client.get(f"/sets/1/1/artifacts/{i}").status_code == 404
    # a folder on the way that is a symlink (artifacts/ -> somewhere else)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.yaml").write_text("max_depth: 4\nn_estimators: 100\ncriterion: gini\n")
    target.unlink()
    (folder / "artifacts").rmdir()
    (folder / "artifacts").symlink_to(elsewhere)
    assert client.get(f"/sets/1/1/artifacts/{i}").status_code == 404
    assert "top secret" not in client.get("/sets/1/1").text
    # the experiment folder itself replaced by a symlink to a real experiment elsewhere
    real = experiment_json(fresh, 1, 2).parent
    assert client.get("/sets/1/2/artifacts/0").status_code == 200
    moved = tmp_path / "moved"
    real.rename(moved)
    real.symlink_to(moved)
    assert client.get("/sets/1/2/artifacts/0").status_code == 404


def test_a_fifo_planted_in_the_registry_is_never_opened(fresh) -> None:
    folder = experiment_json(fresh, 1, 1).parent
    record = json.loads(experiment_json(fresh, 1, 1).read_text())
    i = next(i for i, a in enumerate(record["artifacts"]) if a["role"] == "releasenotes")
    notes = folder / record["artifacts"][i]["path"]
    notes.unlink()
    os.mkfifo(notes)
    steps = folder / "metrics" / "metrics.jsonl"
    steps.unlink()
    os.mkfifo(steps)
    client = TestClient(create_app(fresh), base_url="http://localhost")
    answers: dict[str, int] = {}

    def ask() -> None:
        answers["download"] = client.get(f"/sets/1/1/artifacts/{i}").status_code
        answers["page"] = client.get("/sets/1/1").status_code
        answers["table"] = client.get("/sets/1").status_code

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(10)
    assert answers == {"download": 404, "page": 200, "table": 200}


def test_a_file_whose_size_differs_from_the_manifest_is_refused(fresh) -> None:
    folder = experiment_json(fresh, 1, 1).parent
    target = folder / "artifacts" / "config.yaml"
    target.unlink()
    target.write_text("something else entirely, of another size\n")
    client = TestClient(create_app(fresh), base_url="http://localhost")
    record = json.loads(experiment_json(fresh, 1, 1).read_text())
    i = next(i for i, a in enumerate(record["artifacts"]) if a["path"] == "artifacts/config.yaml")
    assert client.get(f"/sets/1/1/artifacts/{i}").status_code == 404


def test_nothing_is_ever_unpickled_while_serving(client, monkeypatch) -> None:
    import pickle

    import joblib

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the UI unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(joblib, "load", refuse)
    for path in ("/sets", "/sets/1", "/sets/1/compare?e=1&e=2&all=1", "/sets/1/3",
                 "/sets/1/3/notebook", "/lineage", "/sets/1/3/artifacts/model",
                 "/sets/1/3/artifacts/results", "/sets/1/3/live.json"):
        assert client.get(path).status_code in (200, 404), path


# -- safety: writes -------------------------------------------------------------------------------

def _token(client: TestClient, path: str = "/sets/1/1") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def test_tags_and_aliases_change_only_with_a_post_carrying_the_csrf_token(fresh) -> None:
    import lineage

    client = TestClient(create_app(fresh), base_url="http://localhost")
    token = _token(client)
    form = {"key": "reviewed", "value": "true"}
    assert client.post("/sets/1/1/tags", data=form).status_code == 403
    assert client.post("/sets/1/1/tags", data={**form, "csrf": "wrong"}).status_code == 403
    assert lineage.load(1, 1, root=fresh).tags == {}
    done = client.post("/sets/1/1/tags", data={**form, "csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/sets/1/1#tags"
    assert lineage.load(1, 1, root=fresh).tags == {"reviewed": True}
    client.post("/sets/1/1/tags", data={"key": "reviewed", "value": "", "csrf": token})
    assert lineage.load(1, 1, root=fresh).tags == {}
    assert client.post("/sets/1/2/alias", data={"name": "production"}).status_code == 403
    done = client.post("/sets/1/2/alias", data={"name": "production", "csrf": token},
                       headers={"accept": "application/json"})
    assert done.status_code == 200 and done.json()["alias"]["number"] == 2
    assert lineage.load(alias="production", root=fresh).number == 2
    assert "@production" in client.get("/sets/1/2").text
    refused = client.post("/sets/1/5/alias", data={"name": "staging", "csrf": token})
    assert refused.status_code == 400 and "only registered" in refused.text
    assert client.post("/aliases/remove", data={"name": "production"}).status_code == 403
    client.post("/aliases/remove", data={"name": "production", "csrf": token})
    assert lineage.aliases(root=fresh) == {}


def test_cross_origin_posts_are_refused_even_with_the_token(fresh) -> None:
    client = TestClient(create_app(fresh), base_url="http://localhost")
    token = _token(client)
    form = {"key": "x", "value": "1", "csrf": token}
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"},
                    {"origin": "http://localhost:9999"}, {"sec-fetch-site": "cross-site"}):
        assert client.post("/sets/1/1/tags", data=form, headers=headers).status_code == 403
    ok = client.post("/sets/1/1/tags", data=form, headers={"origin": "http://localhost"},
                     follow_redirects=False)
    assert ok.status_code == 303


def test_text_plain_json_and_multipart_bodies_are_refused(fresh) -> None:
    client = TestClient(create_app(fresh), base_url="http://localhost")
    token = _token(client)
    body = f"key=x&value=1&csrf={token}"
    for kind in ("text/plain", "application/json", "multipart/form-data; boundary=x", ""):
        response = client.post("/sets/1/1/tags", content=body, headers={"content-type": kind})
        assert response.status_code == 415, kind
    big = client.post("/sets/1/1/tags", content="a=" + "x" * 20000,
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413


def test_everything_else_is_read_only(client) -> None:
    for path in ("/sets", "/sets/1", "/sets/1/3", "/sets/1/3/artifacts/0", "/lineage"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert client.request(method, path).status_code == 405, (method, path)
    assert client.get("/sets/1/1/tags").status_code == 405


def test_static_files_are_a_fixed_set(client) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/code.css").status_code == 200
    assert client.get("/static/app.py").status_code == 404
    assert client.get("/static/templates").status_code == 404


def test_the_table_shows_an_experiment_registered_by_another_process_on_reload(fresh: Path):
    import subprocess
    import sys
    import textwrap

    client = TestClient(create_app(fresh), base_url="http://localhost")
    assert "brand_new_param" not in client.get("/sets/1").text
    script = textwrap.dedent(f"""
        from lineage import Experiment
        exp = Experiment(experiment_name="late arrival", set=1, root={str(fresh)!r})
        exp.hyperparameters = {{"brand_new_param": 7}}
        exp.register()
    """)
    subprocess.run([sys.executable, "-c", script], check=True,
                   env={**os.environ, "LINEAGE_CAPTURE_GIT": "0"})
    page = client.get("/sets/1").text  # the cached field statistics must not hide it
    assert "late arrival" in page and "brand_new_param" in page
