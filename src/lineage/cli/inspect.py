"""``lineage show``, ``lineage notes`` and ``lineage diff``: one experiment, or what changed
between two.

Everything is read from the records and text artifacts (scripts, git diffs, release notes);
nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import LineageError, NotFoundError
from .address import load, open_registry, with_status
from .options import common
from .output import (
    MISSING,
    STATUS_STYLE,
    Table,
    color,
    fmt,
    fmt_duration,
    fmt_size,
    fmt_time,
    heading,
    is_number,
    print_json,
    print_markdown,
    style,
    warn,
)

if TYPE_CHECKING:
    from ..api import LoadedExperiment
    from ..registry import Registry


# -- show ---------------------------------------------------------------------------------------

@click.command("show")
@click.argument("address", metavar="SET/EXP")
@common()
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
    registry = open_registry(root)
    record = with_status(registry, load(registry, address).record)
    if as_json:
        print_json(record)
        return
    _show(registry, record)


def _pairs(pairs: Sequence[tuple[str, Any]], *, styles: dict[str, str] | None = None) -> None:
    table = Table(["key", "value"], show_header=False)
    for key, value in pairs:
        text = value if isinstance(value, str) else fmt(value)
        table.add([(key, None), (text, (styles or {}).get(key))])
    table.print(indent=2)


def _show(registry: Registry, r: dict[str, Any]) -> None:
    status = r["status"]
    title = f"{r['set']['number']}/{r['number']}  {r['name']}"
    click.echo(style(title, "bold") + "  " + style(status, STATUS_STYLE.get(status)),
               color=color())
    meta: list[tuple[str, Any]] = [("set", f"{r['set']['number']} ({r['set'].get('name')})")]
    if r.get("description"):
        meta.append(("description", r["description"]))
    meta += [("model_version", r.get("model_version")), ("data_version", r.get("data_version")),
             ("created", fmt_time(r.get("created"), True)),
             ("ended", fmt_time(r.get("ended"), True)),
             ("duration", fmt_duration(r.get("duration"))), ("id", r.get("id"))]
    if r.get("seed"):
        seed = r["seed"]
        meta.append(("seed", f"{seed.get('value')} ({', '.join(seed.get('libraries') or [])})"))
    held = [name for name, h in sorted(registry.aliases()["current"].items())
            if h.get("id") == r.get("id")]
    if held:
        meta.append(("aliases", ", ".join(held)))
    _pairs(meta, styles={"status": STATUS_STYLE.get(status, "")})

    for title, key in (("params", "hyperparameters"), ("metrics", "metrics"), ("tags", "tags")):
        values = r.get(key) or {}
        if values:
            heading(title)
            _pairs(list(values.items()))
    steps = r.get("step_metrics") or {}
    if steps:
        heading("step metrics")
        table = Table(["name", "count", "steps", "last", "min", "max"],
                      right=[False, True, False, True, True, True])
        for name, s in steps.items():
            table.add([name, fmt(s.get("count")),
                       f"{fmt(s.get('first_step'))}–{fmt(s.get('last_step'))}",
                       fmt(s.get("last")), fmt(s.get("min")), fmt(s.get("max"))])
        table.print(indent=2)

    heading("provenance")
    _pairs(_provenance(r.get("provenance") or {}))

    if r.get("data"):
        heading("data")
        _pairs(_data_summary(r["data"]))

    artifacts = r.get("artifacts") or []
    if artifacts:
        heading("artifacts")
        table = Table(["path", "role", "size", "hash"], right=[False, False, True, False])
        for a in artifacts:
            digest = str(a.get("hash", ""))
            algo, _, hexdigest = digest.partition(":")
            table.add([a.get("path", ""), a.get("role", ""), fmt_size(a.get("size")),
                       f"{algo}:{hexdigest[:12]}" if hexdigest else digest])
        table.print(indent=2)

    if r.get("warnings"):
        heading("warnings")
        for w in r["warnings"]:
            click.echo(style(f"  {w}", "yellow"), color=color())
    error = r.get("error")
    if error:
        heading("error")
        click.echo(style(f"  {error.get('type')}: {error.get('message')}", "red"),
                   color=color())
        if error.get("reason"):
            click.echo(f"  reason: {error['reason']}")
        if error.get("traceback"):
            click.echo(style("  " + str(error["traceback"]).rstrip().replace("\n", "\n  "),
                             "dim"), color=color())


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
            out.append((key, data[key] if isinstance(data[key], str) else fmt(data[key])))
    for i, item in enumerate(data.get("items") or []):
        if isinstance(item, dict):
            parts = [str(item.get("type", "?"))]
            if "shape" in item:
                parts.append("shape " + "×".join(str(d) for d in item["shape"]))
            if "dtype" in item:
                parts.append(str(item["dtype"]))
            out.append((f"[{i}]", ", ".join(parts)))
    return out


# -- notes --------------------------------------------------------------------------------------

@click.command("notes")
@click.argument("address", metavar="SET/EXP")
@click.option("--raw", is_flag=True, help="Print the Markdown source even on a terminal.")
@common()
def notes_command(address: str, raw: bool, root: str | None, as_json: bool) -> None:
    """The release notes of an experiment, as Markdown.

    Rendered on a terminal; the raw Markdown when piped, redirected or with --raw.

    Example:

    \b
        lineage notes 1/2
        lineage notes @production --raw > RELEASE.md
    """
    registry = open_registry(root)
    exp = load(registry, address)
    text = exp.release_notes
    if text is None:
        raise NotFoundError(
            f"experiment {exp.address} has no release notes; pass "
            "releasenotes=exp.draft_release_note() to register() to store them"
        )
    if as_json:
        print_json({"set": exp.set_number, "number": exp.number, "id": exp.id,
                    "name": exp.name, "release_notes": text})
    else:
        print_markdown(text, raw)


# -- diff ---------------------------------------------------------------------------------------

@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@common()
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
    from ..comparison import lower_is_better, package_changes, unified_diff

    registry = open_registry(root)
    ea, eb = load(registry, a), load(registry, b)
    ra, rb = ea.record, eb.record

    def changed(x: dict[str, Any], y: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        return [(k, x.get(k, MISSING), y.get(k, MISSING)) for k in dict.fromkeys([*x, *y])
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
            return None if v is MISSING else v

        print_json({
            "a": {"set": ea.set_number, "number": ea.number, "id": ea.id, "name": ea.name},
            "b": {"set": eb.set_number, "number": eb.number, "id": eb.id, "name": eb.name},
            "versions": [{"key": k, "a": value(x), "b": value(y)} for k, x, y in versions],
            "params": [{"key": k, "a": value(x), "b": value(y)} for k, x, y in params],
            "metrics": [{"key": k, "a": value(x), "b": value(y),
                         "delta": y - x if is_number(x) and is_number(y) else None}
                        for k, x, y in metrics],
            "environment": [{"key": k, "a": value(x), "b": value(y)} for k, x, y in env],
            "packages": [{"name": n, "a": x, "b": y} for n, x, y in packages],
            "script": script,
            "git_diff": git_diff,
        })
        return

    click.echo(f"{style(ea.address, 'bold')} {ea.name}  →  {style(eb.address, 'bold')} "
               f"{eb.name}", color=color())
    nothing = True
    for title, items in (("versions", versions), ("params", params), ("environment", env)):
        if items:
            nothing = False
            heading(title)
            table = Table(["key", "a", "", "b"], show_header=False)
            for k, x, y in items:
                table.add([k, (fmt(x), "red"), "→", (fmt(y), "green")])
            table.print(indent=2)
    if metrics:
        nothing = False
        heading("metrics")
        table = Table(["key", "a", "", "b", "delta"], show_header=False,
                      right=[False, True, False, True, True])
        for k, x, y in metrics:
            delta, delta_style = "", None
            if is_number(x) and is_number(y):
                d = y - x
                delta = f"{d:+.4g}"
                better = d < 0 if lower_is_better(k) else d > 0
                delta_style = "green" if better else "red"
            table.add([k, fmt(x), "→", fmt(y), (delta, delta_style)])
        table.print(indent=2)
    if packages:
        nothing = False
        heading("packages")
        table = Table(["name", "a", "", "b"], show_header=False)
        for name, x, y in packages:
            table.add([name, (x or "(not installed)", "red"), "→",
                       (y or "(not installed)", "green")])
        table.print(indent=2)
    for title, text in (("script", script), ("uncommitted changes (git diff)", git_diff)):
        if text:
            nothing = False
            heading(title)
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


def _texts(ea: LoadedExperiment, eb: LoadedExperiment,
           which: Callable[[dict[str, Any]], str | None]) -> tuple[str, str, str, str]:
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
                warn(f"{exp.address}: could not read {path} ({exc})")
        out.append(text)
        labels.append(f"{exp.address}/{path}" if path else f"{exp.address} (none captured)")
    return out[0], out[1], labels[0], labels[1]


def _print_diff(text: str) -> None:
    colored = color()
    lines = []
    for line in text.splitlines():
        line_style = None
        if line.startswith(("+++", "---")):
            line_style = "bold"
        elif line.startswith("+"):
            line_style = "green"
        elif line.startswith("-"):
            line_style = "red"
        elif line.startswith("@@"):
            line_style = "cyan"
        lines.append(style(line, line_style) if colored else line)
    click.echo("\n".join(lines), color=colored)
