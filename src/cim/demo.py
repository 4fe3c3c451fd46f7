"""The main job on the embedded default: the shapes gallery, a reward sanity check, the tiny base
captioner, CIM-GRPO, and a before/after evaluation on held-out SHAPES-500 scenes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def run_demo(
    workdir: Path,
    overrides: Sequence[str] = (),
    base_overrides: Sequence[str] = (),
    test_scenes: int | None = None,
    progress: Callable[[str], None] | None = None,
    build_progress: BuildProgress | None = None,
    recipe_name: str = DEMO_RECIPE,
) -> dict[str, Any]:
    """A GRPO recipe (CIM+ by default) end to end; `overrides` apply to it, `base_overrides` to the base's SFT.

    `progress` hears each stage's name, `build_progress` the gallery build's (stage, done, total).
    """
    from cim.eval.evaluate import evaluate
    from cim.train.recipe import load_recipe
    from cim.train.run import reward_scorer
    from cim.train.shapes_pipeline import default_base_captioner, ensure_grpo, write_split_captions

    say = progress or (lambda _: None)
    workdir = Path(workdir)
    recipe = load_recipe(recipe_name, list(overrides))
    say(f"gallery {recipe.gallery} (built once, then cached)")
    resolve_gallery(recipe.gallery, build_progress)
    scorer = reward_scorer(recipe)
    say("reward check: SHAPES-500 caption levels")
    levels = check_reward_levels(scorer, workdir, test_scenes)
    say("base captioner: SFT on complete, then on lossy captions (cached after the first run)")
    base = default_base_captioner(base_overrides)
    say(f"GRPO with the {recipe_name} recipe from the base captioner")
    trained = ensure_grpo(load_recipe(recipe_name, [*overrides, f"policy={base}"]), workdir / "grpo")
    say("captioning SHAPES-500 with both captioners")
    files = [
        write_split_captions(model, "test", workdir / "captions" / f"{name}.jsonl", test_scenes, recipe.image_size,
                             recipe.reward_image_size, recipe.grpo.threads)
        for name, model in (("base", base), ("cim", trained))
    ]
    evaluation = evaluate(files, scorer, split="test")
    result = {"recipe": recipe_name, "levels": levels, "base": str(base), "trained": str(trained), "evaluation": evaluation.model_dump(mode="json"),
              "table": before_after(evaluation)}  # fmt: skip
    write_json(workdir / "results.json", result)
    return result
