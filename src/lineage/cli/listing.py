"""``lineage ls`` and ``lineage search``: the sets, and the experiments a filter selects.

Listings read the index (``lineage.search``), never the records, and print 10,000 rows as
plain text in well under a second: columns are formatted one at a time, not cell by cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from .. import columns as cols
from .. import query
from ..errors import QueryError
from .address import find_set, open_registry, with_status
from .options import common, one_format
from .output import MISSING, Table, cell, fmt, fmt_time, note, print_csv, print_json

if TYPE_CHECKING:
    from ..registry import Registry

_TOP_COLUMNS = ("set", *cols.TOP)  # a listing of every set also says which set
_PREFIXES = {**cols.SOURCES, "hyperparameters": "hyperparameters"}


def listing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``ls SET`` and ``search`` share: filter, order, limit, columns."""
    options: list[Callable[[Any], Any]] = [
        click.option("--where", "-w", metavar="FILTER", help="Keep experiments matching a "
                     "filter (docs/query.md), e.g. \"metrics.f1 > 0.8\"."),
        click.option("--sort-by", "--order-by", "-s", "sort_by", metavar="KEYS",
                     help="Sort by fields, '-' for descending, e.g. -metrics.f1,name."),
        click.option("--limit", "-n", type=click.IntRange(min=0), metavar="N",
                     help="Show at most N experiments."),
        click.option("--columns", "-c", metavar="LIST", help="Comma-separated columns or "
                     "glob patterns, e.g. name,params.*,metrics.f1."),
        click.option("--all", "all_params", is_flag=True,
                     help="Also show params that are the same in every listed experiment."),
        common(listing=True),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("ls")
@click.argument("set_ref", metavar="[SET]", required=False)
@listing_options
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
    one_format(as_json, as_csv)
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


@click.command("search")
@click.argument("set_ref", metavar="[SET]", required=False)
@listing_options
def search_command(set_ref: str | None, where: str | None, sort_by: str | None,
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
    one_format(as_json, as_csv)
    _list_experiments(root, set_ref, where, sort_by, limit, columns, all_params, as_json,
                      as_csv)


# -- the sets -----------------------------------------------------------------------------------

def _list_sets(root: str | None, as_json: bool, as_csv: bool) -> None:
    from ..api import set_summaries

    registry = open_registry(root)
    rows = set_summaries(registry)
    if as_json:
        print_json(rows)
        return
    keys = ["number", "name", "experiments", "running", "crashed", "failed", "last_activity"]
    if as_csv:
        print_csv(keys, ([r[k] for k in keys] for r in rows))
        return
    if not rows:
        note(f"no experiment sets yet in {registry.path}")
        return
    table = Table(["#", "name", "experiments", "running", "crashed", "failed",
                   "last activity"], right=[True, False, True, True, True, True, False])
    for r in rows:
        table.add([
            str(r["number"]), r["name"], str(r["experiments"]),
            (str(r["running"]), "cyan" if r["running"] else "dim"),
            (str(r["crashed"]), "bold magenta" if r["crashed"] else "dim"),
            (str(r["failed"]), "red" if r["failed"] else "dim"),
            fmt_time(r["last_activity"]),
        ])
    table.print()


# -- the experiments ----------------------------------------------------------------------------

def _search(registry: Registry, set_number: int | None, where: str | None,
            order_by: str | None, limit: int | None) -> list[dict[str, Any]]:
    """Records (without the package list) with their effective status, as lineage.search."""
    from ..api import search

    found = search(set_number, where, order_by, limit, root=registry.path)
    return [with_status(registry, r) for r in found.to_records()]


def _list_experiments(root: str | None, set_ref: str | None, where: str | None,
                      order_by: str | None, limit: int | None, columns: str | None,
                      all_params: bool, as_json: bool, as_csv: bool) -> None:
    registry = open_registry(root)
    set_record = find_set(registry, set_ref) if set_ref is not None else None
    set_number = set_record["number"] if set_record else None
    records = _search(registry, set_number, where, order_by, limit)
    if as_json:
        print_json(records)
        return
    chosen = _choose_columns(records, set_number is None, columns, all_params)
    if as_csv:
        getters = [_accessor(c) for c in chosen]
        print_csv(chosen, ([get(r) for get in getters] for r in records))
        return
    if not records:
        what = f"set {set_number} ({set_record['name']!r})" if set_record else "any set"
        note(f"no experiments in {what}" + (f" match {where!r}" if where else ""))
        return
    _experiments_table(records, chosen, set_record).print()


def _choose_columns(records: list[dict[str, Any]], all_sets: bool, columns: str | None,
                    all_params: bool) -> list[str]:
    keys: dict[str, dict[str, None]] = {kind: {} for kind in cols.SOURCES}
    for r in records:
        for kind, source in cols.SOURCES.items():
            keys[kind].update(dict.fromkeys(r.get(source) or ()))
    if columns is not None:
        offered = cols.available(keys, _TOP_COLUMNS)

        def unknown(item: str) -> list[str]:
            prefix, dot, key = item.partition(".")
            if dot and key and prefix in _PREFIXES:
                # params.batch size, unquoted, names the key "batch size"; a field no listed
                # record has is an empty column.
                try:
                    return [str(query.parse_field(item))]
                except QueryError:
                    kind = "params" if prefix == "hyperparameters" else prefix
                    return [str(query.Field(kind, key))]
            raise click.BadParameter(
                f"unknown column {item!r}; columns: {', '.join(offered)}",
                param_hint="'--columns'",
            )

        return cols.expand(columns, offered, unknown)
    base = list(cols.BASE)
    if all_sets:
        base.insert(0, "set")
    params = sorted(keys["params"])  # in name order, as `lineage compare` shows them
    if not all_params and len(records) > 1:
        params = [k for k in params if _varies(records, k)]
    return base + cols.available({"params": params, "metrics": sorted(keys["metrics"])}, ())


def _varies(records: list[dict[str, Any]], key: str) -> bool:
    values = [(r.get("hyperparameters") or {}).get(key, MISSING) for r in records]
    first = values[0]
    return any(v is MISSING or first is MISSING or v != first or type(v) is not type(first)
               for v in values[1:])


def _accessor(column: str) -> Callable[[dict[str, Any]], Any]:
    """A function reading one column's value from a record (MISSING when absent)."""
    if column == "set":
        return lambda r: r["set"]["number"]
    prefix, dot, _ = column.partition(".")
    if dot and prefix in _PREFIXES:
        source = _PREFIXES[prefix]
        key = query.parse_field(column).key  # params.`a b` names the key "a b"

        def get(r: dict[str, Any]) -> Any:
            values = r.get(source)
            if not values:
                return MISSING
            if key in values:
                return values[key]
            node: Any = values
            for part in key.split("."):  # params.a.b: the key "a.b", else nested a -> b
                if not isinstance(node, dict) or part not in node:
                    return MISSING
                node = node[part]
            return node
        return get
    return lambda r: r.get(column, MISSING)


def _fmt_cell(value: Any) -> str:
    """``fmt``, quicker for the common types (it runs once per cell of 10,000 rows)."""
    kind = type(value)
    if kind is float:
        return f"{value:.4g}"
    if kind is int:
        return str(value)
    if kind is str and "\n" not in value:
        return value
    return "-" if value is MISSING else fmt(value)


def _experiments_table(records: list[dict[str, Any]], columns: list[str],
                       set_record: dict[str, Any] | None) -> Table:
    title = None
    if set_record is not None:
        title = f"Set {set_record['number']}: {set_record['name']} ({len(records)} shown)"
    table = Table(["#" if c == "number" else c for c in columns], title=title)
    texts: list[list[str]] = []
    for j, column in enumerate(columns):
        values = list(map(_accessor(column), records))
        table.right[j] = column not in ("created", "ended") and all(
            v is MISSING or type(v) in (int, float) for v in values)
        if column in ("status", "created", "ended", "duration"):
            cells = [cell(column, v) for v in values]
            texts.append([text for text, _ in cells])
            for i, (_, style) in enumerate(cells):
                if style:
                    table.styles[i, j] = style
        else:
            texts.append(list(map(_fmt_cell, values)))
            for i, v in enumerate(values):
                if v is MISSING:
                    table.styles[i, j] = "dim"
    table.rows = [list(row) for row in zip(*texts, strict=True)]
    table.hint = ("wider than the terminal: pick columns with --columns (e.g. "
                  "name,metrics.*), or page it with | less -S")
    return table
