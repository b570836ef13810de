"""lineage's local web UI: ``lineage ui``, or ``create_app(root)`` in any ASGI server.

Nothing here is imported by ``import lineage``; starlette, jinja2 and uvicorn load only when
the UI starts. See docs/ui.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(root: Any = None, **options: Any) -> Any:
    """The Starlette app of the web UI on the registry at ``root`` (see ``app.create_app``)."""
    from .app import create_app as build

    return build(root, **options)
