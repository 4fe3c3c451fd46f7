"""What GRPO will follow: within-group correlation of the reward with caption quality on the base's own samples.

For each VAL scene, the tiny base captioner (`cim.train.shapes_pipeline.default_base_captioner`) samples a
group of 8 captions at temperature 1, as GRPO does. Per group: Spearman between each reward component and
the caption's fact F1, object recall and relation-QA accuracy, averaged over groups, for four reward options
({global, grid2 pooling} × {uncentred, centred image embeddings}; 20k shapes galleries, clean mode, K = 3,
β = 1). The reward options of the training recipe are chosen here, on VAL, before any RL.

    .venv/bin/python experiments/group_signal.py [--scenes 100] [--group 8] [--out experiments/results]

Writes group_signal.json and group_signal.png to --out; the headline JSON is the last line of stdout.
The test split is never used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from validation_study import METRICS, OPTIONS, Scorers, group_stats, rnd  # noqa: E402

from cim.eval.text_stats import words  # noqa: E402
from cim.shapes import caption_scores, render_scene, split_scenes  # noqa: E402
from cim.train.captioning import generate_captions, load_policy  # noqa: E402
from cim.train.shapes_pipeline import default_base_captioner  # noqa: E402

TARGETS = ("all_f1", "object_recall", "relation_qa")


def sample_groups(model_dir: Path, scenes: list, group: int, seed: int) -> list[str]:
    """`group` sampled captions per scene (temperature 1, like GRPO's rollouts), scene-major."""
    model, processor = load_policy(model_dir)
    images = [render_scene(scene, 84) for scene in scenes for _ in range(group)]
    torch.manual_seed(seed)
    return generate_captions(model, processor, images, max_new_tokens=96, do_sample=True, temperature=1.0)


def caption_truth(scene, caption: str) -> dict[str, float]:
    scores = caption_scores(caption, scene)
    return {name: scores[name] for name in ("all_f1", "object_recall", "object_precision", "relation_qa")} | {
        "words": len(words(caption))}  # fmt: skip


def plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TARGETS), figsize=(13, 4), sharey=True)
    x, width = np.arange(len(OPTIONS)), 0.25
    for ax, target in zip(axes, TARGETS):
        for i, metric in enumerate(METRICS):
            stats = [result["options"][o][target][metric] for o in OPTIONS]
            ax.bar(x + (i - 1) * width, [s["spearman_mean"] or 0 for s in stats], width,
                   yerr=[2 * (s["spearman_se"] or 0) for s in stats], capsize=3, label=metric.upper())
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, list(OPTIONS), rotation=20, fontsize=8)
        ax.set_title(f"vs {target}", fontsize=10)
    axes[0].set_ylabel("mean within-group Spearman (±2 SE)")
    axes[0].legend()
    fig.suptitle(f"base captioner's own samples: {result['scenes']} VAL scenes × {result['group']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "group_signal.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    start = time.perf_counter()
    base = default_base_captioner()
    scenes = split_scenes("val", args.scenes)
    captions = sample_groups(base, scenes, args.group, args.seed)
    owners = [scene for scene in scenes for _ in range(args.group)]
    truth = [caption_truth(scene, caption) for scene, caption in zip(owners, captions)]
    columns = {name: np.array([t[name] for t in truth]) for name in truth[0]}
    groups = [np.arange(i * args.group, (i + 1) * args.group) for i in range(len(scenes))]
    sources = [render_scene(scene, 128) for scene in owners]
    scorers = Scorers()
    options: dict[str, Any] = {}
    for option in OPTIONS:
        scores = scorers.score(option, captions, sources)
        options[option] = {target: {m: group_stats(scores[m], columns[target], groups) for m in METRICS} for target in TARGETS}
    best = max(OPTIONS, key=lambda o: options[o]["all_f1"]["reward"]["spearman_mean"] or -1)
    result = {
        "experiment": "group_signal", "split": "val", "scenes": len(scenes), "group": args.group, "base": str(base),
        "samples": {name: rnd(float(values.mean())) for name, values in columns.items()},
        "options": options, "best_option_by_reward_vs_f1": best, "elapsed_s": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    headline = {
        "experiment": "group_signal", "best_option": best, "samples": result["samples"],
        "reward_vs_f1": {o: options[o]["all_f1"]["reward"]["spearman_mean"] for o in OPTIONS},
        "reward_vs_object_recall": {o: options[o]["object_recall"]["reward"]["spearman_mean"] for o in OPTIONS},
        "reward_vs_relation_qa": {o: options[o]["relation_qa"]["reward"]["spearman_mean"] for o in OPTIONS},
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "group_signal.json").write_text(json.dumps(result | {"headline": headline}, indent=2))
    plot(result, args.out)
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
