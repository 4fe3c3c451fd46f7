"""`cim train grpo`: a recipe's policy, gallery, reward and data wired into TRL's GRPOTrainer, resumable."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from cim.errors import EncoderMismatchError, InputError
from cim.io import atomic_write, write_json
from cim.reward.scorer import CIMScorer
from cim.train.recipe import DEFAULT_SHAPES_GALLERY, GRPORecipe, recipe_dict

CHECKPOINTS = "checkpoints"
FINAL = "final"


def _scorer(recipe: GRPORecipe, device: str | None) -> CIMScorer:
    if recipe.gallery == DEFAULT_SHAPES_GALLERY:
        from cim.demo import ensure_shapes_gallery

        gallery: str | Path = ensure_shapes_gallery(20000)
    else:
        gallery = Path(recipe.gallery)
    scorer = CIMScorer(gallery, **dataclasses.asdict(recipe.reward), device=device)
    manifest = scorer.gallery.manifest
    for role, wanted, built in (("text", recipe.text_encoder, manifest.text_encoder), ("image", recipe.image_encoder, manifest.image_encoder)):
        if wanted is not None and wanted != built["spec"]:
            raise EncoderMismatchError(f"the recipe's {role} encoder {wanted!r} is not the gallery's ({built['spec']!r}, {gallery})")
    return scorer


def _policy(recipe: GRPORecipe, out: Path) -> Path:
    if recipe.policy != "tiny":
        return Path(recipe.policy)
    from cim.train.tiny import build_tiny_vlm

    folder = out / "policy-init"
    if not (folder / "config.json").is_file():
        build_tiny_vlm(folder, seed=recipe.grpo.seed)
    return folder


def run_grpo(recipe: GRPORecipe, out: str | Path, resume: bool = False, device: str | None = None) -> Path:
    """Train with GRPO; with `resume`, continue from the last checkpoint in OUT/checkpoints. Returns OUT/final."""
    from transformers.trainer_utils import get_last_checkpoint

    from cim.shapes import split_scenes
    from cim.train.data import grpo_dataset
    from cim.train.grpo import make_grpo_trainer

    out = Path(out)
    saved = out / "recipe.yaml"
    if saved.is_file() and not resume:
        raise InputError("a run is already here; pass --resume to continue it or choose another --out", source=str(out))
    if resume and saved.is_file() and yaml.safe_load(saved.read_text()) != recipe_dict(recipe):
        raise InputError("--resume with a recipe that differs from the run's recipe.yaml", source=str(out))
    scorer = _scorer(recipe, device)
    model_dir = _policy(recipe, out)
    with atomic_write(saved) as stream:
        yaml.safe_dump(recipe_dict(recipe), stream, sort_keys=False)
    dataset = grpo_dataset(split_scenes("train", recipe.train_scenes), recipe.image_size, recipe.reward_image_size)
    trainer = make_grpo_trainer(model_dir, dataset, scorer, out / CHECKPOINTS, recipe.grpo)
    checkpoints = out / CHECKPOINTS
    last = get_last_checkpoint(str(checkpoints)) if resume and checkpoints.is_dir() else None
    trainer.train(resume_from_checkpoint=last)
    trainer.save_model(str(out / FINAL))
    trainer.processing_class.save_pretrained(out / FINAL)
    write_json(out / "log_history.json", json.loads(json.dumps(trainer.state.log_history)))
    return out / FINAL
