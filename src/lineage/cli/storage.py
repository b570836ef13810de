"""The stored bytes: ``lineage verify``, ``lineage gc`` and ``lineage du``.

Thin layers over :mod:`lineage.integrity` and :mod:`lineage.housekeeping`; verify exits 1
when it finds a problem, so scripts and CI can rely on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .address import find_experiment, open_registry
from .options import common
from .output import Table, fmt_size, note, print_json, style, style_err

if TYPE_CHECKING:
    from ..housekeeping import Plan
    from ..integrity import Report
    from ..registry import Registry

EXIT_PROBLEMS = 1


def _scope(registry: Registry, address: str | None) -> tuple[Any, Any]:
    """(set, experiment) for verify: ``SET`` alone is the whole set, ``SET/EXP`` one run.

    Numbers are passed as they are, so a corrupt record is reported rather than refused.
    """
    if address is None:
        return None, None
    if address.isdigit():
        return address, None
    m = re.fullmatch(r"([0-9]+)/([0-9]+)", address)
    if m:
        return m.group(1), m.group(2)
    if "/" not in address and not address.startswith("@"):
        return registry.find_set(address)["number"], None
    record = find_experiment(registry, address)
    return record["set"]["number"], record["number"]


def _shown(report: Report, path: Path) -> str:
    try:
        return path.relative_to(report.root).as_posix()
    except ValueError:
        return str(path)


def _print_report(report: Report) -> None:
    table = Table(["problem", "path", "details"])
    for p in report.problems:
        shown = _shown(report, p.path)
        prefix = f"{report.root.name}/{shown}: "
        detail = p.message[len(prefix):] if p.message.startswith(prefix) else p.message
        table.add([(p.kind, "red"), shown, detail])
    table.print()
    click.echo(style(report.summary(), "bold red"), color=None)


@click.command("verify")
@click.argument("address", metavar="[SET[/EXP]]", required=False)
@click.option("--quick", is_flag=True,
              help="Presence and sizes only (reads no file): seconds for any registry.")
@common()
def verify_command(address: str | None, quick: bool, root: str | None, as_json: bool) -> None:
    """Check that every stored file is what its record says (exit 1 if not).

    Re-hashes every artifact (blake3) and compares it, with its size, to the manifest in
    experiment.json; reports missing, truncated, changed and unlisted files, objects missing
    from or corrupt in the store, hand-edited or unreadable records, and symlinks or special
    files inside the registry (never followed or opened). Without SET, the whole registry,
    and every object in objects/ must hash to its own name.

    Example:

    \b
        lineage verify
        lineage verify 1 --quick
        lineage verify 1/3 --json
    """
    from .. import integrity
    from ..progress import ByteProgress

    registry = open_registry(root)
    set_ref, exp_ref = _scope(registry, address)
    bar: ByteProgress | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ByteProgress("verifying", total=total)
        bar(done - bar.done)

    try:
        report = integrity.verify(registry, set_ref, exp_ref, quick=quick,
                                  progress=None if as_json else progress)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        click.echo(style(report.summary(), "green"), color=None)
    else:
        _print_report(report)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def _age(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from ..errors import ValidationError
    from ..housekeeping import parse_age

    try:
        return parse_age(value)
    except ValidationError as exc:
        raise click.BadParameter(str(exc)) from None


def _print_plan(plan: Plan) -> None:
    table = Table(["remove", "what", "size", "why"], right=[False, False, True, False])
    for item in plan.items:
        what = item.address or item.path.relative_to(plan.root).as_posix()
        table.add([item.kind, what, fmt_size(item.size), item.reason])
    table.print()


def _print_kept(plan: Plan) -> None:
    for reason in plan.kept:
        note(f"kept: {reason}")


@click.command("gc")
@click.option("--older-than", "older_than", default="7d", show_default=True, metavar="AGE",
              callback=_age, help="Remove crashed experiments only when their last write is "
              "this old: 30m, 12h, 7d, 2w, or 0.")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option("--yes", "-y", is_flag=True, help="Remove without asking.")
@common()
def gc_command(older_than: float, dry_run: bool, yes: bool, root: str | None,
               as_json: bool) -> None:
    """Remove what nothing needs, after showing it (and asking, unless --yes).

    Removes objects no experiment's manifest references, staging files of writers that died,
    and experiments that crashed while running (or folders with no experiment.json) whose
    last write is older than --older-than. Objects are all kept while any record cannot be
    read (gc cannot know what it references) or an experiment is running.

    Example:

    \b
        lineage gc --dry-run
        lineage gc --older-than 2d
        lineage gc --yes --json
    """
    from .. import housekeeping

    if as_json and not (dry_run or yes):
        raise click.UsageError("--json cannot ask: pass --dry-run or --yes with it")
    registry = open_registry(root)
    plan = housekeeping.gc(registry, older_than=older_than)
    if not plan.items or dry_run:
        if as_json:
            print_json(plan.to_dict())
            return
        if plan.items:
            _print_plan(plan)
        _print_kept(plan)
        if not plan.items:
            click.echo("Nothing to remove.")
        else:
            click.echo(f"Dry run: {len(plan)} item(s), {fmt_size(plan.size)}; nothing removed.")
        return
    if not as_json:
        _print_plan(plan)
        _print_kept(plan)
    if not yes and not click.confirm(
        f"Remove these {len(plan)} item(s), {fmt_size(plan.size)}?", default=False, err=True
    ):
        click.echo("Nothing removed.")
        return
    done = housekeeping.execute(registry, plan)
    if as_json:
        print_json(done.to_dict())
    else:
        size = sum(i.size for i in done.removed)
        click.echo(f"Removed {len(done.removed)} item(s), {fmt_size(size)}.")
        for reason in done.kept[len(plan.kept):]:
            note(f"kept: {reason}")
    for error in done.errors:
        click.echo(style_err(f"Error: could not remove {error}", "red"), err=True)
    if done.errors:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


@click.command("du")
@common()
def du_command(root: str | None, as_json: bool) -> None:
    """Disk used per set, and what deduplication saved.

    logical: the bytes the manifests list; unique: each stored object once (what the sets
    take); saved: the difference. Below: the object store, what `lineage gc` could remove,
    and the whole registry folder on disk (hard links counted once).

    Example:

    \b
        lineage du
        lineage du --json
    """
    from .. import housekeeping

    registry = open_registry(root)
    usage = housekeeping.du(registry)
    if as_json:
        print_json(usage)
        return
    for problem in usage["problems"]:
        note(f"skipped {problem}")
    table = Table(["set", "name", "experiments", "files", "logical", "unique", "saved"],
                  right=[True, False, True, True, True, True, True])
    total = usage["total"]
    for s in usage["sets"]:
        table.add([str(s["set"]), s["name"] if s["name"] is not None else "-",
                   str(s["experiments"]), str(s["files"]), fmt_size(s["logical_bytes"]),
                   fmt_size(s["unique_bytes"]), fmt_size(s["saved_bytes"])])
    table.end_section()
    table.add([("all", "bold"), "", str(total["experiments"]), str(total["files"]),
               fmt_size(total["logical_bytes"]), fmt_size(total["unique_bytes"]),
               (fmt_size(total["saved_bytes"]), "green")])
    table.print()
    click.echo(
        f"\nobjects: {total['objects']:,}, {fmt_size(total['object_bytes'])}"
        f" ({fmt_size(total['unreferenced_bytes'])} referenced by no experiment: lineage gc)"
    )
    if total["staging_bytes"]:
        click.echo(f"staging: {fmt_size(total['staging_bytes'])}")
    click.echo(f"registry on disk: {fmt_size(total['disk_bytes'])} ({usage['root']})")
