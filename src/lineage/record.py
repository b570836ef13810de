"""What every view of one experiment record answers the same way: who it is."""

from __future__ import annotations

from typing import Any


class RecordIdentity:
    """Identity properties read from ``self._record`` (an ``experiment.json`` dict)."""

    _record: dict[str, Any]

    @property
    def id(self) -> str:
        """Stable UUID: survives copying the registry; numbers are local to one registry."""
        return str(self._record["id"])

    @property
    def number(self) -> int:
        return int(self._record["number"])

    @property
    def set_number(self) -> int:
        return int(self._record["set"]["number"])

    @property
    def address(self) -> str:
        """``SET/EXP`` as the CLI takes it, e.g. ``1/3``."""
        return f"{self.set_number}/{self.number}"

    @property
    def name(self) -> str:
        return str(self._record["name"])

    @property
    def description(self) -> str:
        return str(self._record.get("description") or "")
