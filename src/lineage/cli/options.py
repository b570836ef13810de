"""The options every command shares: ``--root`` and ``--json``, and ``--csv`` for listings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def common(listing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--root PATH`` and ``--json`` (passed as ``root`` and ``as_json``); with ``listing``,
    ``--csv`` too (``as_csv``)."""
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


def one_format(as_json: bool, as_csv: bool = False) -> None:
    if as_json and as_csv:
        raise click.UsageError("pass either --json or --csv, not both")
