"""The main job on the embedded default: the shapes gallery, a reward sanity check, the tiny base
captioner, CIM-GRPO, and a before/after evaluation on held-out SHAPES-500 scenes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from cim.eval.results import Evaluation
from cim.gallery.named import BuildProgress, resolve_gallery
from cim.io import write_json
from cim.reward.score_file import score_file
from cim.reward.scorer import CIMScorer
from cim.shapes.grammar import LEVELS


def ordering_checks(summaries: dict[str, dict[str, Any]]) -> tuple[bool, list[str]]:
    """Is each level's mean reward above the next one's by more than 2 standard errors of the gap?"""
    lines, ordered = [], True
    for upper, lower in zip(LEVELS, LEVELS[1:]):
        a, b = summaries[upper], summaries[lower]
        gap = a["reward_mean"] - b["reward_mean"]
        se = math.hypot(a["reward_se"], b["reward_se"])
        passed = gap > 2 * se
        ordered &= passed
        lines.append(f"{upper} > {lower}: gap {gap:+.4f}, {gap / se:.1f} standard errors {'✓' if passed else '✗'}")
    return ordered, lines


def check_reward_levels(scorer: CIMScorer, workdir: Path, test_scenes: int | None = None) -> dict[str, Any]:
    """Score the four SHAPES-500 caption levels (or the first `test_scenes`); is the reward ordered?"""
    from cim.shapes import export_split

    summaries = {}
    for level in LEVELS:
        captions = export_split("test", level, workdir / "shapes-500" / level, size=128, n=test_scenes)
        summaries[level] = score_file(scorer, captions, workdir / "scores" / f"{level}.jsonl")
    ordered, checks = ordering_checks(summaries)
    return {"summaries": summaries, "checks": checks, "ordered": ordered}


DEMO_METRICS = (
    "object_precision", "object_recall", "object_f1", "attribute_f1", "relation_precision", "relation_recall",
    "relation_f1", "relation_qa", "relation_qa_paper", "reward", "qir", "grc", "tokens", "repetition",
)  # fmt: skip


def before_after(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Rows of the demo's table: each metric for the base and the trained captioner, with the paired difference."""
    (base, trained), comparison = evaluation.files.values(), evaluation.comparisons[0].metrics
    return [
        {"metric": m, "base": base[m].mean, "cim": trained[m].mean} | comparison[m].model_dump(include={"difference", "low", "high"})
        for m in DEMO_METRICS
        if m in base and m in comparison
    ]


DEMO_RECIPE = "shapes-tiny-plus"
"""The demo trains with CIM+ (chosen on VAL: experiments/cim_plus.py); `shapes-tiny` is the paper's reward."""
DEMO_SETTINGS = ("gallery=shapes-5000-grid2", "grpo.max_steps=50")
"""What the demo changes in its recipe to finish in 15 minutes on 2 cores: a 5,000-scene gallery (built in ~2.5
minutes, the experiments' 20,000 take ~10) and 50 GRPO steps of the recipe's 8 prompts × 16 samples (the
experiments run 150). Of three ways to spend the same 6,400 samples (100 steps of 4 × 16, 50 of 8 × 16, 100 of
8 × 8), this one was chosen on VAL (experiments/demo_settings.py): the only one that kept object precision within
a point of the base's. `--set` overrides either; `full=True` (`cim demo --full`) runs the recipe as it is."""


def policy_threads(overrides: Sequence[str], run: Path) -> list[str]:
    """The demo's `grpo.threads` override: none when `overrides` set it; the run's own when it is being resumed;
    else two threads if the machine is quiet now, one if anything keeps a core busy (`cim.threads`)."""
    from cim.threads import policy_threads_for_now

    if any(o.startswith("grpo.threads=") for o in overrides):
        return []
    saved = run / "recipe.yaml"
    threads = yaml.safe_load(saved.read_text())["grpo"]["threads"] if saved.is_file() else policy_threads_for_now()
    return [f"grpo.threads={threads}"]


def run_demo(
    workdir: Path,
    overrides: Sequence[str] = (),
    base_overrides: Sequence[str] = (),
    test_scenes: int | None = None,
    progress: Callable[[str], None] | None = None,
    build_progress: BuildProgress | None = None,
    recipe_name: str = DEMO_RECIPE,
    full: bool = False,
    train_base: bool = False,
) -> dict[str, Any]:
    """A GRPO recipe (CIM+ by default) end to end; `overrides` apply to it after DEMO_SETTINGS (none of those
    with `full`), `base_overrides` to the base's SFT. The base captioner is the bundled one unless `train_base`
    or `base_overrides` ask for another.

    The policy's threads follow the machine (`policy_threads`) unless `overrides` set `grpo.threads`.
    `progress` hears each stage's name, `build_progress` the gallery build's (stage, done, total).
    """
    from cim.eval.evaluate import evaluate
    from cim.train.recipe import load_recipe
    from cim.train.run import reward_scorer
    from cim.train.shapes_pipeline import (
        BUNDLED_BASE,
        default_base_captioner,
        ensure_grpo,
        write_split_captions,
    )

    say = progress or (lambda _: None)
    workdir = Path(workdir)
    overrides = [*(() if full else DEMO_SETTINGS), *overrides]
    recipe = load_recipe(recipe_name, overrides)
    say(f"gallery {recipe.gallery} (built once, then cached)")
    resolve_gallery(recipe.gallery, build_progress)
    scorer = reward_scorer(recipe)
    say("reward check: SHAPES-500 caption levels")
    levels = check_reward_levels(scorer, workdir, test_scenes)
    base = default_base_captioner(base_overrides, bundled=not train_base)
    say(f"base captioner: {'bundled with cim' if base == BUNDLED_BASE else 'SFT on complete, then on lossy captions'} ({base})")
    overrides = [*overrides, *policy_threads(overrides, workdir / "grpo")]
    recipe = load_recipe(recipe_name, [*overrides, f"policy={base}"])
    say(f"GRPO with the {recipe_name} recipe from the base captioner ({recipe.grpo.threads or 'all'} policy threads)")
    trained = ensure_grpo(recipe, workdir / "grpo")
    say("captioning SHAPES-500 with both captioners")
    files = [
        write_split_captions(model, "test", workdir / "captions" / f"{name}.jsonl", test_scenes, recipe.image_size,
                             recipe.reward_image_size, recipe.grpo.threads)
        for name, model in (("base", base), ("cim", trained))
    ]
    evaluation = evaluate(files, scorer, split="test")
    result = {"recipe": recipe_name, "settings": overrides, "levels": levels, "base": str(base), "trained": str(trained), "evaluation": evaluation.model_dump(mode="json"),
              "table": before_after(evaluation)}  # fmt: skip
    write_json(workdir / "results.json", result)
    return result
