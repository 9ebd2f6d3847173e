"""Errors raised by project stores and importers.

Every message is a sentence a labeller can read: it names the problem and,
where there is one, the fix. The app shows ``str(exc)``.
"""

from __future__ import annotations

__all__ = [
    "InvalidInput",
    "LockedError",
    "StoreError",
    "UnknownItem",
    "VersionError",
]


class StoreError(Exception):
    """Base class of every error a store or an importer raises on purpose."""


class InvalidInput(StoreError, ValueError):
    """Data, labels or settings that cannot be accepted; nothing was written."""


class UnknownItem(StoreError, KeyError):
    """An item id that is not in the project."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown item"


class VersionError(StoreError):
    """A project (folder, zip or database) written by a newer version, or damaged."""


class LockedError(StoreError):
    """The project is open in another process."""
