"""The only writes: tags and aliases, by POST with the page's CSRF token.

``POST /sets/N/M/tags`` (``key``, ``value``: JSON when it parses, else text; empty removes),
``POST /sets/N/M/alias`` (``name``) and ``POST /aliases/remove`` (``name``). Each answers
303 back to the experiment's page, or JSON when asked for it (``Accept: application/json``).
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import LineageError, NotFoundError
from ..pages import State, error_page, json_response
from ..security import CsrfError, parse_form


async def _form(state: State, request: Any) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > 16 * 1024:
            break
    form = parse_form(body)
    host = request.headers.get("host", "")
    state.csrf.check(request.headers, f"{request.url.scheme}://{host}",
                     request.headers.get("content-type", ""), form)
    return form


def _value(text: str) -> Any:
    if text == "" or text == "null":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _done(request: Any, location: str, data: dict[str, Any]) -> Any:
    from starlette.responses import RedirectResponse

    if "application/json" in request.headers.get("accept", ""):
        return json_response(data)
    return RedirectResponse(request.scope.get("root_path", "") + location, status_code=303)


def _guarded(state: State, action: Any) -> Any:
    async def endpoint(request: Any) -> Any:
        try:
            form = await _form(state, request)
        except CsrfError as exc:
            return error_page(state, request, exc.status, str(exc))
        try:
            with state.lock:
                return action(request, form)
        except NotFoundError as exc:
            return error_page(state, request, 404, str(exc))
        except LineageError as exc:
            return error_page(state, request, 400, str(exc))
    return endpoint


def routes(state: State) -> list[Any]:
    from starlette.routing import Route

    registry = state.registry

    def tag(request: Any, form: dict[str, str]) -> Any:
        number, exp = request.path_params["number"], request.path_params["exp"]
        key = form.get("key", "").strip()
        if not key:
            raise LineageError("a tag needs a key")
        record = registry.find_experiment(number, exp)
        tags = registry.set_tags(record, {key: _value(form.get("value", ""))})
        return _done(request, f"/sets/{number}/{exp}#tags", {"tags": tags})

    def alias(request: Any, form: dict[str, str]) -> Any:
        number, exp = request.path_params["number"], request.path_params["exp"]
        record = registry.find_experiment(number, exp)
        holder = registry.set_alias(form.get("name", "").strip(), record)
        return _done(request, f"/sets/{number}/{exp}#aliases", {"alias": holder})

    def remove(request: Any, form: dict[str, str]) -> Any:
        name = form.get("name", "").strip()
        held = registry.alias_target(name)
        registry.remove_alias(name)
        back = form.get("back", "")
        location = back if back in ("/sets",) else f"/sets/{held['set']}/{held['number']}"
        return _done(request, location, {"removed": name})

    return [
        Route("/sets/{number:int}/{exp:int}/tags", _guarded(state, tag), methods=["POST"]),
        Route("/sets/{number:int}/{exp:int}/alias", _guarded(state, alias), methods=["POST"]),
        Route("/aliases/remove", _guarded(state, remove), methods=["POST"]),
    ]
