"""``create_app(root)``: the ASGI application behind ``lineage ui``.

A Starlette app with one route module per page family (``views/``), Jinja templates
(``templates/``) and the project's own CSS, JavaScript and icons (``static/``: nothing from
a CDN, nothing vendored). It can be served by ``lineage ui`` or mounted in another ASGI
app::

    from starlette.applications import Starlette
    from starlette.routing import Mount
    from lineage.web import create_app

    app = Starlette(routes=[Mount("/lineage", app=create_app("/data/.lineage"))])

Safety (see ``security.py``): Host header checked, security headers on every response,
files only from manifests, writes only tags and aliases with a CSRF token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from ..registry import Registry, find_root
from .pages import STATIC, State, build_env, error_page
from .security import Csrf, HostGuard, SecurityHeaders

_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml"}


def _static_files() -> dict[str, tuple[bytes, str, str]]:
    """name → (bytes, content type, short hash): a fixed set, read once; never a path."""
    from .documents import pygments_css

    files: dict[str, tuple[bytes, str, str]] = {}
    for path in sorted(STATIC.iterdir()):
        if path.suffix in _STATIC_TYPES and path.is_file():
            data = path.read_bytes()
            files[path.name] = (data, _STATIC_TYPES[path.suffix],
                                hashlib.sha256(data).hexdigest()[:12])
    code = pygments_css().encode()
    files["code.css"] = (code, _STATIC_TYPES[".css"], hashlib.sha256(code).hexdigest()[:12])
    return files


def create_app(
    root: Any = None,
    *,
    allowed_hosts: Iterable[str] = (),
    port: int | None = None,
    csrf_token: str | None = None,
) -> Any:
    """The web UI on the registry at ``root`` (found as ``lineage.load`` finds it).

    ``allowed_hosts`` are host names accepted in the Host header besides loopback names
    (``"*"``: any; for a reverse proxy); ``port``, when given, must match the header's.
    The registry may not exist yet: the pages say so until it does.
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    from .views import actions, compare, experiment, lineage, sets, table

    state = State(registry=Registry(find_root(root)), csrf=Csrf(csrf_token), env=build_env())
    state.static = _static_files()

    def static(request: Any) -> Any:
        found = state.static.get(request.path_params["name"])
        if found is None:
            return error_page(state, request, 404, "no such file")
        data, kind, digest = found
        etag = f'"{digest}"'
        headers = {"etag": etag, "cache-control": "public, max-age=31536000, immutable"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=kind, headers=headers)

    def home(request: Any) -> Any:
        """The landing view: the newest set's table (the sets list when there is none)."""
        root_path = request.scope.get("root_path", "")
        numbers = state.registry.set_numbers() if state.has_registry() else []
        target = f"/sets/{numbers[-1]}" if numbers else "/sets"
        return RedirectResponse(root_path + target, status_code=307)

    routes = [
        Route("/", home, methods=["GET", "HEAD"]),
        *sets.routes(state), *table.routes(state), *compare.routes(state),
        *experiment.routes(state), *lineage.routes(state), *actions.routes(state),
        Route("/static/{name}", static, methods=["GET", "HEAD"]),
        Route("/favicon.ico", lambda r: RedirectResponse(
            r.scope.get("root_path", "") + "/static/icon.svg", 301)),
    ]

    async def not_found(request: Any, exc: Any) -> Any:
        status = getattr(exc, "status_code", 404)
        message = {404: "no such page", 405: "method not allowed"}.get(status, "error")
        return error_page(state, request, status, message)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(HostGuard, allowed=list(allowed_hosts), port=port),
                    Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: not_found},
    )
    app.state.lineage = state
    return app
