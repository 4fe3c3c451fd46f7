"""GRPO recipes: YAML files mapped onto validated dataclasses, with `key=value` overrides.

Unknown keys and wrong types are errors that name the key and list what is valid, before any training.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cim.errors import InputError
from cim.reward.scorer import ScorerOptions
from cim.train.grpo import GRPOOptions
from cim.train.sft import SFTOptions

BUILTIN_RECIPES = Path(__file__).resolve().parent.parent / "recipes"
"""Recipes shipped with the package, loadable by name (e.g. "shapes-tiny")."""


@dataclass(frozen=True)
class GRPORecipe:
    """Everything `cim train grpo` needs: policy, gallery, reward options, data and GRPO options."""

    policy: str = "tiny"  # "tiny" (built from scratch) or an HF vision-language model id / folder
    gallery: str = "shapes-20000"  # a gallery folder, or a cached shapes gallery "shapes-<count>[-<pooling>]"
    text_encoder: str | None = None  # when set, must match the gallery's manifest
    image_encoder: str | None = None
    train_data: str = "shapes"  # "shapes" (train split), "shapes-gallery" (gallery scenes, by id) or a JSONL path
    train_scenes: int = 2000  # with train_data "shapes"
    image_size: int = 84  # what the policy sees (shapes)
    reward_image_size: int = 128  # what the reward's image encoder sees (the gallery's resolution)
    reward: ScorerOptions = field(default_factory=ScorerOptions)
    grpo: GRPOOptions = field(default_factory=GRPOOptions)


@dataclass(frozen=True)
class SFTRecipe:
    """Everything `cim train sft` needs: the policy to start from, the captions to imitate, SFT options."""

    policy: str = "tiny"  # "tiny" (built from scratch) or an HF vision-language model id / folder
    train_scenes: int = 2000
    level: str = "complete"  # caption level of the targets (cim.shapes.LEVELS, or "lossy": see cim.train.data)
    caption_epochs: int = 1  # dataset copies, each with a fresh caption draw
    image_size: int = 84
    sft: SFTOptions = field(default_factory=SFTOptions)


Recipe = GRPORecipe | SFTRecipe


def _check_type(path: str, value: Any, annotation: Any) -> Any:
    """Coerce ints to floats where a float is wanted; reject anything else that does not fit."""
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if is_union else (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return value
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if typing.get_origin(option) is tuple and isinstance(value, list | tuple):
            return tuple(value)
        if typing.get_origin(option) is typing.Literal and value in typing.get_args(option):
            return value
        if isinstance(option, type) and isinstance(value, option) and not (option is int and isinstance(value, bool)):
            return value
    expected = getattr(annotation, "__name__", None) if isinstance(annotation, type) else str(annotation)
    raise InputError(f"recipe key {path!r} must be {expected}, got {value!r}")


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    if not isinstance(values, dict):
        raise InputError(f"recipe key {prefix.rstrip('.') or '(top level)'!r} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(f"unknown recipe key {prefix + unknown[0]!r}; valid keys here: {', '.join(fields)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _check_type(prefix + name, value, hint)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        raise InputError(f"recipe {prefix.rstrip('.') or 'top level'}: {error}") from error


def _apply_override(values: dict[str, Any], override: str) -> None:
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise InputError(f"override {override!r} must look like key=value (e.g. grpo.learning_rate=1e-5)")
    *parents, last = key.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise InputError(f"override {override!r}: {part!r} is not a section")
    node[last] = yaml.safe_load(raw)


def builtin_recipe_names() -> list[str]:
    """Names of the recipes shipped with the package."""
    return sorted(path.stem for path in BUILTIN_RECIPES.glob("*.yaml"))


def recipe_path(name_or_path: str | Path) -> Path:
    """A recipe file: a path, or the name of a built-in recipe (see `builtin_recipe_names`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    builtin = BUILTIN_RECIPES / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    raise InputError(f"recipe file not found (built-in recipes: {', '.join(builtin_recipe_names())})", source=str(path))


def load_recipe(path: str | Path | None = None, overrides: list[str] = (), kind: type = GRPORecipe) -> Recipe:
    """A `kind` recipe from YAML (a path or a built-in name; the defaults when None), with `section.key=value` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        path = recipe_path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise InputError(f"not valid YAML: {error}", source=str(path)) from error
    for override in overrides:
        _apply_override(values, override)
    try:
        return _build(kind, values)
    except InputError as error:
        raise InputError(str(error), source=str(path) if path else None) from None


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain YAML-able data (tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(recipe)))
