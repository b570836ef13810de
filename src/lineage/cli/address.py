"""Which registry and which experiment a command means: ``--root``, ``SET``, ``SET/EXP``,
``@alias``.

The lookups are the registry's own; what is added here is the command line's grammar (names
holding ``/``, a set alone meaning its newest experiment) and errors that list what exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ExperimentNotFoundError, SetNotFoundError

if TYPE_CHECKING:
    from ..api import LoadedExperiment
    from ..registry import Registry


def open_registry(root: str | None) -> Registry:
    """The registry at ``--root`` (or ``LINEAGE_ROOT``), else the nearest ``.lineage`` up."""
    from ..registry import Registry

    return Registry.open(root)


def _sets_listing(registry: Registry) -> str:
    sets = registry.sets()
    if not sets:
        return "none yet"
    shown = ", ".join(f"{s['number']} ({s.get('name')!r})" for s in sets[-20:])
    return shown if len(sets) <= 20 else f"{len(sets)} in all, the newest {shown}"


def find_set(registry: Registry, ref: str) -> dict[str, Any]:
    """A set by number, name or ``latest``; the error lists the newest 20 sets that exist
    (``Registry.find_set`` lists them all)."""
    try:
        return registry.find_set(ref)
    except SetNotFoundError:
        raise SetNotFoundError(
            f"no experiment set {ref!r} in {registry.path}; sets: {_sets_listing(registry)}"
        ) from None


def find_experiment(registry: Registry, address: str) -> dict[str, Any]:
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
    from ..errors import InvalidNameError
    from ..validation import alias

    try:
        alias(name)
    except InvalidNameError:
        return False
    return True


def load(registry: Registry, address: str) -> LoadedExperiment:
    """The experiment at ``address``, as ``lineage.load()`` returns one."""
    from ..api import LoadedExperiment

    return LoadedExperiment(registry, find_experiment(registry, address))


def with_status(registry: Registry, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its effective status (``crashed`` for a run whose process is gone)."""
    status = registry.effective_status(record)
    return record if status == record.get("status") else {**record, "status": status}
