"""Shared by the shapes training experiments: runs keyed by their recipe, SHAPES-500 evaluation, seed statistics.

Every run lives in runs/experiments/<kind>-<recipe hash>, so experiments that need the same run (e.g. the
main table's CIM seed 0 and the ablation's "both" arm) train it once; an interrupted run resumes.
Checkpoints are not chosen: each run's final weights are evaluated. SHAPES-500 (the test split) is only
captioned here, after training.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cim.eval.evaluate import evaluate
from cim.reward.scorer import CIMScorer
from cim.train.recipe import GRPORecipe, SFTRecipe, load_recipe
from cim.train.shapes_pipeline import (
    default_base_captioner,
    ensure_grpo,
    ensure_sft,
    recipe_key,
    write_split_captions,
)

WORK = Path("runs/experiments")
RESULTS = Path(__file__).parent / "results"
TABLE_METRICS = (
    "object_precision", "object_recall", "object_f1", "attribute_precision", "attribute_recall", "attribute_f1",
    "relation_precision", "relation_recall", "relation_f1", "all_f1", "relation_qa", "relation_qa_paper", "reward", "qir", "grc", "tokens",
    "repetition", "redundant_share",
)  # fmt: skip
_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def base_captioner() -> Path:
    log("base captioner (cached after the first run)")
    return default_base_captioner()


def sft_baseline(base: Path, seed: int) -> Path:
    """The paper's SFT baseline: the base fine-tuned on 500 complete reference captions."""
    recipe = load_recipe("shapes-tiny-sft-refs", [f"policy={base}", f"sft.seed={seed}"], kind=SFTRecipe)
    log(f"SFT baseline, seed {seed}")
    return ensure_sft(recipe, WORK / f"sft-{recipe_key(recipe)}")


def grpo_recipe(policy: Path, seed: int, overrides: Sequence[str] = ()) -> GRPORecipe:
    return load_recipe("shapes-tiny", [f"policy={policy}", f"grpo.seed={seed}", *overrides])


def grpo_run(recipe: GRPORecipe, label: str) -> Path:
    out = WORK / f"grpo-{recipe_key(recipe)}"
    log(f"GRPO {label}: {out}")
    return ensure_grpo(recipe, out)


def split_captions(model: Path, split: str = "test") -> Path:
    """Greedy captions of a split (SHAPES-500 for "test", all 200 scenes for "val") beside the model, with the
    tiny recipe's policy threads."""
    name = "shapes-500.jsonl" if split == "test" else f"shapes-{split}.jsonl"
    return write_split_captions(model, split, model.parent / name, threads=load_recipe("shapes-tiny").grpo.threads)


def evaluate_models(models: dict[str, Path], scorer: CIMScorer, split: str = "test") -> dict[str, dict[str, float]]:
    """Metrics of each model on a split (SHAPES-500 by default; means over its scenes) and paired differences to
    the first."""
    files = {name: split_captions(model, split) for name, model in models.items()}
    log(f"evaluating {', '.join(files)} on {split}")
    result = evaluate(list(files.values()), scorer, split=split, resamples=1000)
    means = {name: {m: result.files[str(path)][m].mean for m in TABLE_METRICS} for name, path in files.items()}
    return means | {"comparisons": [comparison.model_dump(mode="json") for comparison in result.comparisons]}


def seed_summary(per_seed: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation of each metric over seeds."""
    out = {}
    for metric in per_seed[0]:
        values = np.array([run[metric] for run in per_seed], dtype=np.float64)
        out[metric] = {"mean": round(float(values.mean()), 4),
                       "std": round(float(values.std(ddof=1)), 4) if len(values) > 1 else None}  # fmt: skip
    return out


def write_results(name: str, result: dict[str, Any], headline: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result | {"headline": headline}, indent=2))
    print(json.dumps(headline))


def plot_arms(summary: dict[str, dict[str, dict[str, float]]], title: str, path: Path) -> None:
    """Bars of the fact metrics per arm (mean ± sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("object_precision", "object_recall", "attribute_f1", "relation_f1", "relation_qa", "relation_qa_paper")
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(summary)
    x = np.arange(len(metrics))
    for i, (arm, stats) in enumerate(summary.items()):
        ax.bar(x + (i - (len(summary) - 1) / 2) * width, [stats[m]["mean"] for m in metrics], width,
               yerr=[stats[m]["std"] or 0 for m in metrics], capsize=3, label=arm)
    ax.set_xticks(x, metrics)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("SHAPES-500 (mean ± sd over seeds)")
    ax.set_title(title, fontsize=10)
    ax.legend(ncol=len(summary), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_arms(name: str, arms: dict[str, Sequence[str]], seeds: Sequence[int], title: str) -> None:
    """GRPO from the base captioner once per arm (recipe overrides) and seed; SHAPES-500 table against the base."""
    from cim.train.run import reward_scorer

    scorer = reward_scorer(load_recipe("shapes-tiny"))  # every arm is scored by the default reward
    base = base_captioner()
    per_seed = []
    for seed in seeds:
        models = {"base": base} | {arm: grpo_run(grpo_recipe(base, seed, overrides), f"{arm} seed {seed}")
                                   for arm, overrides in arms.items()}  # fmt: skip
        per_seed.append(evaluate_models(models, scorer) | {"seed": seed})
    summary = {arm: seed_summary([run[arm] for run in per_seed]) for arm in ("base", *arms)}
    plot_arms(summary, title, RESULTS / f"{name}.png")
    headline_metrics = ("object_precision", "object_recall", "attribute_f1", "relation_recall", "relation_qa", "relation_qa_paper", "reward", "tokens")
    headline = {"experiment": name, "seeds": list(seeds), "arms": {arm: list(o) for arm, o in arms.items()},
                "table": {arm: {m: summary[arm][m]["mean"] for m in headline_metrics} for arm in summary}}  # fmt: skip
    write_results(name, {"summary": summary, "per_seed": per_seed}, headline)
