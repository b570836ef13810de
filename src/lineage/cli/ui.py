"""``lineage ui``: the local web UI on the registry."""

from __future__ import annotations

import sys

import click

from .options import common


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address exposes every "
                   "experiment to the network (a warning is printed).")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name the browser may use to reach the UI (behind a proxy, "
                   "or with --host 0.0.0.0); loopback names are always allowed.")
@click.option("--get", "get_path", metavar="PATH",
              help="Answer one GET request (e.g. /sets.json) on stdout and exit, without "
                   "opening a port.")
@common()
def ui_command(host: str, port: int, allow_hosts: tuple[str, ...], get_path: str | None,
               root: str | None, as_json: bool) -> None:
    """Start the web UI: browse sets, sort and filter experiments, compare them, read
    release notes and notebooks, follow running experiments live.

    It listens on 127.0.0.1 only, unless --host says otherwise, and never makes a request
    anywhere. Everything is read-only except tags and aliases. --json is accepted for
    symmetry and ignored (every page has a JSON twin: add .json to its path).

    Example:

    \b
        lineage ui
        lineage ui --root ~/project --port 9000
        lineage ui --get /sets.json
    """
    from ..registry import find_root
    from ..web.app import create_app
    from ..web.server import bind, exposure_warning, get, main_loop_message, serve, url_for

    registry = find_root(root)
    if get_path is not None:
        app = create_app(registry)
        status, _, body = get(app, get_path if get_path.startswith("/") else "/" + get_path)
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        if status >= 400:
            raise click.exceptions.Exit(1)
        return
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port, "
            "or --port 0 for any free one") from None
    actual = sock.getsockname()[1]
    extra = list(allow_hosts)
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        extra.append(host)
    else:
        import socket

        extra += [socket.gethostname(), socket.getfqdn()]
    app = create_app(registry, allowed_hosts=extra, port=actual)
    warning = exposure_warning(host, actual)
    if warning:
        click.echo(click.style(warning, fg="yellow"), err=True)
    main_loop_message(url_for(host, actual), str(registry))
    serve(app, sock)
