"""A real ``lineage ui`` process on a free loopback port, spoken to over raw sockets (so
nothing normalises ``..`` on the way), and the command's own options."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from lineage.cli import cli
from test_web_demo import build

#: Request targets that try to leave the registry, sent raw (nothing normalises them).
RAW_TRAVERSALS = [
    "/sets/1/3/artifacts/../../../../../../etc/passwd",
    "/sets/1/3/artifacts/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/sets/1/3/artifacts/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/sets/1/3/artifacts/%2e%2e%2f%2e%2e%2f%2e%2e%2fexperiment.json",
    "/sets/1/3/artifacts/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/sets/1/3/artifacts/..\\..\\..\\..\\etc\\passwd",
    "/sets/1/3/artifacts/..%5c..%5c..%5cexperiment.json",
    "/sets/1/3/artifacts//etc/passwd",
    "/sets/1/3/artifacts/%2fetc%2fpasswd",
    "/sets/1/3/artifacts/0/../../../../../../../etc/passwd",
    "/../../../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2fapp.py",
    "/static/%2e%2e%2fapp.py",
    "/static/..\\app.py",
    "/static//etc/passwd",
    "/sets/1/../../../../../etc/passwd",
    "/sets/1/3/artifacts/model/../../../../../../etc/passwd",
    "//etc/passwd",
    "/etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("served")
    build(base / ".lineage", base / "work")
    return base / ".lineage"


@contextlib.contextmanager
def ui_server(root: Path, *args: str) -> Iterator[str]:
    """``python -m lineage ui`` on a free loopback port for the block; yields its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lineage", "ui", "--root", str(root), "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        yield line.split()[-4].rstrip("/")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def server(demo: Path) -> Iterator[str]:
    with ui_server(demo) as url:
        yield url


def raw(url: str, target: str, host: str | None = None, method: str = "GET") -> tuple[int, bytes]:
    """Send one request with ``target`` exactly as given; ``(status, whole response)``."""
    address = url.removeprefix("http://")
    name, _, port = address.rpartition(":")
    with socket.create_connection((name, int(port)), timeout=10) as sock:
        head = (f"{method} {target} HTTP/1.1\r\nHost: {host or address}\r\n"
                "Connection: close\r\n\r\n")
        sock.sendall(head.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def test_python_m_lineage_ui_answers_its_first_request_with_no_setup_step(demo: Path) -> None:
    # How soon it answers is benchmarks/ui.py's to measure (goal < 1 s), not a test's.
    with ui_server(demo) as url:
        status, body = raw(url, "/sets")
    assert status == 200 and b"Random Forest &lt;b&gt;" in body


def test_the_server_listens_on_loopback_only_by_default(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("target", RAW_TRAVERSALS)
def test_raw_traversal_requests_get_404_from_the_real_server(server: str, target: str) -> None:
    status, data = raw(server, target)
    assert status in (400, 404), (target, data[:200])
    assert b"root:" not in data and b"import " not in data


def test_a_foreign_host_header_is_refused_by_the_real_server(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    assert raw(server, "/sets", host=f"evil.example:{port}")[0] == 400
    assert raw(server, "/sets", host=f"localhost:{port}")[0] == 200
    assert raw(server, "/sets", host="127.0.0.1:1")[0] == 400


def test_a_download_over_http_is_an_attachment_with_nosniff(server: str) -> None:
    status, data = raw(server, "/sets/1/3/artifacts/releasenotes")
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert status == 200 and b"content-disposition: attachment" in head
    assert b"x-content-type-options: nosniff" in head
    assert b"content-type: application/octet-stream" in head


def test_get_answers_one_request_without_opening_a_port(demo: Path) -> None:
    result = CliRunner().invoke(cli, ["ui", "--root", str(demo), "--get", "/sets.json"])
    assert result.exit_code == 0, result.output
    assert '"name":"Random Forest <b>"' in result.output
    missing = CliRunner().invoke(cli, ["ui", "--root", str(demo), "--get", "/sets/99"])
    assert missing.exit_code == 1


def test_a_host_other_than_loopback_prints_a_warning(demo: Path, monkeypatch) -> None:
    from lineage.web import server as web_server

    bound: list[str] = []
    real_bind = web_server.bind

    def loopback_instead(host: str, port: int) -> socket.socket:
        bound.append(host)
        return real_bind("127.0.0.1", 0)  # never really exposed by the test

    monkeypatch.setattr(web_server, "bind", loopback_instead)
    monkeypatch.setattr(web_server, "serve", lambda app, sock: sock.close())
    result = CliRunner().invoke(cli, ["ui", "--root", str(demo), "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert bound == ["0.0.0.0"]
    assert "Warning: lineage ui listens on 0.0.0.0" in result.output
    assert "reachable from other machines" in result.output
    quiet = CliRunner().invoke(cli, ["ui", "--root", str(demo)])
    assert "Warning" not in quiet.output and "http://127.0.0.1:" in quiet.output


def test_a_port_in_use_is_an_error_naming_the_fix(demo: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["ui", "--root", str(demo), "--port", str(port)])
    assert result.exit_code == 1 and "--port 0" in result.output


def test_lineage_cli_starts_without_loading_the_web_stack() -> None:
    code = ("import sys, lineage.cli; "
            "print([m for m in ('starlette', 'jinja2', 'uvicorn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
