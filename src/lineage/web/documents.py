"""Markdown, highlighted code and notebooks made safe to show.

- Markdown goes through markdown-it-py with raw HTML off: ``<script>`` in release notes is
  shown as text; link targets are checked by markdown-it (no ``javascript:``).
- Code is highlighted with Pygments, whose output escapes the source.
- A notebook is read as JSON (never executed): markdown and code cells, and the outputs
  stored in it. ``text/html`` outputs are shown as their source, never rendered; images only
  as ``data:`` URLs of PNG or JPEG whose base64 decodes and whose bytes start as such a
  file should; anything else is named, not shown.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

MAX_HIGHLIGHT = 512 * 1024  # characters highlighted; longer text is shown plain
MAX_CELLS = 2_000
MAX_OUTPUT_TEXT = 100_000  # characters of one output shown
MAX_IMAGE = 8 * 1024 * 1024  # bytes of one decoded image
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_IMAGES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.options["highlight"] = _fence
    return md


def _fence(code: str, language: str, attrs: str) -> str:
    """A fenced block of Markdown, highlighted (markdown-it keeps output starting <pre)."""
    if len(code) > MAX_HIGHLIGHT:
        return f'<pre class="hl"><code>{escape(code)}</code></pre>'
    from pygments import highlight as run
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language or "text", stripnl=False)
    except ClassNotFound:
        lexer = get_lexer_by_name("text", stripnl=False)
    return f'<pre class="hl"><code>{run(code, lexer, HtmlFormatter(nowrap=True))}</code></pre>'



def markdown(text: str) -> Markup:
    """Markdown as HTML; raw HTML in the text is escaped, not passed through."""
    return Markup(_markdown().render(text))


def highlight(code: str, language: str = "python") -> Markup:
    """Code as highlighted HTML (``<div class="hl"><pre>…``); plain for very long text."""
    if len(code) > MAX_HIGHLIGHT:
        return Markup('<div class="hl"><pre>') + escape(code) + Markup("</pre></div>")
    from pygments import highlight as run
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language or "text", stripnl=False)
    except ClassNotFound:
        lexer = get_lexer_by_name("text", stripnl=False)
    return Markup(run(code, lexer, HtmlFormatter(cssclass="hl")))


def language_of(path: str) -> str:
    """A Pygments lexer name from a file name (``text`` when unknown)."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"py": "python", "diff": "diff", "patch": "diff", "json": "json", "md": "markdown",
            "yaml": "yaml", "yml": "yaml", "toml": "toml", "sh": "bash", "cfg": "ini",
            "ini": "ini", "csv": "text", "txt": "text", "sql": "sql", "r": "r"}.get(suffix, "text")


def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".hl")
    dark = HtmlFormatter(style="monokai").get_style_defs(".hl")
    return (f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
            ".hl { background: transparent !important; }\n")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _clip(text: str) -> str:
    text = _ANSI.sub("", text)
    if len(text) > MAX_OUTPUT_TEXT:
        return text[:MAX_OUTPUT_TEXT] + f"\n… ({len(text) - MAX_OUTPUT_TEXT:,} more characters)"
    return text


def image_data_url(mime: str, value: Any) -> str | None:
    """A ``data:`` URL for a PNG or JPEG given as base64, or None when it is not one."""
    if mime not in _IMAGES:
        return None
    text = _text(value).replace("\n", "").replace("\r", "").strip()
    if not text or len(text) > MAX_IMAGE * 4 // 3 + 4:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_IMAGES[mime]):
        return None
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _output(out: Any) -> list[dict[str, Any]]:
    """One stored output as what to show: text, an image, an error, or a named omission."""
    if not isinstance(out, dict):
        return []
    kind = out.get("output_type")
    if kind == "stream":
        return [{"kind": "stream", "name": str(out.get("name", "stdout")),
                 "text": _clip(_text(out.get("text")))}]
    if kind == "error":
        trace = "\n".join(_text(t) for t in out.get("traceback") or [] if isinstance(t, str))
        return [{"kind": "error", "text": _clip(trace or
                 f"{out.get('ename', 'Error')}: {out.get('evalue', '')}")}]
    if kind not in ("execute_result", "display_data"):
        return []
    data = out.get("data")
    if not isinstance(data, dict):
        return []
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            url = image_data_url(mime, data[mime])
            if url is not None:
                return [{"kind": "image", "mime": mime, "src": url,
                         "alt": _clip(_text(data.get("text/plain")))[:200]}]
            return [{"kind": "omitted", "mime": mime,
                     "text": f"{mime} output not shown: not valid base64 of a {mime} file"}]
    if "text/plain" in data:
        return [{"kind": "text", "text": _clip(_text(data["text/plain"]))}]
    if "text/html" in data:
        return [{"kind": "html-source", "mime": "text/html",
                 "text": _clip(_text(data["text/html"]))}]
    if "text/markdown" in data:
        return [{"kind": "markdown", "text": _clip(_text(data["text/markdown"]))}]
    names = ", ".join(sorted(str(k) for k in data)[:5])
    return [{"kind": "omitted", "mime": names, "text": f"output of type {names} not shown"}]


def notebook(raw: bytes) -> dict[str, Any]:
    """A ``.ipynb`` as ``{"language", "cells": [{"type", "source", "count", "outputs"}],
    "problems"}``; nothing in it is executed or trusted.

    Raises:
        ValueError: the bytes are not a notebook.
    """
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a notebook: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise ValueError("not a notebook: no list of cells")
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    info: dict[str, Any] = (meta["language_info"] if isinstance(meta.get("language_info"), dict)
                            else {})
    language = str(info.get("name") or "python")
    cells: list[dict[str, Any]] = []
    problems: list[str] = []
    for cell in doc["cells"][:MAX_CELLS]:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        source = _text(cell.get("source"))
        if kind == "markdown":
            cells.append({"type": "markdown", "source": source})
        elif kind == "code":
            outputs: list[dict[str, Any]] = []
            for out in cell.get("outputs") or []:
                outputs.extend(_output(out))
            count = cell.get("execution_count")
            cells.append({"type": "code", "source": source, "outputs": outputs,
                          "count": count if isinstance(count, int) else None})
        else:
            cells.append({"type": "raw", "source": source})
    if len(doc["cells"]) > MAX_CELLS:
        problems.append(f"only the first {MAX_CELLS:,} of {len(doc['cells']):,} cells shown")
    return {"language": language, "cells": cells, "problems": problems}
