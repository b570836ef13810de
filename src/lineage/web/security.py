"""What keeps ``lineage ui`` safe to leave running: hosts, headers, CSRF, files, limits.

Each rule answers a class of holes found in other trackers (see docs/ui.md):

- **DNS rebinding**: :class:`HostGuard` refuses a request whose ``Host`` header is not the
  bound address or a loopback name, so a page served from ``evil.example`` that re-resolves
  to 127.0.0.1 gets nothing.
- **Content in the UI's origin**: :class:`SecurityHeaders` puts a Content-Security-Policy
  (``default-src 'self'``, no inline script), ``nosniff``, no framing and no referrer on every
  response; artifacts are only ever sent as attachments (``application/octet-stream``).
- **Cross-site writes**: tags and aliases change only through a POST carrying the app's CSRF
  token, from the same origin, as a form (``text/plain`` and other bodies are refused).
- **Paths**: files are served only from an experiment's manifest, addressed by index or
  role; :func:`open_artifact` refuses manifest paths that leave the experiment folder, every
  symlink on the way, and anything that is not a regular file (a FIFO is never opened).
- **Bounded work**: caps on filter length, page size, compared experiments, bodies, and
  the bytes read to preview a file.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

MAX_QUERY = 2_000  # characters of a filter or sort order
MAX_PAGE_SIZE = 500  # rows of a table page
DEFAULT_PAGE_SIZE = 50
MAX_COMPARE = 10  # experiments on one compare page
MAX_BODY = 16 * 1024  # bytes of a POST body
MAX_TEXT = 1024 * 1024  # bytes of a text artifact shown inline (release notes, diffs, scripts)
MAX_NOTEBOOK = 20 * 1024 * 1024  # bytes of a notebook rendered
MAX_STEPS_FILE = 64 * 1024 * 1024  # bytes of metrics.jsonl read for charts

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain"})

CSP_PAGE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
CSP_DOWNLOAD = "default-src 'none'; sandbox"
_COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class NotServable(Exception):
    """A file the UI refuses to serve (answered with 404, whatever the reason)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only reaches this machine."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, int | None]:
    """``("127.0.0.1", 8765)`` from a Host header; ``[::1]:80`` style too. Raises ValueError."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.index("]")
        host, rest = value[1:end], value[end + 1:]
        port = int(rest[1:]) if rest.startswith(":") else None
        if rest and not rest.startswith(":"):
            raise ValueError(value)
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        port = int(port_text)
    elif ":" in value:
        host, port = value, None  # a bare IPv6 address
    else:
        host, port = value, None
    if not host or (port is not None and not 0 < port < 65536):
        raise ValueError(value)
    return host.rstrip("."), port


class HostGuard:
    """ASGI middleware: answer 400 to any request whose Host is not an allowed name.

    ``allowed`` are host names without ports (``"*"`` allows any); ``port``, when known,
    must match too. Loopback names are always allowed.
    """

    def __init__(self, app: Any, allowed: Iterable[str] = (), port: int | None = None) -> None:
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed} | set(LOOPBACK_NAMES)
        self.any_host = "*" in self.allowed
        self.port = port

    def permits(self, header: str | None) -> bool:
        if self.any_host:
            return True
        if not header:
            return False
        try:
            host, port = split_host(header)
        except ValueError:
            return False
        if host not in self.allowed:
            return False
        return self.port is None or port is None or port == self.port

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = None
            for name, value in scope.get("headers") or ():
                if name == b"host":
                    host = value.decode("latin-1")
                    break
            if not self.permits(host):
                body = (b"Invalid Host header: lineage ui answers only requests addressed to "
                        b"its own address (this protects against DNS rebinding).\n")
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()), *_COMMON_HEADERS]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: the security headers on every response (a route's own CSP wins)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                for name, value in _COMMON_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP_PAGE.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- CSRF ----------------------------------------------------------------------------------------

class CsrfError(Exception):
    """A state-changing request that is not proven to come from the UI's own pages."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class Csrf:
    """One random token per running app, embedded in its forms and checked on every POST.

    A page on another origin cannot read the token (same-origin policy), cannot reach the
    app under another host name (HostGuard), and is refused on its ``Origin`` header too.
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)

    def check(self, headers: Any, host_url: str, content_type: str, form: dict[str, str]) -> None:
        """Raise CsrfError unless the request is a same-origin form carrying the token.

        ``headers`` is a mapping of the request headers (lower-case names), ``host_url``
        ``scheme://host[:port]`` of the request itself.
        """
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/").lower() != host_url.rstrip("/").lower():
            raise CsrfError(f"cross-origin request refused (Origin: {origin})")
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise CsrfError(f"cross-site request refused (Sec-Fetch-Site: {site})")
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise CsrfError(
                f"refused a {kind or 'missing'} body: send the form as "
                "application/x-www-form-urlencoded", status=415)
        given = form.get("csrf") or headers.get("x-csrf-token") or ""
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise CsrfError("missing or wrong CSRF token: reload the page and try again")


def parse_form(body: bytes) -> dict[str, str]:
    """An urlencoded body as a dict (last value wins); raises CsrfError when too large."""
    if len(body) > MAX_BODY:
        raise CsrfError(f"request body over {MAX_BODY} bytes", status=413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CsrfError("request body is not UTF-8", status=400) from None
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=50))


# -- files ---------------------------------------------------------------------------------------

def _parts(manifest_path: object) -> list[str]:
    """The components of a manifest path, refusing anything that could leave its folder."""
    if not isinstance(manifest_path, str) or not manifest_path or len(manifest_path) > 4096:
        raise NotServable("not a path")
    if "\\" in manifest_path or "\x00" in manifest_path or manifest_path.startswith("/"):
        raise NotServable("backslash, NUL or absolute path")
    parts = manifest_path.split("/")
    if any(p in ("", ".", "..") or ":" in p for p in parts):
        raise NotServable("empty, dot or drive component")
    return parts


def open_artifact(folder: Path, manifest_path: object, expected_size: object = None) -> tuple[
        int, os.stat_result]:
    """Open a file of an experiment folder for reading: ``(fd, stat)``.

    Every component below ``folder`` is checked with ``lstat`` (no symlinks, directories
    only on the way), the file must be a regular file (a FIFO or device is never opened),
    it is opened with ``O_NOFOLLOW`` and checked again on the descriptor (same inode), and
    when ``expected_size`` is given the size must match the manifest.

    Raises:
        NotServable: for any reason; the caller answers 404.
    """
    parts = _parts(manifest_path)
    try:
        for own in (folder.parent, folder):  # the set's and the experiment's folders
            if not stat.S_ISDIR(os.lstat(own).st_mode):
                raise NotServable("a registry folder is a symlink or not a directory")
        current = folder
        for part in parts[:-1]:
            current = current / part
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                raise NotServable("a component is a symlink or not a directory")
        target = current / parts[-1]
        before = os.lstat(target)
        if not stat.S_ISREG(before.st_mode):
            raise NotServable("not a regular file")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(target, flags)
    except OSError as exc:
        raise NotServable(str(exc)) from None
    try:
        after = os.fstat(fd)
        if (not stat.S_ISREG(after.st_mode) or (after.st_ino, after.st_dev) != (
                before.st_ino, before.st_dev)):
            raise NotServable("the file changed while it was opened")
        if (isinstance(expected_size, int) and not isinstance(expected_size, bool)
                and after.st_size != expected_size):
            raise NotServable("size differs from the manifest")
    except BaseException:
        os.close(fd)
        raise
    return fd, after


def read_artifact(folder: Path, manifest_path: object, limit: int,
                  expected_size: object = None) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a file (see :func:`open_artifact`) and whether it was cut."""
    fd, st = open_artifact(folder, manifest_path, expected_size)
    try:
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data[:limit], len(data) > limit
