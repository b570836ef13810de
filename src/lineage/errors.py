"""Exceptions and warnings raised by lineage.

Every error says what was wrong and how to fix it, and is raised before anything is written.

    LineageError
    ├── ValidationError            (also ValueError) bad input from the caller
    │   ├── InvalidNameError       empty, too long, or control characters in a name
    │   ├── InvalidParameterError  hyperparameters that are not a mapping or not JSON
    │   └── InvalidMetricError     metric names or values that are not finite numbers
    ├── NotFoundError              (also LookupError)
    │   ├── SetNotFoundError
    │   ├── ExperimentNotFoundError
    │   ├── AliasNotFoundError
    │   └── MetricNotFoundError    (also ValidationError) no experiment has that metric
    ├── ArtifactError              an artifact path that is missing or unreadable
    ├── SerializationError         an object that cannot be stored (names its type)
    ├── StorageError               the registry's disk refused a write (full, read-only, I/O)
    ├── StateError                 an operation the experiment's state forbids
    │   └── AlreadyRegisteredError register() twice, or changing a registered record
    ├── RegistryError              the registry on disk cannot be read as expected
    │   ├── CorruptRecordError     a JSON file that is not what lineage wrote (has .path)
    │   └── FormatVersionError     a registry or index from another format version
    ├── QueryError                 (also ValueError) a malformed filter; has .position
    └── IntegrityError             an artifact that does not match its recorded hash

    LineageWarning (UserWarning)
    └── CaptureWarning             provenance that could not be captured; training goes on
"""

from __future__ import annotations

from pathlib import Path


class LineageError(Exception):
    """Base class of every error lineage raises."""


class ValidationError(LineageError, ValueError):
    """Input from the caller that lineage cannot accept."""


class InvalidNameError(ValidationError):
    """A name or description that is empty, too long, or holds control characters."""


class InvalidParameterError(ValidationError):
    """Hyperparameters that are not a mapping or cannot be stored as JSON."""


class InvalidMetricError(ValidationError):
    """A metric whose name is not a string or whose value is not a finite number."""


class NotFoundError(LineageError, LookupError):
    """Something addressed by number, name or alias does not exist."""


class SetNotFoundError(NotFoundError):
    """No experiment set with that number or name."""


class ExperimentNotFoundError(NotFoundError):
    """No experiment with that number or name in the set."""


class AliasNotFoundError(NotFoundError):
    """No experiment holds that alias."""


class MetricNotFoundError(NotFoundError, ValidationError):
    """No experiment in scope has that metric; the message lists the metrics there are."""


class ArtifactError(LineageError):
    """An artifact path that is missing, unreadable or not the expected kind of file."""


class SerializationError(LineageError):
    """An object lineage does not know how to turn into bytes."""


class StorageError(LineageError):
    """Writing into the registry failed: the disk is full, read-only, or failing."""


class StateError(LineageError):
    """An operation that the experiment's current state does not allow."""


class AlreadyRegisteredError(StateError):
    """The experiment is registered; registered experiments are immutable."""


class RegistryError(LineageError):
    """The registry on disk is not in a shape this version of lineage can read."""


class CorruptRecordError(RegistryError):
    """A JSON file in the registry that is missing keys, truncated or not JSON."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class FormatVersionError(RegistryError):
    """The registry (or its index) was written by another format version."""


class QueryError(LineageError, ValueError):
    """A filter or order-by expression that does not parse.

    ``position`` is the 0-based character offset where the problem was found.
    """

    def __init__(self, message: str, query: str = "", position: int = 0) -> None:
        self.query = query
        self.position = position
        self.detail = message
        text = message
        if query:
            text = f"{message} at position {position}:\n  {query}\n  {' ' * position}^"
        super().__init__(text)


class IntegrityError(LineageError):
    """An artifact that is missing or does not match the hash in its manifest."""


class LineageWarning(UserWarning):
    """Base class of lineage's warnings."""


class CaptureWarning(LineageWarning):
    """Provenance (git, packages, script, notebook) that could not be captured."""
