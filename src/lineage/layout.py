"""Every path and file name of the registry format, in one place.

No other module builds registry paths by hand: they ask this one. See docs/format.md.

    .lineage/
    ├── lineage.json                  {"format": 1}
    ├── index.sqlite                  derived cache, rebuilt from the JSON files
    ├── objects/ab/cdef…              content-addressed blobs (blake3 of the bytes)
    └── experiment_set_N/
        ├── set.json
        └── experiment_M/
            ├── experiment.json       the commit point
            ├── data/data.joblib      model/model.joblib, results/results.pickle, …
            │                         (or data.npy/.npz/.parquet, model.skops/.pt, …)
            ├── metrics/metrics.jsonl step metrics, one JSON object a line
            └── provenance/           entry script source, uncommitted git diff
"""

from __future__ import annotations

import re
from pathlib import Path

FORMAT = 1
DIRNAME = ".lineage"
MARKER = "lineage.json"
INDEX = "index.sqlite"
OBJECTS = "objects"
STAGING = "tmp"  # inside objects/: partially written blobs, never listed
FINGERPRINTS = "fingerprints"  # data fingerprint -> the object its data was stored as
LOCK = ".lock"  # kernel advisory lock file at the registry root
OBJECTS_LOCK = ".objects.lock"  # shared by registrations, exclusive for gc
SET_PREFIX = "experiment_set_"
EXPERIMENT_PREFIX = "experiment_"
SET_JSON = "set.json"
EXPERIMENT_JSON = "experiment.json"
ALIASES = "aliases.json"  # per registry: which experiment holds which alias
EXTRA_TAGS = "tags.json"  # per experiment: tags added after registration
NOTES = "notes.md"  # per experiment: notes added after registration

#: Seed names of the five standard artifacts (role -> path inside the experiment folder).
ARTIFACTS: dict[str, str] = {
    "data": "data/data.joblib",
    "exploration": "exploration/notebook.ipynb",
    "model": "model/model.joblib",
    "releasenotes": "releasenotes/releasenotes.md",
    "results": "results/results.pickle",
}
EXPLORATION_SCRIPT = "exploration/script.py"
RESULTS_JSON = "results/results.json"
METRICS = "metrics/metrics.jsonl"
PROVENANCE_DIR = "provenance"
GIT_DIFF = "provenance/git.diff"
EXTRA_DIR = "artifacts"  # register(artifacts={...}) lands under artifacts/<name>

_SET_RE = re.compile(r"experiment_set_([1-9][0-9]*)")
_EXPERIMENT_RE = re.compile(r"experiment_([1-9][0-9]*)")


def marker(root: Path) -> Path:
    return root / MARKER


def index(root: Path) -> Path:
    return root / INDEX


def lock(root: Path) -> Path:
    return root / LOCK


def objects_lock(root: Path) -> Path:
    return root / OBJECTS_LOCK


def aliases(root: Path) -> Path:
    return root / ALIASES


def objects(root: Path) -> Path:
    return root / OBJECTS


def staging(root: Path) -> Path:
    return root / OBJECTS / STAGING


def object_path(root: Path, digest: str) -> Path:
    """Where the blob with this hex digest lives: ``objects/ab/cdef…``."""
    return root / OBJECTS / digest[:2] / digest[2:]


def fingerprint_path(root: Path, fingerprint: str, serializer: str = "joblib") -> Path:
    """Which object holds the data with this fingerprint, stored with this serializer.

    ``fingerprints/ab/cdef….json`` for joblib (the default, and the name before other
    serializers existed), ``fingerprints/ab/cdef….npz.json`` for the others: the same data
    stored as joblib and as npz are two different objects.
    """
    hexdigest = fingerprint.partition(":")[2] or fingerprint
    kind = "" if serializer == "joblib" else f".{serializer}"
    return root / FINGERPRINTS / hexdigest[:2] / f"{hexdigest[2:]}{kind}.json"


def sketch_path(root: Path, sketch: str, serializer: str = "joblib") -> Path:
    """An empty file whose presence says data with this sketch was stored with this
    serializer (``fingerprints/sketches/ab/cdef…[.npz]``); absence proves the data is new."""
    hexdigest = sketch.partition(":")[2] or sketch
    kind = "" if serializer == "joblib" else f".{serializer}"
    return root / FINGERPRINTS / "sketches" / hexdigest[:2] / f"{hexdigest[2:]}{kind}"


def set_dir(root: Path, number: int) -> Path:
    return root / f"{SET_PREFIX}{number}"


def set_json(set_path: Path) -> Path:
    return set_path / SET_JSON


def experiment_dir(set_path: Path, number: int) -> Path:
    return set_path / f"{EXPERIMENT_PREFIX}{number}"


def experiment_json(exp_path: Path) -> Path:
    return exp_path / EXPERIMENT_JSON


def extra_tags(exp_path: Path) -> Path:
    return exp_path / EXTRA_TAGS


def notes(exp_path: Path) -> Path:
    return exp_path / NOTES


def artifact(exp_path: Path, relpath: str) -> Path:
    """An artifact's absolute path from its manifest path (always ``/``-separated)."""
    return exp_path.joinpath(*relpath.split("/"))


def script_copy(name: str) -> str:
    """Manifest path of the copied entry script, keeping its file name."""
    return f"{PROVENANCE_DIR}/{name}"


def standard_artifact(role: str, suffix: str) -> str:
    """Manifest path of a standard artifact stored with a serializer's file suffix:
    ``("model", "joblib")`` gives the seed's ``model/model.joblib``, ``("model", "pt")``
    ``model/model.pt``, ``("results", "value.json")`` ``results/results.value.json``."""
    folder = ARTIFACTS[role].split("/")[0]
    return f"{folder}/{folder}.{suffix}"


def extra_artifact(name: str) -> str:
    return f"{EXTRA_DIR}/{name}"


def extra_artifact_file(name: str, relpath: str) -> str:
    """A file of a folder given as ``artifacts={name: folder}``: ``artifacts/<name>/<relpath>``."""
    return f"{EXTRA_DIR}/{name}/{relpath}"


def set_number(name: str) -> int | None:
    """The N of an ``experiment_set_N`` folder name, or None for any other name."""
    m = _SET_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def experiment_number(name: str) -> int | None:
    """The M of an ``experiment_M`` folder name, or None for any other name."""
    m = _EXPERIMENT_RE.fullmatch(name)
    return int(m.group(1)) if m else None
