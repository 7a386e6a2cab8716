"""One exception hierarchy for everything behemb raises on purpose.

Every error a user can cause derives from :class:`BehembError`, so front ends (the CLI, the app) can catch
that one base and show its message, while programming errors still surface as ordinary tracebacks.
"""

from __future__ import annotations


class BehembError(Exception):
    """Base of every error behemb raises deliberately; the message is meant for the user."""


class InputError(BehembError, ValueError):
    """Bad input data: names the file, the line or row and the field, and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ConfigError(BehembError, ValueError):
    """A method configuration or an option is invalid; the message names the parameter and the value."""


class FitError(BehembError, RuntimeError):
    """Training produced a result that fails its numerical post-conditions (NaN, zero rows, wrong shape)."""


class EngineError(BehembError, RuntimeError):
    """The compute engine a job runs on failed (the Spark driver's JVM stopped, most often out of memory)."""


class StoreError(BehembError):
    """A problem with the file store: missing version, bad name, existing version, unreadable manifest."""


class VersionExistsError(StoreError):
    """A version with this name already exists; versions are immutable and never overwritten."""


class IntegrityError(StoreError):
    """A stored file does not match the checksum recorded in its manifest (tampered or corrupted)."""


class Cancelled(BehembError):
    """Raised by a progress callback to stop a running job; the library lets it propagate untouched."""


class PermissionDenied(StoreError):
    """The store's policy does not let this person do this (a missing role, their own version, sign-in required);
    the message says who may."""
