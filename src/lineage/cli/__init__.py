"""The ``lineage`` command: list, show, compare and choose experiments at the terminal.

A thin layer over the Python API (``lineage.search``, ``lineage.best``, ``lineage.compare``…):
every answer is the one a Python user gets. See docs/cli.md.

This module is the group: ``main`` (the console script), the exit codes, and the handling
that turns lineage's errors into one ``Error: …`` line and its warnings into ``Warning: …``
lines on stderr. The commands live in modules named for their job::

    output.py    formatting, the table renderer, JSON and CSV      (no commands)
    options.py   --root, --json, --csv                             (no commands)
    address.py   the registry, SET and SET/EXP and @alias lookups  (no commands)
    listing.py   ls, search
    inspect.py   show, notes, diff
    choose.py    compare, best, alias, tag
    maintain.py  reindex

Adding a command is one function in one of them (or a new module), decorated with
``@click.command("name")`` and ``@common()``, and one ``cli.add_command`` line below; raise
lineage's errors and warn with ``output.warn``, the group prints them. Document it in
docs/cli.md (a test checks every command is there).

Kept quick to start: only click and lineage's light modules load at import; rich, the index
(sqlite3) and the comparison code load inside the commands that use them.

Exit codes: 0 success, 1 error, 2 usage (click's own), 3 not found, 4 bad filter,
5 registry problem.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import click

from .. import __version__
from ..errors import LineageError, LineageWarning, NotFoundError, QueryError, RegistryError
from . import choose, inspect, listing, maintain, storage, trace, ui
from .output import style_err

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_QUERY = 4
EXIT_REGISTRY = 5


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
    click.echo(style_err(f"Error: {message}", "red"), err=True)


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """lineage's warnings print as one ``Warning: …`` line each on stderr; work goes on."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", LineageWarning)
        original = warnings.showwarning

        def show(message: Any, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            if issubclass(category, LineageWarning):
                click.echo(style_err(f"Warning: {message}", "yellow"), err=True)
            else:
                original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


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


cli.add_command(listing.ls_command)
cli.add_command(listing.search_command)
cli.add_command(inspect.show_command)
cli.add_command(inspect.notes_command)
cli.add_command(inspect.diff_command)
cli.add_command(choose.compare_command)
cli.add_command(choose.best_command)
cli.add_command(choose.alias_command)
cli.add_command(choose.tag_command)
cli.add_command(maintain.reindex_command)
cli.add_command(trace.trace_command)
cli.add_command(storage.verify_command)
cli.add_command(storage.gc_command)
cli.add_command(storage.du_command)
cli.add_command(ui.ui_command)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``lineage`` console script."""
    import gc

    # A short-lived process that builds many small dicts (one per experiment) and frees
    # them at exit: the cyclic collector would only slow it down (~40% on 10,000 records).
    gc.disable()
    cli.main(args=list(argv) if argv is not None else None, prog_name="lineage")
