"""Serving the app: a loopback socket, uvicorn, and ``--get`` (one request, no port).

The socket is bound before uvicorn starts, so the printed URL is the real one (``--port 0``
picks a free port) and the Host check knows the port.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from .security import is_loopback


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - only displayed
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def exposure_warning(host: str, port: int) -> str | None:
    """What to tell the user when the UI can be reached from other machines."""
    if is_loopback(host):
        return None
    return (f"Warning: lineage ui listens on {host}:{port}, reachable from other machines. "
            "Anyone who can reach it can read every experiment and download every artifact "
            "(there is no login). Use the default --host 127.0.0.1 and an SSH tunnel "
            "(ssh -L 8765:127.0.0.1:8765 host) unless this network is trusted.")


def serve(app: Any, sock: socket.socket) -> None:
    """Run uvicorn on an already bound socket until Ctrl+C."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            proxy_headers=False, server_header=False, date_header=True,
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


def get(app: Any, path: str, host: str = "localhost") -> tuple[int, dict[str, str], bytes]:
    """Answer one GET request in process: ``(status, headers, body)``."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": [(b"host", host.encode())],
        "client": ("127.0.0.1", 0), "server": (host, 80),
    }
    status = 500
    headers: dict[str, str] = {}
    body = bytearray()

    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away; the app finishes first
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update({k.decode("latin-1"): v.decode("latin-1")
                            for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    asyncio.run(app(scope, receive, send))
    return status, headers, bytes(body)


def main_loop_message(url: str, registry: str) -> None:
    print(f"lineage ui: {registry} at {url}  (Ctrl+C stops it)", flush=True)
    sys.stdout.flush()
