"""Looking after the registry itself: ``lineage reindex``."""

from __future__ import annotations

import time

import click

from .address import open_registry
from .options import common
from .output import console, print_json, stderr_is_terminal, warn


@click.command("reindex")
@common()
def reindex_command(root: str | None, as_json: bool) -> None:
    """Rebuild the index (index.sqlite) from the experiment records.

    The index is a cache that lineage keeps up to date by itself; rebuild it after
    copying or editing records by hand, or when a query seems to miss something.

    Example:

    \b
        lineage reindex
        lineage reindex --root /data/project/.lineage
    """
    registry = open_registry(root)
    sets = registry.set_numbers()
    total = sum(len(registry.experiment_numbers(s)) for s in sets)
    started = time.perf_counter()
    index = registry.index
    if stderr_is_terminal() and not as_json and total:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console(stderr=True),
                      transient=True) as bar:
            task = bar.add_task("indexing", total=total)
            problems = index.rebuild(registry, lambda n: bar.advance(task, n))
    else:
        problems = index.rebuild(registry)
    seconds = time.perf_counter() - started
    for problem in problems:
        warn(f"skipped {problem}")
    count = index.count()
    if as_json:
        print_json({"index": str(index.path), "sets": len(sets), "experiments": count,
                    "skipped": [str(p) for p in problems], "seconds": round(seconds, 3)})
    else:
        click.echo(f"indexed {count:,} experiments of {len(sets)} set"
                   f"{'' if len(sets) == 1 else 's'} in {seconds:.2f} s ({index.path})")
