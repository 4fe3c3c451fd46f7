"""The paper's Table 1 on the shapes world: base, SFT, CIM and SFT+CIM captioners on SHAPES-500, over seeds.

base     the tiny captioner, accurate but terse (SFT on complete, then on lossy captions; one model, cached)
SFT      base fine-tuned on 500 complete reference captions (recipe shapes-tiny-sft-refs)
CIM      base + GRPO with the CIM reward on the 2,000 unlabelled train images (recipe shapes-tiny)
SFT+CIM  the SFT model + the same GRPO

    .venv/bin/python experiments/main_table.py [--seeds 0 1 2]

Seeds vary the SFT data order and the GRPO sampling; the base is one model (the "pretrained LVLM").
Writes results/main_table.json and results/main_table.png; the headline JSON is the last line of stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from shapes_runs import (  # noqa: E402
    RESULTS,
    base_captioner,
    evaluate_models,
    grpo_recipe,
    grpo_run,
    log,
    seed_summary,
    sft_baseline,
    write_results,
)  # fmt: skip

from cim.train.recipe import load_recipe  # noqa: E402
from cim.train.run import reward_scorer  # noqa: E402

ARMS = ("base", "SFT", "CIM", "SFT+CIM")
HEADLINE_METRICS = ("object_precision", "object_recall", "attribute_f1", "relation_precision", "relation_recall",
                    "relation_qa", "relation_qa_paper", "reward", "tokens")  # fmt: skip


def plot(summary: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("object_precision", "object_recall", "attribute_f1", "relation_f1", "relation_qa", "relation_qa_paper")
    fig, ax = plt.subplots(figsize=(10, 4))
    x, width = np.arange(len(metrics)), 0.2
    for i, arm in enumerate(ARMS):
        ax.bar(x + (i - 1.5) * width, [summary[arm][m]["mean"] for m in metrics], width,
               yerr=[summary[arm][m]["std"] or 0 for m in metrics], capsize=3, label=arm)
    ax.set_xticks(x, metrics)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("SHAPES-500 (mean ± sd over seeds)")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "main_table.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    scorer = reward_scorer(load_recipe("shapes-tiny"))
    base = base_captioner()
    per_seed = []
    for seed in args.seeds:
        sft = sft_baseline(base, seed)
        models = {"base": base, "SFT": sft, "CIM": grpo_run(grpo_recipe(base, seed), f"CIM seed {seed}"),
                  "SFT+CIM": grpo_run(grpo_recipe(sft, seed), f"SFT+CIM seed {seed}")}  # fmt: skip
        per_seed.append(evaluate_models(models, scorer) | {"seed": seed, "models": {k: str(v) for k, v in models.items()}})
        log(f"seed {seed}: " + ", ".join(f"{arm} R_obj {per_seed[-1][arm]['object_recall']:.3f}" for arm in ARMS))
    summary = {arm: seed_summary([run[arm] for run in per_seed]) for arm in ARMS}
    base_mean, sft_mean, cim_mean, sftcim_mean = (summary[arm] for arm in ARMS)  # ARMS order
    checks = {
        "object_recall_gain_relative": round(cim_mean["object_recall"]["mean"] / base_mean["object_recall"]["mean"] - 1, 4),
        "relation_qa_gain_points": round(100 * (cim_mean["relation_qa"]["mean"] - base_mean["relation_qa"]["mean"]), 2),
        "object_precision_drop_points": round(100 * (base_mean["object_precision"]["mean"] - cim_mean["object_precision"]["mean"]), 2),
        "cim_beats_sft_object_recall": cim_mean["object_recall"]["mean"] > sft_mean["object_recall"]["mean"],
        "cim_beats_sft_relation_qa": cim_mean["relation_qa"]["mean"] > sft_mean["relation_qa"]["mean"],
        "sft_cim_beats_sft_object_recall": sftcim_mean["object_recall"]["mean"] > sft_mean["object_recall"]["mean"],
        "sft_cim_beats_sft_relation_qa": sftcim_mean["relation_qa"]["mean"] > sft_mean["relation_qa"]["mean"],
    }  # fmt: skip
    checks["bar_met"] = (checks["object_recall_gain_relative"] >= 0.15 and checks["relation_qa_gain_points"] >= 10
                         and checks["object_precision_drop_points"] <= 2)  # fmt: skip
    plot(summary, RESULTS)
    headline = {"experiment": "main_table", "seeds": args.seeds, "checks": checks,
                "table": {arm: {m: summary[arm][m] for m in HEADLINE_METRICS} for arm in ARMS}}  # fmt: skip
    write_results("main_table", {"summary": summary, "per_seed": per_seed}, headline)


if __name__ == "__main__":
    main()
