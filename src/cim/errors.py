"""Errors raised for bad input; each names the input and what is wrong."""

from __future__ import annotations


class CIMError(ValueError):
    """Base class of the errors a user can fix by changing their input."""


class InputError(CIMError):
    """A bad input file, line or value; the message names where."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line


class EncoderMismatchError(CIMError):
    """Encoders differ from those a gallery was built with."""


class UnknownNameError(CIMError):
    """A name that is not in a registry; the message lists the valid ones."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")
