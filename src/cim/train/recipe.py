"""Training recipes: YAML files mapped onto validated option models, with `key=value` overrides.

Unknown keys and wrong types are errors that name the dotted key and what is valid, before any training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import Field

from cim.errors import CIMError, InputError
from cim.gallery.named import DEFAULT_GALLERY
from cim.options import Options
from cim.reward.options import ScorerOptions
from cim.train.grpo import GRPOOptions
from cim.train.sft import SFTOptions

BUILTIN_RECIPES = Path(__file__).resolve().parent.parent / "recipes"
"""Recipes shipped with the package, loadable by name (e.g. "shapes-tiny")."""


class GRPORecipe(Options):
    """Everything `cim train grpo` needs: policy, gallery, reward options, data and GRPO options."""

    policy: str = "tiny"  # "tiny" (built from scratch) or an HF vision-language model id / folder
    gallery: str = DEFAULT_GALLERY  # a gallery folder, or a cached shapes gallery "shapes-<count>[-<pooling>]"
    text_encoder: str | None = None  # when set, must match the gallery's manifest
    image_encoder: str | None = None
    train_data: str = "shapes"  # "shapes" (train split), "shapes-gallery" (gallery scenes, by id) or a JSONL path
    train_scenes: int = Field(2000, ge=1)  # with train_data "shapes"
    image_size: int = Field(84, ge=1)  # what the policy sees (shapes)
    reward_image_size: int = Field(128, ge=1)  # what the reward's image encoder sees (the gallery's resolution)
    reward: ScorerOptions = ScorerOptions()
    grpo: GRPOOptions = GRPOOptions()


class SFTRecipe(Options):
    """Everything `cim train sft` needs: the policy to start from, the captions to imitate, SFT options."""

    policy: str = "tiny"  # "tiny" (built from scratch) or an HF vision-language model id / folder
    train_scenes: int = Field(2000, ge=1)
    level: str = "complete"  # caption level of the targets (cim.shapes.LEVELS, or "lossy": see cim.train.data)
    caption_epochs: int = Field(1, ge=1)  # dataset copies, each with a fresh caption draw
    image_size: int = Field(84, ge=1)
    sft: SFTOptions = SFTOptions()


Recipe = GRPORecipe | SFTRecipe
R = TypeVar("R", GRPORecipe, SFTRecipe)


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


def load_recipe(path: str | Path | None = None, overrides: list[str] = (), kind: type[R] = GRPORecipe) -> R:
    """A `kind` recipe from YAML (a path or a built-in name; the defaults when None), with `section.key=value` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        path = recipe_path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise InputError(f"not valid YAML: {error}", source=str(path)) from error
    if not isinstance(values, dict):
        raise InputError(f"a recipe must be a mapping of keys, got {values!r}", source=str(path))
    for override in overrides:
        _apply_override(values, override)
    try:
        return kind.parse(values, noun="recipe key")
    except CIMError as error:
        raise InputError(str(error), source=str(path) if path else None) from None
