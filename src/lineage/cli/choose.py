"""``lineage compare``, ``best``, ``alias`` and ``tag``: weigh experiments, pick one, mark it."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import click

from ..errors import LineageError
from .address import find_set, load, open_registry, with_status
from .options import common, one_format
from .output import (
    MISSING,
    STATUS_STYLE,
    Cell,
    Table,
    cell,
    color,
    fmt,
    fmt_time,
    note,
    print_csv,
    print_json,
    style,
)

if TYPE_CHECKING:
    from ..comparison import Comparison
    from ..registry import Registry

# comparison.SECTIONS, without importing the comparison code for --help
_SECTIONS = ("experiment", "params", "metrics", "tags", "data", "environment", "packages")


# -- compare ------------------------------------------------------------------------------------

@click.command("compare")
@click.argument("set_ref", metavar="SET")
@click.argument("experiments", nargs=-1, metavar="[EXP]...")
@click.option("--all", "show_all", is_flag=True, help="Also show rows whose values are equal.")
@click.option("--baseline", "-b", metavar="EXP",
              help="Deltas against this experiment (default: the first shown).")
@click.option("--sections", metavar="LIST",
              help=f"Comma-separated sections to show, of: {', '.join(_SECTIONS)}.")
@common(listing=True)
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
    from ..api import compare

    one_format(as_json, as_csv)
    wanted = _parse_sections(sections)
    registry = open_registry(root)
    number = find_set(registry, set_ref)["number"]
    target = registry.find_experiment(number, baseline) if baseline is not None else None
    comparison = compare(number, list(experiments) or None, only_diff=not show_all,
                         root=registry.path)  # warns of the records it skips
    comparison = _as_shown(registry, comparison, target, only_diff=not show_all)
    base = comparison.baseline
    rows = [row for row in comparison.rows if row.section in wanted]
    if as_json:
        data = comparison.to_dict()
        data["rows"] = [row.to_dict() for row in rows]
        print_json(data)
        return
    labels = comparison.labels
    if as_csv:
        print_csv(["section", "key", *labels],
                  ([row.section, row.key, *row.values] for row in rows))
        return
    headers = ["", *[f"{label} (baseline)" if i == base and baseline is not None else label
                     for i, label in enumerate(labels)]]
    table = Table(headers)
    section = None
    for row in rows:
        if section is not None and row.section != section:
            table.end_section()
        section = row.section
        key = row.key if row.section == "experiment" else f"{row.section}.{row.key}"
        cells: list[Cell] = [(key, "bold" if row.section == "experiment" else None)]
        for i, value in enumerate(row.values):
            if row.section == "experiment" and row.key in ("created", "ended"):
                text = fmt_time(value, seconds=True)
            else:
                text = cell(row.key if row.section == "experiment" else "",
                            MISSING if value is None else value)[0]
            value_style = None
            if row.section == "experiment" and row.key == "status":
                value_style = STATUS_STYLE.get(str(value))
            elif row.changed and i != base and value != row.values[base]:
                value_style = "yellow"
            if row.section == "metrics":
                delta = row.deltas[i] if i < len(row.deltas) else None
                if i != base and delta:
                    text += f" ({delta:+.3g})"
            if row.best == i:
                text += " ★"
                value_style = "bold green"
            cells.append((text, value_style))
        table.add(cells)
    table.print()
    hidden = len(comparison.rows) - len(rows) if sections else 0
    if not show_all:
        note("only differences shown; --all shows every row"
             + (f" ({hidden} rows in other sections hidden)" if hidden else ""))


def _as_shown(registry: Registry, comparison: Comparison, target: dict[str, Any] | None,
              only_diff: bool) -> Comparison:
    """``lineage.compare``'s answer as the command shows it: with effective statuses
    (``crashed`` for a run whose process is gone) and deltas against the ``--baseline``
    experiment, put first when it is not among those compared.

    Rebuilt (a pure function, no I/O) only when one of those changes it.
    """
    from ..comparison import compare

    records = [with_status(registry, r) for r in comparison.experiments]
    base = 0
    if target is not None:
        numbers = [r["number"] for r in records]
        if target["number"] in numbers:
            base = numbers.index(target["number"])
        else:
            records.insert(0, with_status(registry, target))
    if base == comparison.baseline and records == comparison.experiments:
        return comparison
    return compare(records, only_diff=only_diff, baseline=base)


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

@click.command("best")
@click.argument("set_ref", metavar="SET")
@click.option("--metric", "-m", required=True, help="The metric to rank by, e.g. f1.")
@click.option("--min", "direction", flag_value="min", help="Lower is better.")
@click.option("--max", "direction", flag_value="max",
              help="Higher is better (the default, except for names like loss, error, rmse).")
@click.option("--where", "-w", metavar="FILTER", help="Only among experiments matching it.")
@click.option("--promote", metavar="ALIAS", help="Also give the best experiment this alias.")
@common()
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
    from ..api import best
    from ..comparison import lower_is_better

    registry = open_registry(root)
    set_record = find_set(registry, set_ref)
    mode = direction or ("min" if lower_is_better(metric) else "max")
    exp = best(set_record["number"], metric, mode, where=where, root=registry.path)
    if promote:
        exp.promote(promote)
    if as_json:
        print_json(with_status(registry, exp.record))
    else:
        value = exp.metrics.get(metric)
        click.echo(f"{style(exp.address, 'bold')}  {exp.name}  {metric} = "
                   f"{style(fmt(value), 'bold green')}", color=color())
        note(f"{'lowest' if mode == 'min' else 'highest'} {metric} of set "
             f"{set_record['number']} ({set_record['name']!r})"
             + (f" among experiments matching {where!r}" if where else ""))
    if promote:
        click.echo(f"{promote} → {exp.address} ({exp.name})", err=as_json)


# -- alias --------------------------------------------------------------------------------------

@click.command("alias")
@click.argument("args", nargs=-1, metavar="[SET/EXP NAME | NAME]")
@click.option("--history", is_flag=True, help="Who held the alias NAME (or every alias) when.")
@click.option("--remove", metavar="NAME", help="Remove the alias NAME.")
@common()
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
    from .. import api

    registry = open_registry(root)
    if remove is not None:
        if args or history:
            raise click.UsageError("--remove NAME takes no other arguments")
        held = registry.alias_target(remove)
        registry.remove_alias(remove)
        if as_json:
            print_json({"alias": remove, "removed": held})
        else:
            click.echo(f"removed {remove} (was {held['set']}/{held['number']})")
        return
    if history:
        if len(args) > 1:
            raise click.UsageError("--history takes at most one alias NAME")
        events = api.alias_history(args[0] if args else None, root=registry.path)
        if as_json:
            print_json(events)
            return
        if not events:
            note("no alias history yet" + (f" for {args[0]!r}" if args else ""))
            return
        table = Table(["when", "alias", "experiment", "previous", "by"])
        for e in events:
            now_held = (f"{e['set']}/{e['number']}", None) if e.get("set") is not None else (
                "(removed)", "dim")
            prev = e.get("previous")
            table.add([fmt_time(e.get("since")), e["alias"], now_held,
                       (f"{prev['set']}/{prev['number']}", None) if prev else ("-", "dim"),
                       str(e.get("by") or "")])
        table.print()
        return
    if len(args) == 2:
        exp = load(registry, args[0])
        previous = registry.aliases()["current"].get(args[1])
        exp.promote(args[1])
        if as_json:
            print_json({"alias": args[1], **registry.alias_target(args[1]),
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
        print_json(current if not args else {"alias": args[0], **current[args[0]]})
        return
    if not current:
        note("no aliases yet; give one with: lineage alias SET/EXP NAME")
        return
    table = Table(["alias", "experiment", "name", "since", "by"])
    for name, held in sorted(current.items()):
        try:
            exp_name = registry.read_record(held["set"], held["number"])["name"]
        except LineageError:
            exp_name = "(unreadable)"
        table.add([(name, "bold"), f"{held['set']}/{held['number']}", exp_name,
                   fmt_time(held.get("since")), str(held.get("by") or "")])
    table.print()


# -- tag ----------------------------------------------------------------------------------------

@click.command("tag")
@click.argument("address", metavar="SET/EXP")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@common()
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
        changes[key] = tag_value(text)
    registry = open_registry(root)
    exp = load(registry, address)
    exp.tag(**changes)
    if as_json:
        print_json(with_status(registry, exp.record))
        return
    tags = exp.tags
    click.echo(f"{exp.address} tags: " + (
        ", ".join(f"{k}={fmt(v)}" for k, v in tags.items()) if tags else "(none)"))


def tag_value(text: str) -> Any:
    """A tag's VALUE: JSON when it parses as finite JSON, else the text; '' removes (None)."""
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
