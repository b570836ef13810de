"""How a view becomes a response: one dict, rendered as HTML or sent as its JSON twin.

A view is ``fn(state, request, **path_params) -> dict``. :func:`page` registers it twice,
at ``/path`` (HTML, through a Jinja template) and ``/path.json`` (the same dict as JSON), so
what a person sees and what a program reads never drift apart.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from .. import __version__
from ..errors import LineageError, LineageWarning, NotFoundError
from ..registry import Registry
from .security import Csrf

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
View = Callable[..., dict[str, Any]]


@dataclass
class State:
    """What every view shares: the registry, one lock around it, the CSRF token, Jinja."""

    registry: Registry
    csrf: Csrf
    lock: threading.RLock = field(default_factory=threading.RLock)
    env: Any = None
    static: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def index(self) -> Any:
        """The index, synced with the folders; unreadable records become page notices."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LineageWarning)
            index = self.registry.synced_index()
        self.notices = [str(w.message) for w in caught][:20]
        return index

    def has_registry(self) -> bool:
        return self.registry.path.is_dir()


# -- formatting (Jinja filters) --------------------------------------------------------------

def fmt(value: Any) -> str:
    """A value as a cell shows it: floats to 4 significant figures, lists and dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def full(value: Any) -> str:
    """The whole value, for a tooltip."""
    if isinstance(value, float):
        return repr(value)
    return fmt(value)


def when(value: Any) -> str:
    """An ISO timestamp as local ``YYYY-MM-DD HH:MM``."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def size(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return str(value)


def duration(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def build_env() -> Any:
    import jinja2

    from . import charts, documents

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its name: user text is always escaped
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(fmt=fmt, full=full, when=when, size=size, duration=duration,
                       markdown=documents.markdown, highlight=documents.highlight,
                       tojson_compact=lambda v: json.dumps(v, ensure_ascii=False, default=str))
    env.globals.update(sparkline=charts.sparkline, line_chart=charts.line_chart,
                       scatter_chart=charts.scatter, version=__version__,
                       language_of=documents.language_of,
                       chart_series=lambda series: [(s["experiment"], s["colour"], s["points"])
                                                    for s in series])
    return env


# -- responses ----------------------------------------------------------------------------------

def to_json(data: Any) -> bytes:
    """Standard JSON (no NaN), Markup and other objects as their text."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), ensure_ascii=False, allow_nan=False, default=str,
                      separators=(",", ":")).encode("utf-8")


def json_response(data: Any, status: int = 200) -> Any:
    from starlette.responses import Response

    return Response(to_json(data), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store"})


def html_response(state: State, request: Any, template: str, data: dict[str, Any],
                  status: int = 200) -> Any:
    from starlette.responses import HTMLResponse

    root = request.scope.get("root_path", "")
    context = {
        **data,
        "data": data,
        "root": root,
        "csrf": state.csrf.token,
        "notices": state.notices,
        "asset": lambda name: f"{root}/static/{name}?v={state.static[name][2]}",
        "qs": lambda **changes: query_string(request, **changes),
        "request_path": request.url.path,
        "request_query": request.query_params.multi_items(),
        "request_args": dict(request.query_params),
    }
    body = state.env.get_template(template).render(context)
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


def query_string(request: Any, **changes: Any) -> str:
    """``?a=1&b=2`` from the request's query with ``changes`` (None removes a key)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is None or value == "":
            continue
        if isinstance(value, (list, tuple)):
            items.extend((key, str(v)) for v in value)
        else:
            items.append((key, str(value)))
    return "?" + urlencode(items) if items else "?"


@contextlib.contextmanager
def _locked(state: State) -> Iterator[None]:
    with state.lock:
        yield


def error_page(state: State, request: Any, status: int, message: str) -> Any:
    if request.url.path.endswith(".json"):
        return json_response({"error": message, "status": status}, status)
    return html_response(state, request, "error.html",
                         {"title": f"{status}", "status": status, "message": message}, status)


def page(state: State, path: str, view: View, template: str, *, twin: bool = True) -> list[Any]:
    """Routes for a view at ``path`` and, with ``twin``, ``path.json``."""
    from starlette.routing import Route

    def endpoint(request: Any) -> Any:
        as_json = request.url.path.endswith(".json")
        try:
            with _locked(state):
                data = view(state, request, **request.path_params)
        except NotFoundError as exc:
            return error_page(state, request, 404, str(exc))
        except LineageError as exc:
            return error_page(state, request, 400, str(exc))
        if as_json:
            return json_response(data)
        return html_response(state, request, template, data)

    routes = [Route(path, endpoint, methods=["GET", "HEAD"])]
    if twin:
        routes.append(Route(f"{path.rstrip('/') or ''}.json" if path != "/" else "/index.json",
                            endpoint, methods=["GET", "HEAD"]))
    return routes


def address(record: dict[str, Any]) -> str:
    return f"{record['set']['number']}/{record['number']}"


def int_param(request: Any, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(low, min(high, value))


__all__ = ["Markup", "State", "page"]
