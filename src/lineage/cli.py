"""The ``lineage`` command: list, show, compare and choose experiments at the terminal.

A thin layer over the Python API (``lineage.search``, ``lineage.best``, ``lineage.compare``…):
every answer is the one a Python user gets. See docs/cli.md.

Kept quick to start: only click and lineage's light modules load at import; rich, the index
(sqlite3) and the comparison code load inside the commands that use them. Tables of more
than ``RICH_ROWS`` rows, and any table written to a pipe or a file, are plain aligned text
(rich needs ~0.7 ms a row).

Exit codes: 0 success, 1 error, 2 usage (click's own), 3 not found, 4 bad filter,
5 registry problem.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import (
    ExperimentNotFoundError,
    LineageError,
    LineageWarning,
    NotFoundError,
    QueryError,
    RegistryError,
    SetNotFoundError,
    ValidationError,
)

if TYPE_CHECKING:
    from .registry import Registry

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_QUERY = 4
EXIT_REGISTRY = 5

#: Tables with more rows than this are printed as plain aligned text, even on a terminal.
RICH_ROWS = 200

_MISSING: Any = object()
_BASE_COLUMNS = ("number", "name", "status", "model_version", "data_version", "created")
_TOP_COLUMNS = ("set", "number", "name", "status", "model_version", "data_version", "created",
                "ended", "duration", "description", "id")
_PREFIXES = {"params": "hyperparameters", "hyperparameters": "hyperparameters",
             "metrics": "metrics", "tags": "tags"}
_STATUS_STYLE = {"registered": "green", "running": "cyan", "failed": "red",
                 "crashed": "bold magenta"}
# style name -> click.style keyword arguments (rich reads the names themselves)
_CLICK_STYLES: dict[str, dict[str, Any]] = {
    "green": {"fg": "green"}, "cyan": {"fg": "cyan"}, "red": {"fg": "red"},
    "yellow": {"fg": "yellow"}, "magenta": {"fg": "magenta"},
    "bold magenta": {"fg": "magenta", "bold": True}, "bold": {"bold": True},
    "bold green": {"fg": "green", "bold": True}, "bold yellow": {"fg": "yellow", "bold": True},
    "dim": {"dim": True},
}


# -- output helpers ---------------------------------------------------------------------------

def _is_terminal() -> bool:
    """Whether stdout is a terminal (tables are drawn with rich, colours are used)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _color() -> bool:
    return _is_terminal() and not os.environ.get("NO_COLOR")


def _style(text: str, style: str | None) -> str:
    if not style or not _color():
        return text
    return click.style(text, **_CLICK_STYLES.get(style, {}))


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fmt(value: Any) -> str:
    """A value as a cell: floats to 4 significant figures, JSON for the rest."""
    if value is _MISSING:
        return "-"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, str)):
        return str(value).replace("\n", " ")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_LOCAL_MINUTES: dict[str, str] = {}


def _fmt_time(value: Any, seconds: bool = False) -> str:
    """An ISO 8601 timestamp in local time, to the minute (or the second)."""
    if not isinstance(value, str):
        return _fmt(value)
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


def _fmt_duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return _fmt(seconds)
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _fmt_size(size: Any) -> str:
    if not isinstance(size, int):
        return _fmt(size)
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _width(text: str) -> int:
    """Terminal cells a string takes (wide East Asian characters count twice)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Cell = tuple[str, "str | None"]  # text, style name


class _Table:
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
        for i, cell in enumerate(cells):
            if isinstance(cell, str):
                texts.append(cell)
            else:
                texts.append(cell[0])
                if cell[1]:
                    self.styles[row, i] = cell[1]
        self.rows.append(texts)

    def end_section(self) -> None:
        if self.rows:
            self.section_ends.add(len(self.rows) - 1)

    def print(self, indent: int = 0) -> None:
        """Rich on a terminal when the table is small and fits its width, else plain."""
        if _is_terminal() and len(self.rows) <= RICH_ROWS and not indent:
            import shutil

            widths = [max([_width(h) for h in (self.headers[i],)]
                          + [_width(row[i]) for row in self.rows if i < len(row)])
                      for i in range(len(self.headers))]
            if sum(widths) + 3 * len(widths) <= shutil.get_terminal_size().columns:
                self._print_rich()
                return
            if self.hint:
                _note(self.hint)
        self._print_plain(indent)

    def _print_rich(self) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=self.title, box=box.SIMPLE_HEAD, show_header=self.show_header,
                      header_style="bold", title_style="bold", title_justify="left",
                      pad_edge=False)
        for header, right in zip(self.headers, self.right, strict=True):
            table.add_column(header, justify="right" if right else "left", overflow="fold")
        for i, row in enumerate(self.rows):
            table.add_row(*(Text(text, style=self.styles.get((i, j), ""))
                            for j, text in enumerate(row)),
                          end_section=i in self.section_ends)
        _console().print(table)

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
        color = _color()
        if color:
            for (r, c), style in self.styles.items():
                justified[c][r + 1] = click.style(justified[c][r + 1],
                                                  **_CLICK_STYLES.get(style, {}))
            justified = [[click.style(col[0], bold=True), *col[1:]] for col in justified]
        lines = [" " * indent + "  ".join(cells).rstrip() for cells in zip(*justified, strict=True)]
        if not self.show_header:
            lines = lines[1:]
        if lines:
            click.echo("\n".join(lines), color=color)

    @staticmethod
    def _pad(text: str, width: int, right: bool) -> str:
        fill = " " * (width - _width(text))
        return fill + text if right else text + fill


def _dumps(value: Any) -> str:
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


def _print_json(value: Any) -> None:
    click.echo(_dumps(value))


def _print_csv(headers: Sequence[str], rows: Iterator[Sequence[Any]] | list[Sequence[Any]]) -> None:
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
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _note(message: str) -> None:
    """A remark for the person at the terminal (stderr, so stdout stays data)."""
    click.echo(_style_err(message, "dim"), err=True)


def _style_err(text: str, style: str) -> str:
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty and not os.environ.get("NO_COLOR"):
        return click.style(text, **_CLICK_STYLES.get(style, {}))
    return text


# -- errors and warnings ----------------------------------------------------------------------

def exit_code(exc: BaseException) -> int:
    """The documented exit code of a lineage error."""
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, QueryError):
        return EXIT_QUERY
    if isinstance(exc, RegistryError):
        return EXIT_REGISTRY
    return EXIT_ERROR


def _error(message: str) -> None:
    click.echo(_style_err(f"Error: {message}", "red"), err=True)


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """lineage's warnings print as one ``Warning: …`` line each on stderr; work goes on."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", LineageWarning)
        original = warnings.showwarning

        def show(message: Any, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            if issubclass(category, LineageWarning):
                click.echo(_style_err(f"Warning: {message}", "yellow"), err=True)
            else:
                original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _warn(message: str) -> None:
    warnings.warn(message, LineageWarning, stacklevel=2)


class _Group(click.Group):
    """Turns lineage's errors into one ``Error: …`` line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _warnings_to_stderr():
                return super().invoke(ctx)
        except LineageError as exc:
            _error(str(exc))
            ctx.exit(exit_code(exc))
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click quiets a closed pipe (`lineage ls 1 | head`)
            _error(str(exc))
            ctx.exit(EXIT_ERROR)
        except Exception as exc:
            sqlite3 = sys.modules.get("sqlite3")
            if sqlite3 is not None and isinstance(exc, sqlite3.Error):
                _error(f"the index (index.sqlite) could not be used: {exc}; "
                       "`lineage reindex` rebuilds it from the JSON records")
                ctx.exit(EXIT_REGISTRY)
            raise


# -- registry and addresses -------------------------------------------------------------------

def _registry(root: str | None) -> Registry:
    from .registry import Registry

    return Registry.open(root)


def _sets_listing(registry: Registry) -> str:
    sets = registry.sets()
    if not sets:
        return "none yet"
    shown = ", ".join(f"{s['number']} ({s.get('name')!r})" for s in sets[-20:])
    return shown if len(sets) <= 20 else f"{len(sets)} in all, the newest {shown}"


def _find_set(registry: Registry, ref: str) -> dict[str, Any]:
    """A set by number, name or ``latest``; the error lists the sets that exist."""
    try:
        return registry.find_set(ref)
    except SetNotFoundError:
        raise SetNotFoundError(
            f"no experiment set {ref!r} in {registry.path}; sets: {_sets_listing(registry)}"
        ) from None


def _find_experiment(registry: Registry, address: str) -> dict[str, Any]:
    """The record at ``SET/EXP`` (each a number, a name or ``latest``), ``SET`` alone (its
    newest experiment) or ``@alias``.

    Names may hold ``/``: every split is tried against the real set names, the last ``/``
    first, so ``"A/B test/2"`` is experiment 2 of the set "A/B test".
    """
    if address.startswith("@") and _is_alias(address[1:]):
        held = registry.alias_target(address[1:])
        return registry.read_record(held["set"], held["number"])
    first_miss: ExperimentNotFoundError | None = None
    for i in reversed([i for i, ch in enumerate(address) if ch == "/"]):
        set_part, exp_part = address[:i], address[i + 1:]
        if not set_part or not exp_part:
            continue
        try:
            set_record = registry.find_set(set_part)
        except SetNotFoundError:
            continue
        try:
            return registry.find_experiment(set_record["number"], exp_part)
        except ExperimentNotFoundError as exc:
            first_miss = first_miss or exc
    try:
        set_record = registry.find_set(address)
    except SetNotFoundError:
        if first_miss is not None:
            raise first_miss from None
        raise ExperimentNotFoundError(
            f"no experiment {address!r}: address one as SET/EXP, each a number, a name or "
            f"'latest' (e.g. 1/3, \"My set/latest\"), or as @alias; sets in {registry.path}: "
            f"{_sets_listing(registry)}"
        ) from None
    return registry.find_experiment(set_record["number"], "latest")


def _is_alias(name: str) -> bool:
    """Whether ``name`` is a valid alias (the grammar lineage.alias() accepts)."""
    from .errors import InvalidNameError
    from .validation import alias

    try:
        alias(name)
    except InvalidNameError:
        return False
    return True


def _loaded(registry: Registry, address: str) -> Any:
    from .api import LoadedExperiment

    return LoadedExperiment(registry, _find_experiment(registry, address))


def _with_status(registry: Registry, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its effective status (``crashed`` for a run whose process is gone)."""
    status = registry.effective_status(record)
    return record if status == record.get("status") else {**record, "status": status}


def _label(record: dict[str, Any]) -> str:
    return f"{record['set']['number']}/{record['number']}"


# -- common options ---------------------------------------------------------------------------

def _common(listing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        if listing:
            f = click.option("--csv", "as_csv", is_flag=True,
                             help="Print CSV (full-precision numbers).")(f)
        f = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)
        f = click.option(
            "--root", metavar="PATH", envvar="LINEAGE_ROOT", show_envvar=True,
            help="The registry: a .lineage folder or the folder holding it "
                 "(default: the nearest .lineage up from here).",
        )(f)
        return f
    return decorate


def _one_format(as_json: bool, as_csv: bool = False) -> None:
    if as_json and as_csv:
        raise click.UsageError("pass either --json or --csv, not both")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lineage")
def cli() -> None:
    """lineage: list, show, compare and choose tracked experiments.

    Experiments are addressed as SET/EXP, each part a number, a name or "latest"
    (1/3, "Random Forest"/latest), a set alone as SET, an aliased experiment as @alias.

    Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 bad filter, 5 registry problem.

    Example:

    \b
        lineage ls
        lineage ls 1 --sort-by -metrics.f1 --limit 10
        lineage show 1/latest
        lineage best 1 --metric f1 --promote production
    """


def main(argv: Sequence[str] | None = None) -> None:
    """The ``lineage`` console script."""
    import gc

    # A short-lived process that builds many small dicts (one per experiment) and frees
    # them at exit: the cyclic collector would only slow it down (~40% on 10,000 records).
    gc.disable()
    cli.main(args=list(argv) if argv is not None else None, prog_name="lineage")


# -- ls and search ----------------------------------------------------------------------------

@cli.command("ls")
@click.argument("set_ref", metavar="[SET]", required=False)
@click.option("--where", "-w", metavar="FILTER", help="Keep experiments matching a filter "
              "(docs/query.md), e.g. \"metrics.f1 > 0.8\".")
@click.option("--sort-by", "--order-by", "-s", "sort_by", metavar="KEYS",
              help="Sort by fields, '-' for descending, e.g. -metrics.f1,name.")
@click.option("--limit", "-n", type=click.IntRange(min=0), metavar="N",
              help="Show at most N experiments.")
@click.option("--columns", "-c", metavar="LIST", help="Comma-separated columns or glob "
              "patterns, e.g. name,params.*,metrics.f1.")
@click.option("--all", "all_params", is_flag=True,
              help="Also show params that are the same in every listed experiment.")
@_common(listing=True)
def ls_command(set_ref: str | None, where: str | None, sort_by: str | None, limit: int | None,
               columns: str | None, all_params: bool, root: str | None, as_json: bool,
               as_csv: bool) -> None:
    """List the experiment sets, or the experiments of SET.

    Without SET: one row per set with its number, name, number of experiments, how many
    are running, crashed or failed, and its last activity.

    With SET: number, name, status, versions, creation time, every param that varies
    across the listed experiments (--all: every param) and every metric.

    Example:

    \b
        lineage ls
        lineage ls 1
        lineage ls "Random Forest" --sort-by -metrics.f1 --limit 5
        lineage ls 1 --where "params.max_depth >= 10" --columns name,params.*,metrics.f1
        lineage ls 1 --csv > experiments.csv
    """
    _one_format(as_json, as_csv)
    if set_ref is None:
        given = [opt for opt, value in (("--where", where), ("--sort-by", sort_by),
                                        ("--limit", limit), ("--columns", columns),
                                        ("--all", all_params)) if value]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} select experiments: give a set (lineage ls SET ...) or use "
                "lineage search ..."
            )
        _list_sets(root, as_json, as_csv)
        return
    _list_experiments(root, set_ref, where, sort_by, limit, columns, all_params, as_json,
                      as_csv)


@cli.command("search")
@click.argument("set_ref", metavar="[SET]", required=False)
@click.option("--where", "-w", metavar="FILTER", help="A filter (docs/query.md).")
@click.option("--order-by", "--sort-by", "-s", "order_by", metavar="KEYS",
              help="Sort by fields, '-' for descending, e.g. -metrics.f1,name.")
@click.option("--limit", "-n", type=click.IntRange(min=0), metavar="N",
              help="Show at most N experiments.")
@click.option("--columns", "-c", metavar="LIST", help="Comma-separated columns or glob "
              "patterns, e.g. name,params.*,metrics.f1.")
@click.option("--all", "all_params", is_flag=True,
              help="Also show params that are the same in every listed experiment.")
@_common(listing=True)
def search_command(set_ref: str | None, where: str | None, order_by: str | None,
                   limit: int | None, columns: str | None, all_params: bool, root: str | None,
                   as_json: bool, as_csv: bool) -> None:
    """Find experiments matching a filter, in SET or in every set.

    The filter language is in docs/query.md; the table is the one of `lineage ls SET`,
    with a set column when searching every set.

    Example:

    \b
        lineage search --where "metrics.f1 > 0.9 and tags.team = 'nlp'"
        lineage search 1 --where "params.kernel in ('rbf', 'linear')" --order-by -metrics.f1
        lineage search --where "status = 'failed'" --json
    """
    _one_format(as_json, as_csv)
    _list_experiments(root, set_ref, where, order_by, limit, columns, all_params, as_json,
                      as_csv)


def _list_sets(root: str | None, as_json: bool, as_csv: bool) -> None:
    from . import query

    registry = _registry(root)
    index = registry.synced_index()
    stats = index.set_stats()
    live: dict[int, dict[str, int]] = {}
    for record in index.search(query.parse("status = 'running'")):
        status = registry.effective_status(record)
        counts = live.setdefault(record["set"]["number"], {})
        counts[status] = counts.get(status, 0) + 1
    rows = []
    for s in registry.sets():
        stat = stats.get(s["number"], {})
        counts = live.get(s["number"], {})
        rows.append({
            **s,
            "experiments": stat.get("experiments", 0),
            "running": counts.get("running", 0),
            "crashed": counts.get("crashed", 0),
            "failed": stat.get("failed", 0) + counts.get("failed", 0),
            "last_activity": stat.get("last_activity") or s.get("created"),
        })
    if as_json:
        _print_json(rows)
        return
    keys = ["number", "name", "experiments", "running", "crashed", "failed", "last_activity"]
    if as_csv:
        _print_csv(keys, ([r[k] for k in keys] for r in rows))
        return
    if not rows:
        _note(f"no experiment sets yet in {registry.path}")
        return
    table = _Table(["#", "name", "experiments", "running", "crashed", "failed",
                    "last activity"], right=[True, False, True, True, True, True, False])
    for r in rows:
        table.add([
            str(r["number"]), r["name"], str(r["experiments"]),
            (str(r["running"]), "cyan" if r["running"] else "dim"),
            (str(r["crashed"]), "bold magenta" if r["crashed"] else "dim"),
            (str(r["failed"]), "red" if r["failed"] else "dim"),
            _fmt_time(r["last_activity"]),
        ])
    table.print()


def _search(registry: Registry, set_number: int | None, where: str | None,
            order_by: str | None, limit: int | None) -> list[dict[str, Any]]:
    """Records (without the package list) with their effective status, as lineage.search."""
    from .api import search

    found = search(set_number, where, order_by, limit, root=registry.path)
    return [_with_status(registry, r) for r in found.to_records()]


def _list_experiments(root: str | None, set_ref: str | None, where: str | None,
                      order_by: str | None, limit: int | None, columns: str | None,
                      all_params: bool, as_json: bool, as_csv: bool) -> None:
    registry = _registry(root)
    set_record = _find_set(registry, set_ref) if set_ref is not None else None
    set_number = set_record["number"] if set_record else None
    records = _search(registry, set_number, where, order_by, limit)
    if as_json:
        _print_json(records)
        return
    chosen = _choose_columns(records, set_number is None, columns, all_params)
    if as_csv:
        getters = [_accessor(c) for c in chosen]
        _print_csv(chosen, ([get(r) for get in getters] for r in records))
        return
    if not records:
        what = f"set {set_number} ({set_record['name']!r})" if set_record else "any set"
        _note(f"no experiments in {what}" + (f" match {where!r}" if where else ""))
        return
    _experiments_table(records, chosen, set_record).print()


def _choose_columns(records: list[dict[str, Any]], all_sets: bool, columns: str | None,
                    all_params: bool) -> list[str]:
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    tags: dict[str, None] = {}
    for r in records:
        for target, source in ((params, "hyperparameters"), (metrics, "metrics"),
                               (tags, "tags")):
            values = r.get(source)
            if values:
                for key in values:
                    target[key] = None
    if columns is not None:
        import fnmatch

        available = list(_TOP_COLUMNS) + [f"params.{k}" for k in params] + [
            f"metrics.{k}" for k in metrics] + [f"tags.{k}" for k in tags]
        chosen: list[str] = []
        for item in (c.strip() for c in columns.split(",")):
            if not item:
                continue
            if item.startswith("hyperparameters."):
                item = "params." + item.split(".", 1)[1]
            if any(ch in item for ch in "*?["):
                chosen += [c for c in available if fnmatch.fnmatchcase(c, item) and c not in chosen]
            elif item in _TOP_COLUMNS or (item.partition(".")[0] in _PREFIXES and "." in item):
                chosen.append(item)
            else:
                raise click.BadParameter(
                    f"unknown column {item!r}; columns: {', '.join(available)}",
                    param_hint="'--columns'",
                )
        return chosen
    base = list(_BASE_COLUMNS)
    if all_sets:
        base.insert(0, "set")
    keys = sorted(params)  # in name order, as `lineage compare` shows them
    if not all_params and len(records) > 1:
        keys = [k for k in keys if _varies(records, k)]
    return base + [f"params.{k}" for k in keys] + [f"metrics.{k}" for k in sorted(metrics)]


def _varies(records: list[dict[str, Any]], key: str) -> bool:
    values = [(r.get("hyperparameters") or {}).get(key, _MISSING) for r in records]
    first = values[0]
    return any(v is _MISSING or first is _MISSING or v != first or type(v) is not type(first)
               for v in values[1:])


def _accessor(column: str) -> Callable[[dict[str, Any]], Any]:
    """A function reading one column's value from a record (_MISSING when absent)."""
    if column == "set":
        return lambda r: r["set"]["number"]
    prefix, dot, key = column.partition(".")
    if dot and prefix in _PREFIXES:
        source = _PREFIXES[prefix]

        def get(r: dict[str, Any]) -> Any:
            values = r.get(source)
            if not values:
                return _MISSING
            if key in values:
                return values[key]
            node: Any = values
            for part in key.split("."):  # params.a.b: the key "a.b", else nested a -> b
                if not isinstance(node, dict) or part not in node:
                    return _MISSING
                node = node[part]
            return node
        return get
    return lambda r: r.get(column, _MISSING)


def _get(record: dict[str, Any], column: str) -> Any:
    return _accessor(column)(record)


def _cell(column: str, value: Any) -> Cell:
    if value is _MISSING:
        return "-", "dim"
    if column == "status":
        return str(value), _STATUS_STYLE.get(str(value))
    if column in ("created", "ended"):
        return _fmt_time(value), None
    if column == "duration":
        return _fmt_duration(value), None
    return _fmt(value), None


def _fmt_cell(value: Any) -> str:
    kind = type(value)
    if kind is float:
        return f"{value:.4g}"
    if kind is int:
        return str(value)
    if kind is str and "\n" not in value:
        return value
    return "-" if value is _MISSING else _fmt(value)


def _experiments_table(records: list[dict[str, Any]], columns: list[str],
                       set_record: dict[str, Any] | None) -> _Table:
    title = None
    if set_record is not None:
        title = f"Set {set_record['number']}: {set_record['name']} ({len(records)} shown)"
    table = _Table(["#" if c == "number" else c for c in columns], title=title)
    texts: list[list[str]] = []
    for j, column in enumerate(columns):
        values = list(map(_accessor(column), records))
        table.right[j] = column not in ("created", "ended") and all(
            v is _MISSING or type(v) in (int, float) for v in values)
        if column in ("status", "created", "ended", "duration"):
            cells = [_cell(column, v) for v in values]
            texts.append([text for text, _ in cells])
            for i, (_, style) in enumerate(cells):
                if style:
                    table.styles[i, j] = style
        else:
            texts.append(list(map(_fmt_cell, values)))
            for i, v in enumerate(values):
                if v is _MISSING:
                    table.styles[i, j] = "dim"
    table.rows = [list(row) for row in zip(*texts, strict=True)]
    table.hint = ("wider than the terminal: pick columns with --columns (e.g. "
                  "name,metrics.*), or page it with | less -S")
    return table


# -- show ---------------------------------------------------------------------------------------

@cli.command("show")
@click.argument("address", metavar="SET/EXP")
@_common()
def show_command(address: str, root: str | None, as_json: bool) -> None:
    """Everything about one experiment.

    Metadata, params, metrics, step-metric summaries, tags, aliases, provenance (git,
    Python, script), artifacts with their size and hash, warnings and the error of a failed
    run. --json prints the whole experiment.json (status: crashed for a dead run).

    Example:

    \b
        lineage show 1/3
        lineage show "Random Forest"/latest
        lineage show @production --json
    """
    registry = _registry(root)
    record = _with_status(registry, _loaded(registry, address).record)
    if as_json:
        _print_json(record)
        return
    _show(registry, record)


def _heading(text: str) -> None:
    click.echo()
    click.echo(_style(text, "bold"), color=_color())


def _pairs(pairs: Sequence[tuple[str, Any]], *, styles: dict[str, str] | None = None) -> None:
    table = _Table(["key", "value"], show_header=False)
    for key, value in pairs:
        text = value if isinstance(value, str) else _fmt(value)
        table.add([(key, None), (text, (styles or {}).get(key))])
    table._print_plain(indent=2)


def _show(registry: Registry, r: dict[str, Any]) -> None:
    status = r["status"]
    title = f"{_label(r)}  {r['name']}"
    click.echo(_style(title, "bold") + "  " + _style(status, _STATUS_STYLE.get(status)),
               color=_color())
    meta: list[tuple[str, Any]] = [("set", f"{r['set']['number']} ({r['set'].get('name')})")]
    if r.get("description"):
        meta.append(("description", r["description"]))
    meta += [("model_version", r.get("model_version")), ("data_version", r.get("data_version")),
             ("created", _fmt_time(r.get("created"), True)),
             ("ended", _fmt_time(r.get("ended"), True)),
             ("duration", _fmt_duration(r.get("duration"))), ("id", r.get("id"))]
    if r.get("seed"):
        seed = r["seed"]
        meta.append(("seed", f"{seed.get('value')} ({', '.join(seed.get('libraries') or [])})"))
    held = [name for name, h in sorted(registry.aliases()["current"].items())
            if h.get("id") == r.get("id")]
    if held:
        meta.append(("aliases", ", ".join(held)))
    _pairs(meta, styles={"status": _STATUS_STYLE.get(status, "")})

    for title, key in (("params", "hyperparameters"), ("metrics", "metrics"), ("tags", "tags")):
        values = r.get(key) or {}
        if values:
            _heading(title)
            _pairs(list(values.items()))
    steps = r.get("step_metrics") or {}
    if steps:
        _heading("step metrics")
        table = _Table(["name", "count", "steps", "last", "min", "max"],
                       right=[False, True, False, True, True, True])
        for name, s in steps.items():
            table.add([name, _fmt(s.get("count")),
                       f"{_fmt(s.get('first_step'))}–{_fmt(s.get('last_step'))}",
                       _fmt(s.get("last")), _fmt(s.get("min")), _fmt(s.get("max"))])
        table._print_plain(indent=2)

    _heading("provenance")
    _pairs(_provenance(r.get("provenance") or {}))

    if r.get("data"):
        _heading("data")
        _pairs(_data_summary(r["data"]))

    artifacts = r.get("artifacts") or []
    if artifacts:
        _heading("artifacts")
        table = _Table(["path", "role", "size", "hash"], right=[False, False, True, False])
        for a in artifacts:
            digest = str(a.get("hash", ""))
            algo, _, hexdigest = digest.partition(":")
            table.add([a.get("path", ""), a.get("role", ""), _fmt_size(a.get("size")),
                       f"{algo}:{hexdigest[:12]}" if hexdigest else digest])
        table._print_plain(indent=2)

    if r.get("warnings"):
        _heading("warnings")
        for w in r["warnings"]:
            click.echo(_style(f"  {w}", "yellow"), color=_color())
    error = r.get("error")
    if error:
        _heading("error")
        click.echo(_style(f"  {error.get('type')}: {error.get('message')}", "red"),
                   color=_color())
        if error.get("reason"):
            click.echo(f"  reason: {error['reason']}")
        if error.get("traceback"):
            click.echo(_style("  " + str(error["traceback"]).rstrip().replace("\n", "\n  "),
                              "dim"), color=_color())


def _provenance(prov: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    git = prov.get("git")
    if git:
        text = str(git.get("commit") or "?")[:12]
        if git.get("branch"):
            text += f" on {git['branch']}"
        if git.get("dirty"):
            text += ", uncommitted changes"
            if git.get("diff_artifact"):
                text += f" ({git['diff_artifact']})"
        out.append(("git", text))
    else:
        out.append(("git", "not recorded (not a git repository, or capture off)"))
    python = prov.get("python") or {}
    if python:
        out.append(("python", f"{python.get('version')} ({python.get('implementation')}) "
                              f"{python.get('executable') or ''}".rstrip()))
    plat = prov.get("platform") or {}
    if plat:
        out.append(("platform", " ".join(str(plat.get(k)) for k in ("system", "machine",
                                                                    "release") if plat.get(k))))
    if prov.get("host") or prov.get("user"):
        out.append(("host", f"{prov.get('user') or '?'}@{prov.get('host') or '?'}"))
    script = prov.get("script")
    if script:
        text = str(script.get("path") or script.get("name"))
        if script.get("kind") and script.get("kind") != "script":
            text += f" ({script['kind']})"
        if script.get("artifact"):
            text += f", copy: {script['artifact']}"
        out.append(("script", text))
        if script.get("argv"):
            out.append(("argv", " ".join(str(a) for a in script["argv"])))
    if prov.get("cwd"):
        out.append(("cwd", prov["cwd"]))
    packages = prov.get("packages")
    if packages is not None:
        out.append(("packages", f"{len(packages)} recorded (lineage show --json for versions)"))
    return out


def _data_summary(data: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key in ("type", "shape", "rows", "dtype", "length", "fingerprint"):
        if key in data:
            out.append((key, data[key] if isinstance(data[key], str) else _fmt(data[key])))
    for i, item in enumerate(data.get("items") or []):
        if isinstance(item, dict):
            parts = [str(item.get("type", "?"))]
            if "shape" in item:
                parts.append("shape " + "×".join(str(d) for d in item["shape"]))
            if "dtype" in item:
                parts.append(str(item["dtype"]))
            out.append((f"[{i}]", ", ".join(parts)))
    return out


# -- compare ------------------------------------------------------------------------------------

_SECTIONS = ("experiment", "params", "metrics", "tags", "data", "environment", "packages")


@cli.command("compare")
@click.argument("set_ref", metavar="SET")
@click.argument("experiments", nargs=-1, metavar="[EXP]...")
@click.option("--all", "show_all", is_flag=True, help="Also show rows whose values are equal.")
@click.option("--baseline", "-b", metavar="EXP",
              help="Deltas against this experiment (default: the first shown).")
@click.option("--sections", metavar="LIST",
              help=f"Comma-separated sections to show, of: {', '.join(_SECTIONS)}.")
@_common(listing=True)
def compare_command(set_ref: str, experiments: tuple[str, ...], show_all: bool,
                    baseline: str | None, sections: str | None, root: str | None,
                    as_json: bool, as_csv: bool) -> None:
    """Experiments of SET side by side: one row per key, one column per experiment.

    By default only what differs (the name row always stays). Values that differ from
    the baseline are highlighted, the best value of each metric is marked ★ (lower is
    better for names like loss, error, rmse), and metrics show their delta against the
    baseline. Sections: experiment, params, metrics, tags, data, environment, packages.

    Example:

    \b
        lineage compare 1
        lineage compare 1 2 4 --baseline 2
        lineage compare "Random Forest" --all --sections params,metrics
        lineage compare 1 --json
    """
    from .comparison import compare

    _one_format(as_json, as_csv)
    wanted = _parse_sections(sections)
    registry = _registry(root)
    number = _find_set(registry, set_ref)["number"]
    if experiments:
        records = [registry.find_experiment(number, ref) for ref in experiments]
    else:
        problems: list[Any] = []
        records = list(registry.iter_records(number, problems))
        for problem in problems:
            _warn(f"skipped {problem}")
    base = 0
    if baseline is not None:
        target = registry.find_experiment(number, baseline)
        numbers = [r["number"] for r in records]
        if target["number"] in numbers:
            base = numbers.index(target["number"])
        else:
            records.insert(0, target)
    if not records:
        raise ValidationError(f"set {number} has no experiments to compare")
    records = [_with_status(registry, r) for r in records]
    comparison = compare(records, only_diff=not show_all, baseline=base)
    rows = [row for row in comparison.rows if row.section in wanted]
    if as_json:
        data = comparison.to_dict()
        data["rows"] = [row.to_dict() for row in rows]
        _print_json(data)
        return
    labels = comparison.labels
    if as_csv:
        _print_csv(["section", "key", *labels],
                   ([row.section, row.key, *row.values] for row in rows))
        return
    headers = ["", *[f"{label} (baseline)" if i == base and baseline is not None else label
                     for i, label in enumerate(labels)]]
    table = _Table(headers)
    section = None
    for row in rows:
        if section is not None and row.section != section:
            table.end_section()
        section = row.section
        key = row.key if row.section == "experiment" else f"{row.section}.{row.key}"
        cells: list[Cell] = [(key, "bold" if row.section == "experiment" else None)]
        for i, value in enumerate(row.values):
            if row.section == "experiment" and row.key in ("created", "ended"):
                text = _fmt_time(value, seconds=True)
            else:
                text = _cell(row.key if row.section == "experiment" else "",
                             _MISSING if value is None else value)[0]
            style = None
            if row.section == "experiment" and row.key == "status":
                style = _STATUS_STYLE.get(str(value))
            elif row.changed and i != base and value != row.values[base]:
                style = "yellow"
            if row.section == "metrics":
                delta = row.deltas[i] if i < len(row.deltas) else None
                if i != base and delta:
                    text += f" ({delta:+.3g})"
            if row.best == i:
                text += " ★"
                style = "bold green"
            cells.append((text, style))
        table.add(cells)
    table.print()
    hidden = len(comparison.rows) - len(rows) if sections else 0
    if not show_all and not as_json:
        _note("only differences shown; --all shows every row"
              + (f" ({hidden} rows in other sections hidden)" if hidden else ""))


def _parse_sections(sections: str | None) -> set[str]:
    if sections is None:
        return set(_SECTIONS)
    wanted = {s.strip() for s in sections.split(",") if s.strip()}
    unknown = wanted - set(_SECTIONS)
    if unknown or not wanted:
        raise click.BadParameter(
            f"unknown section {', '.join(sorted(unknown)) or '(none)'}; sections: "
            f"{', '.join(_SECTIONS)}", param_hint="'--sections'",
        )
    return wanted


# -- best ---------------------------------------------------------------------------------------

@cli.command("best")
@click.argument("set_ref", metavar="SET")
@click.option("--metric", "-m", required=True, help="The metric to rank by, e.g. f1.")
@click.option("--min", "direction", flag_value="min", help="Lower is better.")
@click.option("--max", "direction", flag_value="max",
              help="Higher is better (the default, except for names like loss, error, rmse).")
@click.option("--where", "-w", metavar="FILTER", help="Only among experiments matching it.")
@click.option("--promote", metavar="ALIAS", help="Also give the best experiment this alias.")
@_common()
def best_command(set_ref: str, metric: str, direction: str | None, where: str | None,
                 promote: str | None, root: str | None, as_json: bool) -> None:
    """The registered experiment of SET with the best value of a metric.

    Higher is better unless --min is given, or the metric's name says lower is better
    (loss, error, rmse, mae, …: the guess `lineage compare` uses; --max overrides it).

    Example:

    \b
        lineage best 1 --metric f1
        lineage best 2 --metric rmse --where "data_version = '2026-11'"
        lineage best 1 --metric f1 --promote production
        lineage best 1 --metric f1 --json | jq .hyperparameters
    """
    from .api import best
    from .comparison import lower_is_better

    registry = _registry(root)
    set_record = _find_set(registry, set_ref)
    mode = direction or ("min" if lower_is_better(metric) else "max")
    exp = best(set_record["number"], metric, mode, where=where, root=registry.path)
    if promote:
        exp.promote(promote)
    if as_json:
        _print_json(_with_status(registry, exp.record))
    else:
        value = exp.metrics.get(metric)
        click.echo(f"{_style(exp.address, 'bold')}  {exp.name}  {metric} = "
                   f"{_style(_fmt(value), 'bold green')}", color=_color())
        _note(f"{'lowest' if mode == 'min' else 'highest'} {metric} of set "
              f"{set_record['number']} ({set_record['name']!r})"
              + (f" among experiments matching {where!r}" if where else ""))
    if promote:
        click.echo(f"{promote} → {exp.address} ({exp.name})", err=as_json)


# -- diff ---------------------------------------------------------------------------------------

@cli.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@_common()
def diff_command(a: str, b: str, root: str | None, as_json: bool) -> None:
    """What changed from experiment A to experiment B (each SET/EXP).

    Versions, params, metrics with their deltas, the environment, packages whose
    version changed, and the code: a unified diff of the two captured entry scripts and of
    their uncommitted git changes (read as text; nothing is unpickled).

    Example:

    \b
        lineage diff 1/2 1/3
        lineage diff @production 1/latest
        lineage diff "A/B test/1" "A/B test/2" --json
    """
    from .comparison import lower_is_better, package_changes, unified_diff

    registry = _registry(root)
    ea, eb = _loaded(registry, a), _loaded(registry, b)
    ra, rb = ea.record, eb.record

    def changed(x: dict[str, Any], y: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        return [(k, x.get(k, _MISSING), y.get(k, _MISSING)) for k in dict.fromkeys([*x, *y])
                if k not in x or k not in y or x[k] != y[k] or type(x[k]) is not type(y[k])]

    versions = changed({k: ra.get(k) for k in ("model_version", "data_version")},
                       {k: rb.get(k) for k in ("model_version", "data_version")})
    params = changed(ra.get("hyperparameters") or {}, rb.get("hyperparameters") or {})
    metrics = changed(ra.get("metrics") or {}, rb.get("metrics") or {})
    env = changed(_environment(ra), _environment(rb))
    pa = (ra.get("provenance") or {}).get("packages") or {}
    pb = (rb.get("provenance") or {}).get("packages") or {}
    packages = package_changes(pa, pb)
    script = unified_diff(*_texts(ea, eb, _script_path))
    git_diff = unified_diff(*_texts(ea, eb, _git_diff_path))

    if as_json:
        def value(v: Any) -> Any:
            return None if v is _MISSING else v

        _print_json({
            "a": {"set": ea.set_number, "number": ea.number, "id": ea.id, "name": ea.name},
            "b": {"set": eb.set_number, "number": eb.number, "id": eb.id, "name": eb.name},
            "versions": [{"key": k, "a": value(x), "b": value(y)} for k, x, y in versions],
            "params": [{"key": k, "a": value(x), "b": value(y)} for k, x, y in params],
            "metrics": [{"key": k, "a": value(x), "b": value(y),
                         "delta": y - x if _is_number(x) and _is_number(y) else None}
                        for k, x, y in metrics],
            "environment": [{"key": k, "a": value(x), "b": value(y)} for k, x, y in env],
            "packages": [{"name": n, "a": x, "b": y} for n, x, y in packages],
            "script": script,
            "git_diff": git_diff,
        })
        return

    click.echo(f"{_style(ea.address, 'bold')} {ea.name}  →  {_style(eb.address, 'bold')} "
               f"{eb.name}", color=_color())
    nothing = True
    for title, items in (("versions", versions), ("params", params), ("environment", env)):
        if items:
            nothing = False
            _heading(title)
            table = _Table(["key", "a", "", "b"], show_header=False)
            for k, x, y in items:
                table.add([k, (_fmt(x), "red"), "→", (_fmt(y), "green")])
            table._print_plain(indent=2)
    if metrics:
        nothing = False
        _heading("metrics")
        table = _Table(["key", "a", "", "b", "delta"], show_header=False,
                       right=[False, True, False, True, True])
        for k, x, y in metrics:
            delta, style = "", None
            if _is_number(x) and _is_number(y):
                d = y - x
                delta = f"{d:+.4g}"
                better = d < 0 if lower_is_better(k) else d > 0
                style = "green" if better else "red"
            table.add([k, _fmt(x), "→", _fmt(y), (delta, style)])
        table._print_plain(indent=2)
    if packages:
        nothing = False
        _heading("packages")
        table = _Table(["name", "a", "", "b"], show_header=False)
        for name, x, y in packages:
            table.add([name, (x or "(not installed)", "red"), "→",
                       (y or "(not installed)", "green")])
        table._print_plain(indent=2)
    for title, text in (("script", script), ("uncommitted changes (git diff)", git_diff)):
        if text:
            nothing = False
            _heading(title)
            _print_diff(text)
    if nothing:
        click.echo("no differences in versions, params, metrics, environment, packages or code")


def _environment(record: dict[str, Any]) -> dict[str, Any]:
    prov = record.get("provenance") or {}
    git = prov.get("git") or {}
    out = {f"git.{k}": git[k] for k in ("commit", "branch", "dirty") if k in git}
    if prov.get("python"):
        out["python"] = prov["python"].get("version")
    if prov.get("platform"):
        out["platform"] = f"{prov['platform'].get('system')} {prov['platform'].get('machine')}"
    if prov.get("host"):
        out["host"] = prov["host"]
    if (prov.get("script") or {}).get("name"):
        out["script"] = prov["script"]["name"]
    return out


def _script_path(record: dict[str, Any]) -> str | None:
    script = (record.get("provenance") or {}).get("script") or {}
    if script.get("artifact"):
        return str(script["artifact"])
    return _role_path(record, "script")


def _git_diff_path(record: dict[str, Any]) -> str | None:
    git = (record.get("provenance") or {}).get("git") or {}
    if git.get("diff_artifact"):
        return str(git["diff_artifact"])
    return _role_path(record, "git-diff")


def _role_path(record: dict[str, Any], role: str) -> str | None:
    for entry in record.get("artifacts") or []:
        if entry.get("role") == role:
            return str(entry["path"])
    return None


def _texts(ea: Any, eb: Any, which: Callable[[dict[str, Any]], str | None]
           ) -> tuple[str, str, str, str]:
    """Both experiments' text artifact (read as UTF-8 text, never unpickled) and labels."""
    out: list[str] = []
    labels: list[str] = []
    for exp in (ea, eb):
        path = which(exp.record)
        text = ""
        if path is not None:
            try:
                text = exp.artifact_path(path).read_text(encoding="utf-8", errors="replace")
            except (LineageError, OSError) as exc:
                _warn(f"{exp.address}: could not read {path} ({exc})")
        out.append(text)
        labels.append(f"{exp.address}/{path}" if path else f"{exp.address} (none captured)")
    return out[0], out[1], labels[0], labels[1]


def _print_diff(text: str) -> None:
    color = _color()
    lines = []
    for line in text.splitlines():
        style = None
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        lines.append(_style(line, style) if color else line)
    click.echo("\n".join(lines), color=color)


# -- notes --------------------------------------------------------------------------------------

@cli.command("notes")
@click.argument("address", metavar="SET/EXP")
@click.option("--raw", is_flag=True, help="Print the Markdown source even on a terminal.")
@_common()
def notes_command(address: str, raw: bool, root: str | None, as_json: bool) -> None:
    """The release notes of an experiment, as Markdown.

    Rendered on a terminal; the raw Markdown when piped, redirected or with --raw.

    Example:

    \b
        lineage notes 1/2
        lineage notes @production --raw > RELEASE.md
    """
    registry = _registry(root)
    exp = _loaded(registry, address)
    text = exp.release_notes
    if text is None:
        raise NotFoundError(
            f"experiment {exp.address} has no release notes; pass "
            "releasenotes=exp.draft_release_note() to register() to store them"
        )
    if as_json:
        _print_json({"set": exp.set_number, "number": exp.number, "id": exp.id,
                     "name": exp.name, "release_notes": text})
    elif raw or not _is_terminal():
        click.echo(text, nl=not text.endswith("\n"))
    else:
        from rich.markdown import Markdown

        _console().print(Markdown(text))


# -- alias --------------------------------------------------------------------------------------

@cli.command("alias")
@click.argument("args", nargs=-1, metavar="[SET/EXP NAME | NAME]")
@click.option("--history", is_flag=True, help="Who held the alias NAME (or every alias) when.")
@click.option("--remove", metavar="NAME", help="Remove the alias NAME.")
@_common()
def alias_command(args: tuple[str, ...], history: bool, remove: str | None, root: str | None,
                  as_json: bool) -> None:
    """Give an experiment an alias (production, staging…), or list aliases.

    \b
    lineage alias SET/EXP NAME   point NAME at the experiment (taken from its holder)
    lineage alias                every current alias
    lineage alias NAME           who holds NAME
    lineage alias --history [NAME]
    lineage alias --remove NAME

    An aliased experiment can be addressed as @NAME by the other commands.

    Example:

    \b
        lineage alias 1/2 production
        lineage alias
        lineage alias --history production
        lineage show @production
    """
    from . import api

    registry = _registry(root)
    if remove is not None:
        if args or history:
            raise click.UsageError("--remove NAME takes no other arguments")
        held = registry.alias_target(remove)
        registry.remove_alias(remove)
        if as_json:
            _print_json({"alias": remove, "removed": held})
        else:
            click.echo(f"removed {remove} (was {held['set']}/{held['number']})")
        return
    if history:
        if len(args) > 1:
            raise click.UsageError("--history takes at most one alias NAME")
        events = api.alias_history(args[0] if args else None, root=registry.path)
        if as_json:
            _print_json(events)
            return
        if not events:
            _note("no alias history yet" + (f" for {args[0]!r}" if args else ""))
            return
        table = _Table(["when", "alias", "experiment", "previous", "by"])
        for e in events:
            now_held = (f"{e['set']}/{e['number']}", None) if e.get("set") is not None else (
                "(removed)", "dim")
            prev = e.get("previous")
            table.add([_fmt_time(e.get("since")), e["alias"], now_held,
                       (f"{prev['set']}/{prev['number']}", None) if prev else ("-", "dim"),
                       str(e.get("by") or "")])
        table.print()
        return
    if len(args) == 2:
        exp = _loaded(registry, args[0])
        previous = registry.aliases()["current"].get(args[1])
        exp.promote(args[1])
        if as_json:
            _print_json({"alias": args[1], **registry.alias_target(args[1]),
                         "previous": previous})
        else:
            was = f" (was {previous['set']}/{previous['number']})" if previous else ""
            click.echo(f"{args[1]} → {exp.address} {exp.name}{was}")
        return
    if len(args) > 2:
        raise click.UsageError("give SET/EXP NAME to set an alias, or NAME to see who holds it")
    current = api.aliases(root=registry.path)
    if args:
        current = {args[0]: registry.alias_target(args[0])}
    if as_json:
        _print_json(current if not args else {"alias": args[0], **current[args[0]]})
        return
    if not current:
        _note("no aliases yet; give one with: lineage alias SET/EXP NAME")
        return
    table = _Table(["alias", "experiment", "name", "since", "by"])
    for name, held in sorted(current.items()):
        try:
            exp_name = registry.read_record(held["set"], held["number"])["name"]
        except LineageError:
            exp_name = "(unreadable)"
        table.add([(name, "bold"), f"{held['set']}/{held['number']}", exp_name,
                   _fmt_time(held.get("since")), str(held.get("by") or "")])
    table.print()


# -- tag ----------------------------------------------------------------------------------------

@cli.command("tag")
@click.argument("address", metavar="SET/EXP")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@_common()
def tag_command(address: str, pairs: tuple[str, ...], root: str | None, as_json: bool) -> None:
    """Add, change or remove tags of a finished experiment.

    VALUE is read as JSON when it is JSON (3, 0.5, true, [1,2], "text"), else as text;
    KEY= (nothing after '=') or KEY=null removes the tag. The record (experiment.json)
    is never rewritten: tags live beside it, in tags.json.

    Example:

    \b
        lineage tag 1/3 team=nlp reviewed=true
        lineage tag 1/3 epochs=30 note="baseline for Q3"
        lineage tag 1/3 reviewed=
    """
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="'KEY=VALUE'")
        changes[key] = _tag_value(text)
    registry = _registry(root)
    exp = _loaded(registry, address)
    exp.tag(**changes)
    if as_json:
        _print_json(_with_status(registry, exp.record))
        return
    tags = exp.tags
    click.echo(f"{exp.address} tags: " + (
        ", ".join(f"{k}={_fmt(v)}" for k, v in tags.items()) if tags else "(none)"))


def _tag_value(text: str) -> Any:
    if text == "":
        return None

    def reject(constant: str) -> Any:
        raise ValueError(constant)

    try:
        value = json.loads(text, parse_constant=reject)
    except ValueError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text  # 1e999
    return value


# -- reindex ------------------------------------------------------------------------------------

@cli.command("reindex")
@_common()
def reindex_command(root: str | None, as_json: bool) -> None:
    """Rebuild the index (index.sqlite) from the experiment records.

    The index is a cache that lineage keeps up to date by itself; rebuild it after
    copying or editing records by hand, or when a query seems to miss something.

    Example:

    \b
        lineage reindex
        lineage reindex --root /data/project/.lineage
    """
    registry = _registry(root)
    sets = registry.set_numbers()
    total = sum(len(registry.experiment_numbers(s)) for s in sets)
    started = time.perf_counter()
    index = registry.index
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty and not as_json and total:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=_console(stderr=True),
                      transient=True) as bar:
            task = bar.add_task("indexing", total=total)
            problems = index.rebuild(registry, lambda n: bar.advance(task, n))
    else:
        problems = index.rebuild(registry)
    seconds = time.perf_counter() - started
    for problem in problems:
        _warn(f"skipped {problem}")
    count = index.count()
    if as_json:
        _print_json({"index": str(index.path), "sets": len(sets), "experiments": count,
                     "skipped": [str(p) for p in problems], "seconds": round(seconds, 3)})
    else:
        click.echo(f"indexed {count:,} experiments of {len(sets)} set"
                   f"{'' if len(sets) == 1 else 's'} in {seconds:.2f} s ({index.path})")


if __name__ == "__main__":  # pragma: no cover
    main()
