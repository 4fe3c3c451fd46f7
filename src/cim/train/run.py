"""`cim train sft|grpo`: a recipe wired into TRL's trainers, in a resumable run folder.

A run folder holds recipe.yaml, checkpoints/ (every save_steps), final/ (an HF model folder) and
log_history.json. Starting over an existing run is an error; `resume` continues it with the same recipe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cim.errors import EncoderMismatchError, InputError
from cim.gallery.named import resolve_gallery
from cim.io import atomic_write, write_json
from cim.reward.scorer import CIMScorer
from cim.threads import torch_threads

if TYPE_CHECKING:
    from cim.integrations.served import ServedScorer
from cim.train.recipe import GRPORecipe, Recipe, SFTRecipe

SHAPES_TRAIN_DATA = {"shapes": "train", "shapes-gallery": "gallery"}
"""Shapes prompts by name → split. "shapes-gallery" trains on the gallery's own scenes (their gallery ids reach
the reward, as in the release, whose training images are gallery rows: what official mode needs)."""
CHECKPOINTS = "checkpoints"
FINAL = "final"


def _start_run(out: Path, recipe: Recipe, resume: bool) -> None:
    """Refuse to overwrite a run, or to resume it with another recipe; then record the recipe."""
    saved = out / "recipe.yaml"
    if saved.is_file() and not resume:
        raise InputError("a run is already here; pass --resume to continue it or choose another --out", source=str(out))
    if resume and saved.is_file() and yaml.safe_load(saved.read_text()) != recipe.to_dict():
        raise InputError("--resume with a recipe that differs from the run's recipe.yaml", source=str(out))
    with atomic_write(saved) as stream:
        yaml.safe_dump(recipe.to_dict(), stream, sort_keys=False)


def _policy(policy: str, seed: int, out: Path) -> Path:
    """The starting model folder: an id / folder as given, or the tiny preset built into OUT/policy-init."""
    if policy != "tiny":
        return Path(policy)
    from cim.train.tiny import build_tiny_vlm

    folder = out / "policy-init"
    if not (folder / "config.json").is_file():
        build_tiny_vlm(folder, seed=seed)
    return folder


def _write_log(out: Path, log_history: list[dict[str, Any]]) -> None:
    write_json(out / "log_history.json", json.loads(json.dumps(log_history)))


def _local_device() -> str | None:
    """This process's GPU under a multi-process launcher (each rank scores on its own card)."""
    import os

    import torch

    return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else None


def reward_scorer(recipe: GRPORecipe, device: str | None = None) -> CIMScorer:
    """The recipe's CIMScorer; its gallery must be built with the encoders the recipe names."""
    gallery = resolve_gallery(recipe.gallery)
    scorer = CIMScorer(gallery, recipe.reward, device=device)
    manifest = scorer.gallery.manifest
    for role, wanted, built in (("text", recipe.text_encoder, manifest.text_encoder), ("image", recipe.image_encoder, manifest.image_encoder)):
        if wanted is not None and wanted != built.spec:
            raise EncoderMismatchError(f"the recipe's {role} encoder {wanted!r} is not the gallery's ({built.spec!r}, {gallery})")
    return scorer


def _scorer(recipe: GRPORecipe, device: str | None, reward_url: str | None) -> CIMScorer | ServedScorer:
    """The in-process scorer, or a running `cim serve` at `reward_url`."""
    if reward_url is None:
        return reward_scorer(recipe, device or _local_device())
    from cim.integrations.served import ServedScorer

    return ServedScorer(reward_url, recipe.reward)


def run_grpo(
    recipe: GRPORecipe, out: str | Path, resume: bool = False, device: str | None = None, reward_url: str | None = None
) -> Path:
    """GRPO with the CIM reward (in-process, or through the `cim serve` at `reward_url`); with `resume`,
    continue from the last checkpoint. Returns OUT/final.

    Under a multi-process launcher every rank trains; the main process alone writes the run folder's files
    (the others wait for it), and each rank scores only the completions it generated."""
    import torch
    from accelerate import PartialState

    from cim.shapes import split_scenes
    from cim.train.data import grpo_dataset, jsonl_grpo_dataset
    from cim.train.grpo import make_grpo_trainer
    from cim.train.sft import last_checkpoint

    out = Path(out)
    scorer = _scorer(recipe, device, reward_url)  # encoder, gallery and server errors come before anything is written
    state = PartialState(cpu=not torch.cuda.is_available())  # gloo on CPU-only machines; else each rank thinks it is alone
    with state.main_process_first():  # the others reuse the tiny policy the main process built
        if state.is_main_process:
            _start_run(out, recipe, resume)
        model_dir = _policy(recipe.policy, recipe.grpo.seed, out)
    if recipe.train_data in SHAPES_TRAIN_DATA:
        split = SHAPES_TRAIN_DATA[recipe.train_data]
        dataset = grpo_dataset(split_scenes(split, recipe.train_scenes), recipe.image_size, recipe.reward_image_size,
                               in_gallery=split == "gallery")
    else:
        dataset = jsonl_grpo_dataset(recipe.train_data)
    trainer = make_grpo_trainer(model_dir, dataset, scorer, out / CHECKPOINTS, recipe.grpo)
    with torch_threads(recipe.grpo.threads):
        trainer.train(resume_from_checkpoint=last_checkpoint(out / CHECKPOINTS) if resume else None)
    trainer.save_model(str(out / FINAL))  # the main process saves; every rank waits for it
    if state.is_main_process:
        trainer.processing_class.save_pretrained(out / FINAL)
        _write_log(out, trainer.state.log_history)
    state.wait_for_everyone()
    return out / FINAL


def run_sft(recipe: SFTRecipe, out: str | Path, resume: bool = False) -> Path:
    """SFT on shapes captions of the recipe's level; with `resume`, continue from the last checkpoint."""
    from cim.shapes import split_scenes
    from cim.train.data import sft_dataset
    from cim.train.sft import train_sft

    out = Path(out)
    dataset = sft_dataset(split_scenes("train", recipe.train_scenes), recipe.level, recipe.image_size,
                          seed=recipe.sft.seed, epochs=recipe.caption_epochs)
    _start_run(out, recipe, resume)
    model_dir = _policy(recipe.policy, recipe.sft.seed, out)
    final = train_sft(model_dir, dataset, out / FINAL, recipe.sft, checkpoint_dir=out / CHECKPOINTS, resume=resume)
    state = json.loads((final / "trainer_state.json").read_text())
    _write_log(out, state.get("log_history", []))
    return final
