"""Errors a user can cause. Each message says what to do next.

Everything raised on purpose by bgbench derives from ``BgbenchError`` so that the CLI can
print it as one readable line instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BgbenchError(Exception):
    """Base class for user-facing bgbench errors."""


class UnknownNameError(BgbenchError, KeyError):
    """A task, method or system name that does not exist."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        valid = sorted(valid)
        by_lower = {v.lower(): v for v in valid}
        close = [by_lower[c] for c in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.5)]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"Unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid)}.")
        self.kind, self.name, self.valid, self.suggestions = kind, name, valid, close

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class InvalidSequenceError(BgbenchError, ValueError):
    """A peptide sequence the system builder cannot build."""


class BudgetExceeded(BgbenchError):
    """A method asked for more energy evaluations than its budget allows."""


class DataError(BgbenchError):
    """Reference data is missing, stale or corrupt."""


class InvalidSamplesError(BgbenchError, ValueError):
    """A method returned samples of the wrong shape, dtype or with non-finite values."""


class DeviceError(BgbenchError):
    """A method needs a device (e.g. CUDA) that is not available."""


class UnsupportedForceError(BgbenchError):
    """An OpenMM System contains a force the torch energy does not implement."""
