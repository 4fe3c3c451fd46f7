"""Errors raised for bad input; each names the input and what is wrong.

Every check a user can fix raises a `CIMError` subclass; the CLI turns those (and only those) into a
one-line message and exit code 2. Anything else is a bug and surfaces as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class CIMError(ValueError):
    """Base class of the errors a user can fix by changing their input."""


class InputError(CIMError):
    """A bad input file, line or value; the message names where."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line


class OptionError(CIMError):
    """An option (argument, setting, recipe key) with a value outside what it accepts."""


class EncoderMismatchError(CIMError):
    """Encoders differ from those a gallery was built with."""


class UnknownNameError(OptionError):
    """A name that is not in a registry; the message lists the valid ones."""

    def __init__(self, kind: str, name: object, valid: Iterable[str], sort: bool = True) -> None:
        names = sorted(valid) if sort else list(valid)
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(names)}")


class MissingDependencyError(CIMError, ImportError):
    """An optional package a feature needs is not installed; the message says how to install it."""


def check_choice(kind: str, value: object, valid: Iterable[str]) -> str:
    """Return `value` if it is one of `valid`, else raise UnknownNameError listing them (in their order)."""
    valid = tuple(valid)
    if value not in valid:
        raise UnknownNameError(kind, value, valid, sort=False)
    return value  # type: ignore[return-value]


def check_positive(name: str, value: object) -> None:
    """Raise OptionError unless `value` is an int of at least 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise OptionError(f"{name} must be a positive integer, got {value!r}")
