"""Shapes-world datasets in TRL's conversational formats.

GRPO rows: `prompt` (one user turn with the paper's prompt; TRL inserts the image placeholder), `image`
(what the policy sees), `scene_id`, and the columns the CIM reward functions read: `source_id` (a
gallery id, only when the scene is in the reward's gallery) and `source_image` (the image rendered at
the gallery's resolution, when it is not). SFT rows add `completion`: one assistant turn with a target
caption of the scene. `jsonl_grpo_dataset` reads real images from a JSONL instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cim.errors import InputError
from cim.io import read_jsonl
from cim.shapes import (
    LEVELS,
    Facts,
    Scene,
    caption_for_level,
    render_scene,
    scene_facts,
    stable_seed,
    write_caption,
)
from cim.train.tiny import PROMPT

CaptionFn = Callable[[Scene, random.Random], str]
"""Writes a target caption of a scene with the given rng."""

LOSSY = "lossy"
"""The SFT caption level of `lossy_captioner` (accurate facts, many omitted)."""


def caption_messages(prompt: str = PROMPT) -> list[dict[str, str]]:
    """The conversational prompt: one user turn (TRL adds the image in front of the text)."""
    return [{"role": "user", "content": prompt}]


def level_captioner(level: str, shuffle: bool = False) -> CaptionFn:
    """A caption function writing captions of a grammar level (see `cim.shapes.LEVELS`) or "lossy"."""
    if level == LOSSY:
        return lossy_captioner()
    if level not in LEVELS:
        raise InputError(f"unknown caption level {level!r}; valid: {', '.join((*LEVELS, LOSSY))}")

    def caption(scene: Scene, rng: random.Random) -> str:
        return caption_for_level(scene, level, rng, shuffle=shuffle)

    return caption


def lossy_captioner(object_keep: float = 0.7, relation_keep: float = 0.25) -> CaptionFn:
    """Accurate but lossy captions, like a real LVLM's: each object kept with p `object_keep` (at least
    one), with its colour and size; each relation between kept objects kept with p `relation_keep`."""
    for name, value in (("object_keep", object_keep), ("relation_keep", relation_keep)):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{name} must be in [0, 1], got {value!r}")

    def caption(scene: Scene, rng: random.Random) -> str:
        truth = scene_facts(scene)
        kept = [s for s in scene.shapes if rng.random() < object_keep] or [rng.choice(scene.shapes)]
        attributes = frozenset(a for a in truth.attributes if a[0] in kept)
        relations = frozenset(
            r for r in sorted(truth.relations) if r[0] in kept and r[2] in kept and rng.random() < relation_keep
        )
        return write_caption(Facts(frozenset(kept), attributes, relations), None, kept)

    return caption


def _rows(
    scenes: Sequence[Scene],
    image_size: int,
    reward_image_size: int | None,
    in_gallery: bool,
    prompt: str,
) -> dict[str, list[Any]]:
    if not scenes:
        raise InputError("no scenes given: a dataset needs at least one scene")
    columns: dict[str, list[Any]] = {
        "prompt": [caption_messages(prompt) for _ in scenes],
        "image": [render_scene(scene, image_size) for scene in scenes],
        "scene_id": [scene.id for scene in scenes],
    }
    if in_gallery:
        columns["source_id"] = [scene.id for scene in scenes]
    elif reward_image_size is not None:
        columns["source_image"] = [render_scene(scene, reward_image_size) for scene in scenes]
    return columns


def grpo_dataset(
    scenes: Sequence[Scene],
    image_size: int = 84,
    reward_image_size: int | None = 128,
    in_gallery: bool = False,
    prompt: str = PROMPT,
):
    """A `datasets.Dataset` of captioning prompts for GRPOTrainer.

    in_gallery: the scenes are items of the reward's gallery (`source_id` column). Otherwise the reward
    embeds `source_image` (rendered at `reward_image_size`, the gallery's resolution) or, when that is
    None, the policy's own `image`.
    """
    from datasets import Dataset

    return Dataset.from_dict(_rows(scenes, image_size, reward_image_size, in_gallery, prompt))


def sft_dataset(
    scenes: Sequence[Scene],
    caption: str | CaptionFn = "complete",
    image_size: int = 84,
    seed: int = 0,
    epochs: int = 1,
    prompt: str = PROMPT,
):
    """A `datasets.Dataset` of prompt + completion rows for SFTTrainer.

    caption: a level name or a function (scene, rng) -> caption; with `epochs` > 1 each scene appears
    once per epoch with a fresh caption draw (rng seeded by seed, epoch and scene id).
    """
    from datasets import Dataset

    captioner = level_captioner(caption) if isinstance(caption, str) else caption
    if not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a positive int, got {epochs!r}")
    columns = _rows(scenes, image_size, None, False, prompt)
    targets = []
    for epoch in range(epochs):
        for scene in scenes:
            rng = random.Random(stable_seed("cim.train.sft", seed, epoch, scene.id))
            targets.append([{"role": "assistant", "content": captioner(scene, rng)}])
    columns = {name: values * epochs for name, values in columns.items()}
    columns["completion"] = targets
    return Dataset.from_dict(columns)


def jsonl_grpo_dataset(path: str | Path, prompt: str = PROMPT):
    """GRPO prompts from a JSONL of {"id", "image": path (relative to the file), optional "source_id"}.

    Images stay paths in the file and decode lazily (a `datasets.Image` column). With "source_id" the
    reward looks the source up in its gallery (as the release does); otherwise it embeds the image.
    """
    from datasets import Dataset
    from datasets import Image as ImageFeature

    path = Path(path)
    columns: dict[str, list[Any]] = {"prompt": [], "image": [], "id": []}
    source_ids: list[str | None] = []
    for line, row in read_jsonl(path):
        if not isinstance(row.get("id"), str) or not isinstance(row.get("image"), str):
            raise InputError('needs string fields "id" and "image"', source=str(path), line=line)
        image = (path.parent / row["image"]).resolve()
        if not image.is_file():
            raise InputError(f"image not found: {image}", source=str(path), line=line)
        columns["prompt"].append(caption_messages(prompt))
        columns["image"].append(str(image))
        columns["id"].append(row["id"])
        source_ids.append(row.get("source_id"))
    if not columns["id"]:
        raise InputError("no rows", source=str(path))
    if any(s is not None for s in source_ids):
        if not all(isinstance(s, str) for s in source_ids):
            raise InputError('"source_id" must be given on every row or on none', source=str(path))
        columns["source_id"] = source_ids
    return Dataset.from_dict(columns).cast_column("image", ImageFeature())
