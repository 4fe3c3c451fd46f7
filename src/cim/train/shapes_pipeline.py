"""The shapes-world training pipeline shared by `cim demo` and the experiments.

Stages are run folders that are reused when finished and resumed when interrupted: the tiny base
captioner (SFT on complete captions, then on lossy ones), GRPO runs, and greedy captions of a split.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cim.io import atomic_write, read_jsonl
from cim.threads import torch_threads
from cim.train.recipe import GRPORecipe, SFTRecipe, load_recipe
from cim.train.run import FINAL, run_grpo, run_sft

BASE_STAGES = (("complete", "shapes-tiny-sft"), ("lossy", "shapes-tiny-lossy"))
"""The base captioner's SFT stages: (run folder, built-in recipe), each starting from the one before."""


def _finished(out: Path) -> bool:
    return (out / FINAL / "config.json").is_file()


@contextmanager
def _run_lock(out: Path) -> Iterator[None]:
    """Hold OUT.lock while a stage runs: a second process asking for the same run waits, then reuses it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes, or when the process dies
        yield


def ensure_sft(recipe: SFTRecipe, out: Path) -> Path:
    """OUT/final of an SFT run: reused when finished, resumed when interrupted, else trained."""
    with _run_lock(out):
        return out / FINAL if _finished(out) else run_sft(recipe, out, resume=(out / "recipe.yaml").is_file())


def ensure_grpo(recipe: GRPORecipe, out: Path, device: str | None = None) -> Path:
    """OUT/final of a GRPO run: reused when finished, resumed when interrupted, else trained."""
    with _run_lock(out):
        if _finished(out):
            return out / FINAL
        return run_grpo(recipe, out, resume=(out / "recipe.yaml").is_file(), device=device)


KEYLESS_AT_DEFAULT = {"grpo": {"repetition_unit": "token"}}
"""Recipe fields added after runs had been cached: left out of a run's key while at their default, so those runs are
still reused; at any other value they are part of the key."""


def recipe_key(recipe: SFTRecipe | GRPORecipe) -> str:
    """A short hash of a recipe: a cached run is reused only for the same recipe."""
    data = recipe.to_dict()
    for section, fields in KEYLESS_AT_DEFAULT.items():
        for field, default in fields.items():
            if data.get(section, {}).get(field) == default:
                del data[section][field]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def ensure_base_captioner(root: Path, overrides: Sequence[str] = ()) -> Path:
    """The tiny base captioner: first accurate (complete captions), then terse (lossy ones).

    Each stage runs in ROOT/<stage>-<recipe hash>, so a changed recipe trains anew and a finished stage
    is reused by every caller. Returns the last stage's final/ folder.
    """
    policy: Path | None = None
    for stage, name in BASE_STAGES:
        chained = [f"policy={policy}"] if policy is not None else []
        recipe = load_recipe(name, [*overrides, *chained], kind=SFTRecipe)
        policy = ensure_sft(recipe, root / f"{stage}-{recipe_key(recipe)}")
    return policy


BUNDLED_BASE = Path(__file__).resolve().parent.parent / "assets" / "tiny-base"
"""The tiny base captioner shipped with the package; stages.json records the stage recipes it was trained with."""


def bundled_base_captioner(overrides: Sequence[str] = ()) -> Path | None:
    """BUNDLED_BASE when the base stages' recipes (with `overrides`) are the ones it was trained with, else None.

    A chained stage's `policy` (the previous stage's folder) is not compared: it names a path on the machine
    that trained it.
    """
    record = json.loads((BUNDLED_BASE / "stages.json").read_text())["stages"]
    for index, (stage, name) in enumerate(BASE_STAGES):
        settings = load_recipe(name, list(overrides), kind=SFTRecipe).to_dict()
        if index > 0:
            settings.pop("policy")
        if record.get(stage) != {"recipe": name, "settings": settings}:
            return None
    return BUNDLED_BASE


def default_base_captioner(overrides: Sequence[str] = (), bundled: bool = True) -> Path:
    """The base captioner shared by `cim demo` and the experiments: the bundled one when `bundled` and the
    recipes match it (the same weights on every machine), else trained once under $CIM_HOME/models/tiny-base."""
    from cim.paths import cache_dir

    shipped = bundled_base_captioner(overrides) if bundled else None
    return shipped or ensure_base_captioner(cache_dir() / "models" / "tiny-base", overrides)


def write_split_captions(
    model_dir: Path, split: str, out: Path, n: int | None = None, image_size: int = 84, reward_image_size: int = 128,
    threads: int | None = None,
) -> Path:
    """Greedy captions of a shapes split as `cim eval` input: JSONL rows {"id", "caption", "image"}, the
    image rendered at the reward's resolution beside the file (OUT/../images), generated with `threads` torch
    threads (None: as they are). Reused when complete."""
    from cim.shapes import render_scene, split_scenes
    from cim.shapes.export import export_images
    from cim.train.captioning import generate_captions, load_policy

    scenes = split_scenes(split, n)
    if out.is_file() and [row["id"] for _, row in read_jsonl(out)] == [s.id for s in scenes]:
        return out
    model, processor = load_policy(model_dir)
    with torch_threads(threads):
        captions = generate_captions(model, processor, [render_scene(s, image_size) for s in scenes], max_new_tokens=160)
    images = export_images(scenes, out.parent, reward_image_size)
    with atomic_write(out) as stream:
        for scene, caption, image in zip(scenes, captions, images):
            stream.write(json.dumps({"id": scene.id, "caption": caption, "image": image}) + "\n")
    return out
