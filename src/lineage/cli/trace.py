"""``lineage trace``: the lineage of an experiment's data."""

from __future__ import annotations

import click

from .. import api
from .address import load, open_registry
from .options import common
from .output import Table, heading, note, print_json


@click.command("trace")
@click.argument("address", metavar="SET/EXP")
@common()
def trace_command(address: str, root: str | None, as_json: bool) -> None:
    """Which experiments trained on the same data, and which model versions of the set
    came from which data versions.

    The data is matched by its fingerprint (blake3 over its values, shapes, dtypes and
    names), so renamed or re-versioned copies of the same data are found too.

    Example:

    \b
        lineage trace 1/3
        lineage trace @production --json
    """
    registry = open_registry(root)
    exp = load(registry, address)
    found = api.trace(exp.set_number, exp.number, root=registry.path)
    if as_json:
        print_json(found)
        return
    data = found["data"]
    heading(f"Data of {exp.address} {exp.name!r}")
    if not data.get("fingerprint"):
        note("no data fingerprint: no data was registered, or of a type lineage cannot "
             "fingerprint")
    else:
        click.echo(f"  fingerprint  {data['fingerprint']}")
        click.echo(f"  version      {exp._record.get('data_version')}")
        heading("Experiments on the same data")
        table = Table(["experiment", "name", "model version", "data version", "status"])
        for r in found["same_data"]:
            table.add([f"{r['set']['number']}/{r['number']}", r["name"],
                       str(r.get("model_version")), str(r.get("data_version")),
                       r["status"]])
        table.print(indent=2)
    heading(f"Model versions by data version in set {exp.set_number}")
    table = Table(["data version", "model versions (experiment)", "fingerprints"])
    for version, models in found["data_versions"].items():
        table.add([
            version,
            ", ".join(f"{m['model_version']} ({m['experiment']})" for m in models),
            str(len({m["fingerprint"] for m in models if m["fingerprint"]})),
        ])
    table.print(indent=2)
