"""Validated, frozen settings: the base of reward options, recipes and server settings.

Every field is strictly typed (an int is accepted for a float, nothing else is coerced). A bad value,
a wrong type or an unknown key raises `OptionError` naming the key and what it accepts, so the same
message reaches a user whether the value came from a flag or a recipe file.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from cim.errors import OptionError

T = TypeVar("T", bound="Options")


def _field_model(model: type[BaseModel] | None, name: object) -> type[BaseModel] | None:
    """The Options class a key of `model` holds, if any (to list the valid keys of nested sections)."""
    if model is None or not isinstance(name, str) or name not in model.model_fields:
        return None
    annotation = model.model_fields[name].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def explain(error: ValidationError, model: type[BaseModel], noun: str = "option") -> str:
    """One clause per problem: the dotted key, what is wrong, and (for unknown keys) the valid keys there."""
    clauses = []
    for problem in error.errors():
        owner: type[BaseModel] | None = model
        for part in problem["loc"][:-1]:
            owner = _field_model(owner, part)
        key = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            valid = ", ".join(owner.model_fields) if owner is not None else "?"
            clauses.append(f"unknown {noun} {key!r}; valid keys here: {valid}")
            continue
        message = problem["msg"].removeprefix("Value error, ")
        if not key:
            clauses.append(message)
            continue
        shown = "a mapping" if isinstance(problem["input"], dict) else repr(problem["input"])
        clauses.append(f"{noun} {key!r}: {message} (got {shown})")
    return "; ".join(clauses)


class Options(BaseModel):
    """Frozen, strictly typed settings. `parse` (for values from users: flags, files) raises OptionError naming
    the key and what it accepts; direct construction raises pydantic's ValidationError."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @classmethod
    def parse(cls: type[T], values: Any, noun: str = "option") -> T:
        """Options from plain data (e.g. a YAML mapping); errors call each dotted key a `noun`."""
        if not isinstance(values, dict):
            raise OptionError(f"{cls.__name__} needs a mapping of keys, got {values!r}")
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise OptionError(explain(error, cls, noun)) from None

    def replace(self: T, **changes: Any) -> T:
        """A validated copy with some fields changed."""
        return self.parse({**dict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able data (tuples as lists, paths as strings)."""
        return self.model_dump(mode="json")
