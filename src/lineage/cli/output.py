"""What the commands print: cell formatting, the table renderer, JSON and CSV, stderr remarks.

Tables of more than ``RICH_ROWS`` rows, and any table written to a pipe or a file, are plain
aligned text (rich needs ~0.7 ms a row); rich itself loads only when a table is drawn with it.
Whether stdout is a terminal is asked of ``is_terminal()`` alone, so tests can change it in
one place.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import click

from ..errors import LineageWarning

#: Tables with more rows than this are printed as plain aligned text, even on a terminal.
RICH_ROWS = 200

#: A value a record does not have (a cell shown as "-", empty in CSV).
MISSING: Any = object()

STATUS_STYLE = {"registered": "green", "running": "cyan", "failed": "red",
                "crashed": "bold magenta"}
# style name -> click.style keyword arguments (rich reads the names themselves)
_CLICK_STYLES: dict[str, dict[str, Any]] = {
    "green": {"fg": "green"}, "cyan": {"fg": "cyan"}, "red": {"fg": "red"},
    "yellow": {"fg": "yellow"}, "magenta": {"fg": "magenta"},
    "bold magenta": {"fg": "magenta", "bold": True}, "bold": {"bold": True},
    "bold green": {"fg": "green", "bold": True}, "bold yellow": {"fg": "yellow", "bold": True},
    "dim": {"dim": True},
}

Cell = tuple[str, "str | None"]  # text, style name


# -- terminal and styles ------------------------------------------------------------------------

def is_terminal() -> bool:
    """Whether stdout is a terminal (tables are drawn with rich, colours are used)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def color() -> bool:
    return is_terminal() and not os.environ.get("NO_COLOR")


def style(text: str, name: str | None) -> str:
    """``text`` in a style (see ``_CLICK_STYLES``) when stdout is a colour terminal."""
    if not name or not color():
        return text
    return click.style(text, **_CLICK_STYLES.get(name, {}))


def style_err(text: str, name: str) -> str:
    """``text`` in a style when stderr is a colour terminal."""
    if stderr_is_terminal() and not os.environ.get("NO_COLOR"):
        return click.style(text, **_CLICK_STYLES.get(name, {}))
    return text


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def note(message: str) -> None:
    """A remark for the person at the terminal (stderr, so stdout stays data)."""
    click.echo(style_err(message, "dim"), err=True)


def warn(message: str) -> None:
    """A lineage warning: one ``Warning: …`` line on stderr, and the command goes on."""
    warnings.warn(message, LineageWarning, stacklevel=2)


def heading(text: str) -> None:
    click.echo()
    click.echo(style(text, "bold"), color=color())


def print_markdown(text: str, raw: bool = False) -> None:
    """Markdown rendered on a terminal; the source when piped, redirected or ``raw``."""
    if raw or not is_terminal():
        click.echo(text, nl=not text.endswith("\n"))
    else:
        from rich.markdown import Markdown

        console().print(Markdown(text))


# -- values as text -----------------------------------------------------------------------------

def fmt(value: Any) -> str:
    """A value as a cell: floats to 4 significant figures, JSON for the rest."""
    if value is MISSING:
        return "-"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, str)):
        return str(value).replace("\n", " ")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_LOCAL_MINUTES: dict[str, str] = {}


def fmt_time(value: Any, seconds: bool = False) -> str:
    """An ISO 8601 timestamp in local time, to the minute (or the second)."""
    if not isinstance(value, str):
        return fmt(value)
    from datetime import datetime

    if seconds:
        try:
            return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return value
    key = value[:16] + value[-6:]  # to the minute, with its UTC offset: shared by many rows
    text = _LOCAL_MINUTES.get(key)
    if text is None:
        try:
            text = datetime.fromisoformat(key).astimezone().strftime("%Y-%m-%d %H:%M")
        except ValueError:
            try:
                text = datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M")
            except ValueError:
                text = value
        _LOCAL_MINUTES[key] = text
    return text


def fmt_duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return fmt(seconds)
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_size(size: Any) -> str:
    if not isinstance(size, int):
        return fmt(size)
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def cell(column: str, value: Any) -> Cell:
    """A record field as a styled cell: status coloured, times local, durations readable."""
    if value is MISSING:
        return "-", "dim"
    if column == "status":
        return str(value), STATUS_STYLE.get(str(value))
    if column in ("created", "ended"):
        return fmt_time(value), None
    if column == "duration":
        return fmt_duration(value), None
    return fmt(value), None


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _width(text: str) -> int:
    """Terminal cells a string takes (wide East Asian characters count twice)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


# -- tables -------------------------------------------------------------------------------------

class Table:
    """Rows of styled cells, drawn with rich on a terminal, as aligned text elsewhere."""

    def __init__(self, headers: Sequence[str], *, title: str | None = None,
                 right: Sequence[bool] | None = None, show_header: bool = True) -> None:
        self.headers = list(headers)
        self.title = title
        self.right = list(right) if right is not None else [False] * len(self.headers)
        self.show_header = show_header
        self.rows: list[list[str]] = []
        self.styles: dict[tuple[int, int], str] = {}  # (row, column) -> style name
        self.section_ends: set[int] = set()
        self.hint: str | None = None  # said on stderr when the table is too wide for rich

    def add(self, cells: Sequence[Cell | str]) -> None:
        texts = []
        row = len(self.rows)
        for i, item in enumerate(cells):
            if isinstance(item, str):
                texts.append(item)
            else:
                texts.append(item[0])
                if item[1]:
                    self.styles[row, i] = item[1]
        self.rows.append(texts)

    def end_section(self) -> None:
        if self.rows:
            self.section_ends.add(len(self.rows) - 1)

    def print(self, indent: int = 0) -> None:
        """Rich on a terminal when the table is small and fits its width, else plain
        (always plain when indented, as the sections of ``show`` and ``diff`` are)."""
        if is_terminal() and len(self.rows) <= RICH_ROWS and not indent:
            import shutil

            widths = [max([_width(h) for h in (self.headers[i],)]
                          + [_width(row[i]) for row in self.rows if i < len(row)])
                      for i in range(len(self.headers))]
            if sum(widths) + 3 * len(widths) <= shutil.get_terminal_size().columns:
                self._print_rich()
                return
            if self.hint:
                note(self.hint)
        self._print_plain(indent)

    def _print_rich(self) -> None:
        from rich import box
        from rich.table import Table as RichTable
        from rich.text import Text

        table = RichTable(title=self.title, box=box.SIMPLE_HEAD, show_header=self.show_header,
                          header_style="bold", title_style="bold", title_justify="left",
                          pad_edge=False)
        for header, right in zip(self.headers, self.right, strict=True):
            table.add_column(header, justify="right" if right else "left", overflow="fold")
        for i, row in enumerate(self.rows):
            table.add_row(*(Text(text, style=self.styles.get((i, j), ""))
                            for j, text in enumerate(row)),
                          end_section=i in self.section_ends)
        console().print(table)

    def _print_plain(self, indent: int = 0) -> None:
        count = len(self.headers)
        rows = [row + [""] * (count - len(row)) if len(row) < count else row
                for row in self.rows]
        justified: list[list[str]] = []
        for i in range(count):  # column by column: one width, one justification
            column = [row[i] for row in rows]
            header = self.headers[i] if self.show_header else ""
            if header.isascii() and all(t.isascii() for t in column):
                width = max(len(header), max(map(len, column), default=0))
                pad = str.rjust if self.right[i] else str.ljust
                justified.append([pad(t, width) for t in [header, *column]])
            else:
                width = max(_width(header), max(map(_width, column), default=0))
                justified.append([self._pad(t, width, self.right[i])
                                  for t in [header, *column]])
        colored = color()
        if colored:
            for (r, c), name in self.styles.items():
                justified[c][r + 1] = click.style(justified[c][r + 1],
                                                  **_CLICK_STYLES.get(name, {}))
            justified = [[click.style(col[0], bold=True), *col[1:]] for col in justified]
        lines = [" " * indent + "  ".join(cells).rstrip() for cells in zip(*justified, strict=True)]
        if not self.show_header:
            lines = lines[1:]
        if lines:
            click.echo("\n".join(lines), color=colored)

    @staticmethod
    def _pad(text: str, width: int, right: bool) -> str:
        fill = " " * (width - _width(text))
        return fill + text if right else text + fill


# -- JSON and CSV -------------------------------------------------------------------------------

def dumps(value: Any) -> str:
    """JSON for stdout: never NaN or Infinity (they become null).

    A list is printed one compact item a line (still one JSON array): the C encoder does
    that ten times faster than indenting, and ``grep`` finds an experiment's line.
    """
    try:
        return _encode(value)
    except ValueError:
        return _encode(_finite(value))


def _encode(value: Any) -> str:
    if isinstance(value, list):
        if not value:
            return "[]"
        items = ",\n".join(json.dumps(v, ensure_ascii=False, allow_nan=False) for v in value)
        return f"[\n{items}\n]"
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def print_json(value: Any) -> None:
    click.echo(dumps(value))


def print_csv(headers: Sequence[str], rows: Iterator[Sequence[Any]] | list[Sequence[Any]]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    click.echo(buffer.getvalue(), nl=False)


def _csv_cell(value: Any) -> str:
    """Full precision for numbers, empty for missing, JSON for lists and objects."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
