"""``Experiment.register()``: check everything, stage every artifact, then commit.

Order matters for the invariants in docs/design.md: nothing is written while input is being
checked; artifacts are durable in ``objects/`` and linked before ``experiment.json`` says
``registered`` and lists them; a process killed anywhere in between leaves a record that
still says ``running`` (shown as crashed), never a registered one with missing files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import artifacts as arts
from . import layout, provenance, releasenotes, results, serializers, validation
from .errors import ArtifactError, ValidationError

if TYPE_CHECKING:
    from .experiment import Experiment


def register(exp: Experiment, **arguments: Any) -> None:
    """Register ``exp`` while holding the objects lock shared: gc, which takes it exclusively,
    cannot remove an object between this run reusing or publishing it and the record that
    lists it being written."""
    from ._fs import locked

    with locked(layout.objects_lock(exp._registry.path), shared=True):
        _register(exp, **arguments)


def _register(
    exp: Experiment,
    *,
    model: Any,
    data: Any,
    exploration: str | os.PathLike[str] | None,
    releasenotes: str | os.PathLike[str] | None,
    results: Any,
    extra: dict[str, Any] | None,
    safe: bool = False,
) -> None:
    # 1. Check input and choose every serializer; nothing is written yet.
    if not isinstance(safe, bool):
        raise ValidationError(f"safe must be True or False, not {safe!r}")
    tags = validation.mapping(exp.tags, "tags")
    exploration_file = (
        arts.check_readable_file(exploration, "exploration") if exploration is not None else None
    )
    notes_file = (
        arts.check_readable_file(releasenotes, "releasenotes")
        if isinstance(releasenotes, os.PathLike)
        else None
    )
    if releasenotes is not None and notes_file is None and not isinstance(releasenotes, str):
        raise ArtifactError(
            f"releasenotes must be Markdown text or a path, not {type(releasenotes).__name__}"
        )
    model_as = serializers.choose(model, "model", safe=safe) if model is not None else None
    data_as = serializers.choose(data, "data", safe=safe) if data is not None else None
    results_as = (
        serializers.choose(results, "results", safe=safe) if results is not None else None
    )
    extra_items = _check_extra(extra or {}, safe)
    parsed = _results_summary(results)

    # 2. Stage every artifact in private files; a failure discards them all.
    root = exp._registry.path
    staged: list[arts.Pending] = []
    data_summary: dict[str, Any] | None = None  # kept on exp only once registered
    data_sketch = None
    try:
        if model_as is not None:
            path = _standard_path("model", model_as)
            staged.append(arts.stage_object(root, "model", model, path, model_as))
        if data_as is not None:
            data_summary, pending, data_sketch = _stage_data(exp, root, data, data_as)
            staged.append(pending)
        if exploration_file is not None:
            path = arts.exploration_path(exploration_file)
            staged.append(arts.stage_file(root, "exploration", exploration_file, path))
        elif exploration is None:
            staged.extend(_running_notebook(exp, root))
        if results_as is not None:
            path = _standard_path("results", results_as)
            staged.append(arts.stage_object(root, "results", results, path, results_as))
            if parsed is not None:
                staged.append(
                    arts.stage_bytes(
                        root, "results-json", _json_bytes(parsed), layout.RESULTS_JSON,
                        serializer="json",
                    )
                )
        for name, value, how in extra_items:
            target = layout.extra_artifact(name)
            if isinstance(how, serializers.Serializer):
                staged.append(arts.stage_object(root, "artifact", value, target, how))
            elif how is None:
                staged.append(arts.stage_file(root, "artifact", Path(value), target))
            else:  # a folder: every file under it, never following a link
                for source, rel in how:
                    staged.append(arts.stage_file(
                        root, "artifact", source, layout.extra_artifact_file(name, rel),
                        follow_symlinks=False,
                    ))

        exp._flush(record=False)
        snapshot_provenance = _provenance(exp, root, staged)
        record_fields = _final_fields(exp, tags, parsed, snapshot_provenance, data_summary)

        if releasenotes is not None:
            text = _release_text(exp, releasenotes, notes_file, record_fields)
            staged.append(
                arts.stage_bytes(
                    root, "releasenotes", text.encode("utf-8"), layout.ARTIFACTS["releasenotes"],
                    serializer="text",
                )
            )
    except BaseException:
        arts.discard(staged)
        raise

    # 3. Commit: publish and link blobs, then the record that lists them. A failure here
    # (disk full, a file in the way) leaves the record running and no staged file behind.
    try:
        entries = arts.commit(root, exp._path, staged)
    except BaseException:
        arts.discard(staged)
        raise
    if layout.artifact(exp._path, layout.METRICS).exists():
        entries.append(arts.manifest_entry_for_file("metrics", exp._path, layout.METRICS))
    fingerprint = (data_summary or {}).get("fingerprint")
    for entry in entries:
        if fingerprint and entry["role"] == "data" and not entry.get("reused"):
            arts.remember(root, fingerprint, entry, data_sketch)
    record_fields["artifacts"] = entries
    record_fields["step_metrics"] = {k: dict(v) for k, v in exp._step_summary.items()}
    exp._data_summary = data_summary
    exp._finish("registered", **record_fields)


def _standard_path(role: str, serializer: serializers.Serializer) -> str:
    """``model/model.joblib``, ``model/model.pt``, ``data/data.npz``…: the role's file."""
    return layout.standard_artifact(role, serializers.artifact_suffix(serializer, role))


#: Data at least this large whose sketch is new is fingerprinted while it is serialized.
OVERLAP_BYTES = 64 * 1024 * 1024


def _stage_data(
    exp: Experiment, root: Path, data: Any, serializer: serializers.Serializer
) -> tuple[dict[str, Any], arts.Pending, str | None]:
    """Describe, fingerprint and stage the data; returns its summary, the pending object and
    its sketch (to remember at commit).

    Data stored before with the same serializer is reused, not written again. Large data
    whose sketch was never stored is certainly new: it is fingerprinted on another thread
    while it is serialized, instead of before (a gigabyte is then ready ~25% sooner).
    """
    from .fingerprint import fingerprint, sketch

    summary = serializers.describe_data(data)
    path = _standard_path("data", serializer)
    data_sketch = sketch(data) if (arts.nbytes(data) or 0) >= OVERLAP_BYTES else None
    if arts.surely_new(root, data_sketch, serializer.name):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="lineage-fingerprint") as pool:
            fingerprinting = pool.submit(fingerprint, data)
            pending = arts.stage_object(root, "data", data, path, serializer)
            try:
                fp = fingerprinting.result()
            except BaseException:
                pending.staged.discard()
                raise
    else:
        fp = fingerprint(data)
        reused = arts.reuse(
            root, "data", path, fp, serializer.name, serializers.type_name(data)
        ) if fp is not None else None
        pending = reused or arts.stage_object(root, "data", data, path, serializer)
    if fp is not None:
        summary["fingerprint"] = fp
        try:
            _check_data_version(exp, fp)
        except BaseException:  # a warning turned into an error
            pending.staged.discard()
            raise
    return summary, pending, data_sketch


def _running_notebook(exp: Experiment, root: Path) -> list[arts.Pending]:
    """In a Jupyter kernel, the running notebook as ``exploration/notebook.ipynb``: its file,
    or (when the file is unknown or gone) the cells the kernel executed. Never fails the run."""
    notebook = provenance.running_notebook()
    if notebook is None:
        return []
    path = layout.ARTIFACTS["exploration"]
    if notebook.path is not None:
        try:
            pending = arts.stage_file(
                root, "exploration", Path(notebook.path), path, captured="notebook file"
            )
        except (ArtifactError, OSError) as exc:
            _note(exp, f"exploration: the running notebook could not be copied: {exc}")
            return []
        return [pending]
    assert notebook.cells is not None
    pending = arts.stage_bytes(
        root, "exploration", notebook.cells, path, captured="executed cells"
    )
    if notebook.warning:
        _note(exp, notebook.warning)
    return [pending]


def _note(exp: Experiment, message: str) -> None:
    """A warning kept in the record only (capture problems never interrupt the user)."""
    if message not in exp._record["warnings"]:
        exp._record["warnings"].append(message)


def _check_data_version(exp: Experiment, fingerprint: str) -> None:
    """Warn when a data_version is reused for other data, or this data got a new version."""
    version = exp._record.get("data_version")
    if version is None:
        return
    from . import query

    index = exp._registry.synced_index()
    node = query.parse("status = 'registered' and data_version exists")
    clash = query.Or((
        query.Compare(query.Field("top", "data_version"), "=", version),
        query.Compare(query.Field("top", "data_fingerprint"), "=", fingerprint),
    ))
    for other in index.search(query.And((node, clash)), limit=50):
        other_fp = (other.get("data") or {}).get("fingerprint")
        where = f"experiment {other['set']['number']}/{other['number']}"
        if other["data_version"] == version and other_fp and other_fp != fingerprint:
            message = (
                f"data_version {version!r} was registered with different data by {where}; "
                "give changed data a new data_version so versions can be trusted"
            )
        elif other["data_version"] != version and other_fp == fingerprint:
            message = (
                f"this data was registered as data_version {other['data_version']!r} by "
                f"{where}; here it is called {version!r}"
            )
        else:
            continue
        _warn(exp, message)
        return


def _warn(exp: Experiment, message: str) -> None:
    import warnings

    from .errors import LineageWarning

    exp._record["warnings"].append(message)
    warnings.warn(message, LineageWarning, stacklevel=5)


ExtraItem = tuple[str, Any, "serializers.Serializer | list[tuple[Path, str]] | None"]


def _check_extra(extra: dict[str, Any], safe: bool) -> list[ExtraItem]:
    """``(name, value, how)``: how is the serializer of an object, the files of a folder,
    or None for a single file."""
    if not isinstance(extra, dict):
        raise ArtifactError(f"artifacts must be a dict of name -> path or object, not {extra!r}")
    items: list[ExtraItem] = []
    for name, value in extra.items():
        validation.name(name, "artifact name")
        if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise ArtifactError(
                f"artifact name {name!r} must be a plain file name (no slashes, not hidden)"
            )
        label = f"artifact {name!r}"
        if isinstance(value, (str, os.PathLike)):
            path = Path(value).expanduser()
            if path.is_dir():
                items.append((name, value, arts.folder_files(path, label)))
                continue
            arts.check_readable_file(value, label)
            items.append((name, value, None))
        else:
            items.append((name, value, serializers.choose(value, "artifact", safe=safe,
                                                          label=label)))
    return items


def _results_summary(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return results.parse_results(obj)


def _json_bytes(obj: Any) -> bytes:
    from ._fs import dumps

    return dumps(obj)


def _provenance(exp: Experiment, root: Path, staged: list[arts.Pending]) -> dict[str, Any]:
    """Provenance for the record; stages the script copy and uncommitted git diff."""
    warnings: list[str] = []
    info: dict[str, Any] = dict(provenance.static_info())
    info["packages"] = provenance.packages()
    script, source, script_warnings = provenance.script_info()
    if any(p.info.get("captured") == "executed cells" for p in staged):
        # the notebook's cells were kept instead (its own warning says so)
        script_warnings = [w for w in script_warnings if w != provenance.NOTEBOOK_PATH_UNKNOWN]
    warnings += script_warnings
    if script is not None and source is not None:
        target = layout.script_copy(script["name"])
        staged.append(arts.stage_bytes(root, "script", source, target, serializer="text"))
        script = {**script, "artifact": target}
    info["script"] = script
    info["cwd"] = os.getcwd()
    git, diff, git_warnings = exp._git.result(timeout=15.0)
    warnings += git_warnings
    if git is not None and diff:
        staged.append(arts.stage_bytes(root, "git-diff", diff, layout.GIT_DIFF, serializer="text"))
        git = {**git, "diff_artifact": layout.GIT_DIFF}
    info["git"] = git
    exp._record["warnings"].extend(w for w in warnings if w not in exp._record["warnings"])
    return info


def _final_fields(
    exp: Experiment,
    tags: dict[str, Any],
    parsed: dict[str, Any] | None,
    info: dict[str, Any],
    data_summary: dict[str, Any] | None,
) -> dict[str, Any]:
    metrics: dict[str, float] = {}
    if parsed is not None:
        metrics.update(results.flat_metrics(parsed))
    metrics.update({k: v["last"] for k, v in exp._step_summary.items()})
    metrics.update(exp._record["metrics"])
    return {
        "tags": tags,
        "metrics": metrics,
        "provenance": info,
        "data": data_summary,
        "results": parsed,
    }


def _release_text(
    exp: Experiment,
    notes: str | os.PathLike[str],
    notes_file: Path | None,
    fields: dict[str, Any],
) -> str:
    if notes_file is not None:
        try:
            return notes_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ArtifactError(
                f"releasenotes file {str(notes)!r} could not be read: {exc}"
            ) from exc
    if isinstance(notes, releasenotes.Draft) and notes.experiment_id == exp.id:
        record = {**exp.record, **fields}
        return releasenotes.render(record, exp._previous())
    return str(notes)
